"""The console's person page shows a cross-province quota: the authorizer's earmark and
spendable balance, and the quota with what is drawn and left."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.application.test_console_pages import search, sign_in
from tests.application.test_quota_one_ledger import LATER, earmark, family
from tests.support import Ledger
from tests.support.service import make_server


def test_the_person_page_shows_earmark_spendable_and_the_quota(app):
    ledger = Ledger(app)
    grandparent, grandchild = family(ledger)
    earmark(ledger, grandparent, grandchild)
    ledger.ok("deduct", settlement_id="S-1", patient=grandchild, amount="120.00", category="pharmacy",
              institution="H-1", at=LATER)  # fmt: skip
    api, tokens = make_server(app, follow_views=False)
    with TestClient(api) as client:
        sign_in(client, tokens["auditor_42"])
        page = search(client, grandparent)
        assert page.status_code == 200
        assert "Earmarked 已圈存额度" in page.text and "Spendable 可用余额" in page.text
        quotas = page.text[page.text.index('id="quotas"') :]
        assert all(amount in quotas for amount in ("300.00", "120.00", "180.00")), quotas[:600]
        assert grandchild[:6] + "********" in quotas and grandchild not in page.text

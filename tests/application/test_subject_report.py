"""The data-subject report (PIPL art. 45) in its three forms: the core's JSON, the API (JSON and
HTML, itself logged) and the console page, on the national family with a deduction paid by
relatives; nothing plain in any of them, and the positions prove it complete once sealed."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from infra.core.bootstrap import ledger_of
from tests.support.service import auth, make_server, seed_family


@pytest.fixture
def served(app):
    family = seed_family(app)
    api, tokens = make_server(app, follow_views=False)
    with TestClient(api) as client:
        assert client.post("/v1/seal", headers=auth(tokens["operator"])).status_code == 200
        yield client, tokens, family, app


def ref_of(client, tokens, number):
    found = client.post("/v1/persons/lookup", json={"id_number": number},
                        headers=auth(tokens["auditor"], **{"X-Purpose": "subject request 9"}))  # fmt: skip
    return found.json()["person_ref"]


def test_the_report_holds_everything_about_the_person_and_proves_it_complete(served):
    _, _, family, app = served
    ledger = ledger_of(app)
    child = ledger.reads.by_id_number(family["child"])
    report = ledger.audits.subject_report(child)
    assert report["person"]["person"] == child.masked and report["person"]["balance_fen"] == child.balance_fen
    assert len(report["authorizations"]["authorizers"]) == 3 and report["bindings"]["binders"] == []
    [deduction] = report["deductions"]["as_patient"]
    assert (
        deduction["settlement_id"] == "S-1"
        and sum(p["amount_fen"] for p in deduction["paid_by"]) + deduction["out_of_pocket_fen"]
        == deduction["amount_fen"]
    )
    positions = [e["position"] for e in report["events"]]
    assert report["completeness"] == {
        "positions": positions,
        "events": len(positions),
        "sealed": len(positions),
        "sealed_through": app.recorder.max_notification_id(),
        "checkpoint_sha256": report["completeness"]["checkpoint_sha256"],
        "evidence_ok": True,
        "signatures_checked": False,
    }
    payer = ledger.audits.subject_report(ledger.reads.by_id_number(family["father"]))
    assert [d["settlement_id"] for d in payer["deductions"]["as_payer"]] in ([], ["S-1"])
    assert len(payer["authorizations"]["beneficiaries"]) == 1


def test_the_api_and_the_console_give_the_same_report_and_log_it(served):
    client, tokens, family, _ = served
    ref = ref_of(client, tokens, family["child"])
    headers = auth(tokens["auditor"], **{"X-Purpose": "subject request 9"})
    answer = client.get(f"/v1/persons/{ref}/subject-report", headers=headers)
    assert answer.status_code == 200
    report = answer.json()
    assert report["access"][-1]["endpoint"] == "/v1/persons/{person_ref}/subject-report"  # this read, logged
    html = client.get(f"/v1/persons/{ref}/subject-report", params={"format": "html"}, headers=headers)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert 'id="completeness" data-ok="true"' in html.text
    form = client.get("/console/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    client.post("/console/login", data={"token": tokens["auditor"], "purpose": "subject request 9",
                                        "csrf": csrf.group(1)})  # fmt: skip
    page = client.get(f"/console/persons/{ref}/subject-report")
    assert page.status_code == 200 and 'id="as-patient"' in page.text and "S-1" in page.text
    for text in (answer.text, html.text, page.text):
        assert not any(number in text for number in family.values())
    outside = client.get(f"/v1/persons/{ref}/subject-report", headers=auth(tokens["auditor_42"], **{"X-Purpose": "x"}))
    assert outside.status_code == 403

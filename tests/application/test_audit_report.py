"""The monthly compliance report, cross-checked against a direct, independent fold.

Method: a Beijing family and a Hubei family live through March and early April (bindings on
several channels, a refused bind, unbinds with reasons, mutual-aid deductions, a reversal, and
an event at 2025-03-31T17:00Z that belongs to April in UTC+8). The report's figures are then
compared with a fold written differently (decoded domain events, regions from the aggregates)
and with a few numbers computed by hand.
"""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest

from domain import events as ev
from domain.clock import month_of
from infra.audit import chain
from infra.audit.evidence_store import EvidenceStore
from infra.audit.report import compliance_report, to_csv
from infra.pages.rendering import render_report
from tests.support.families import compliance_story as story
from tests.support.seal import SEAL_SEED


def independent_fold(app, month: str, region: str) -> dict:
    """Decoded domain events; regions from the aggregates as they are now (nobody moved)."""
    regions: dict = {}
    totals: Counter = Counter()
    for notification in app.recorder.select_notifications(1, 10_000):
        event = app.mapper.to_domain_event(notification)
        if isinstance(event, ev.PersonEnrolled):
            regions[event.originator_id] = event.region
        if month_of(event.timestamp) != month or not regions.get(event.originator_id, "").startswith(region):
            continue
        name = type(event).__name__
        if name in ("BindingStarted", "BindingEnded", "BindRejected") and event.role == "binder":
            totals[name] += 1
        if name == "AuthorizationGranted" and event.role == "authorizer":
            totals[name] += 1
        if isinstance(event, ev.DeductionSettled):
            totals["deductions"] += 1
            totals["amount"] += event.amount_fen
            totals["oop"] += event.out_of_pocket_fen
            totals["accounts"] += sum(line.amount_fen for line in event.lines)
        if isinstance(event, ev.AidDebited):
            totals["aid"] += event.amount_fen
        if isinstance(event, ev.DeductionReversed):
            totals["reversals"] += 1
            totals["refunded"] += sum(line.amount_fen for line in event.lines)
    return totals


@pytest.mark.parametrize(
    "month, region", [("2025-03", ""), ("2025-03", "11"), ("2025-03", "42"), ("2025-04", ""), ("2025-02", "")]
)
def test_report_totals_match_an_independent_fold(ledger, month, region):
    story(ledger)
    report = compliance_report(EvidenceStore(ledger.app), month, region)
    expected = independent_fold(ledger.app, month, region)
    assert report["bindings"]["created"] == expected["BindingStarted"]
    assert (
        report["bindings"]["ended"]["count"]
        == sum(report["bindings"]["ended"]["by_reason"].values())
        == expected["BindingEnded"]
    )
    assert report["bindings"]["rejected"]["count"] == expected["BindRejected"]
    assert report["authorizations"]["created"] == expected["AuthorizationGranted"]
    d = report["deductions"]
    assert (d["count"], d["amount_fen"], d["out_of_pocket_fen"], d["paid_from_accounts_fen"]) == (
        expected["deductions"],
        expected["amount"],
        expected["oop"],
        expected["accounts"],
    )
    assert d["paid_from_accounts_fen"] + d["out_of_pocket_fen"] == d["amount_fen"]
    assert report["mutual_aid"]["paid_for_others_fen"] == expected["aid"]
    assert (report["reversals"]["count"], report["reversals"]["amount_fen"]) == (
        expected["reversals"],
        expected["refunded"],
    )
    assert sum(day["deductions"] for day in report["by_day"]) == d["count"]


def test_march_figures_by_hand(ledger):
    story(ledger)
    report = compliance_report(EvidenceStore(ledger.app), "2025-03")
    b = report["bindings"]
    assert (b["created"], b["by_channel"]) == (4, {"alipay": 2, "nhsa_app": 1, "wechat": 1})
    assert b["ended"]["by_reason"] == {"binder_request": 1, "member_request": 1}
    assert b["rejected"]["by_code"] == {"FACE_VERIFICATION_REQUIRED": 1}
    assert b["active_at_month_end"] == 2  # the April binding is not active at the end of March
    assert report["deductions"]["count"] == 4
    assert report["deductions"]["by_category"]["hospital_self_pay"] == {"count": 1, "amount_fen": 500}
    # S-1: grandma 50000 + mother 28000; S-2: father (now the largest) 500;
    # S-3: poor 150000 + rich 10000 (Hubei: most recent first); S-4: poor has 0 left -> rich 1000
    assert report["mutual_aid"] == {
        "paid_for_others_fen": 78_000 + 500 + 160_000 + 1_000,
        "pairs": 5,
        "deductions_with_aid": 4,
    }
    assert report["reversals"] == {"count": 1, "amount_fen": 500}
    assert compliance_report(EvidenceStore(ledger.app), "2025-04")["bindings"]["created"] == 1
    hubei = compliance_report(EvidenceStore(ledger.app), "2025-03", "42")
    assert hubei["deductions"]["amount_fen"] == 161_000 and hubei["bindings"]["created"] == 1


def test_integrity_reflects_the_seal(ledger):
    story(ledger)
    store = EvidenceStore(ledger.app)
    assert compliance_report(store, "2025-03")["integrity"]["verified"] is False  # nothing sealed
    chain.seal(store, "2025-04-01T00:00:00+00:00", seed=SEAL_SEED)
    integrity = compliance_report(store, "2025-03")["integrity"]
    assert integrity["verified"] is True and integrity["sealed_through"] == store.max_position()


def test_csv_and_html_carry_the_same_figures(ledger):
    story(ledger)
    report = compliance_report(EvidenceStore(ledger.app), "2025-03")
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    lookup = {(r["section"], r["key"]): r["value"] for r in rows}
    assert lookup[("deductions", "amount_fen")] == str(report["deductions"]["amount_fen"])
    assert lookup[("bindings.ended.by_reason", "member_request")] == "1"
    assert lookup[("by_day.deductions", "2025-03-10")] == "1"
    page = render_report(report)
    assert page.count("<svg") == 4 and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "FACE_VERIFICATION_REQUIRED" in page and "2025-03" in page


def test_bad_month_and_region_are_invalid_input(ledger):
    from domain.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        compliance_report(EvidenceStore(ledger.app), "2025-13")
    with pytest.raises(InvalidInputError):
        compliance_report(EvidenceStore(ledger.app), "2025-03", "hubei")

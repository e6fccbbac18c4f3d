"""A federation of two provincial ledgers (SQLite files): routing, cross-province quotas and
the relay. Goal: every step lands once on the other ledger, and the money adds up."""

from __future__ import annotations

import hashlib
import json

import pytest

from domain.canonical import canonical_json
from infra.federation.audit import audit_across
from infra.federation.bundle_check import verify_federation_bundle
from infra.federation.ledgers import FederatedLedgers
from infra.federation.relay import Relay
from infra.federation.routing import route_stream
from tests.support import id_number, line
from tests.support.federation import (
    EARLY,
    apply_all,
    family_lines,
    grandchild,
    grandparent,
    person,
    sqlite_federation,
)

LATER = "2026-02-03T09:00:00+08:00"


@pytest.fixture
def ledgers(tmp_path):
    federated = FederatedLedgers(sqlite_federation(tmp_path))
    yield federated
    federated.close()


def test_each_line_goes_to_the_home_ledger_of_its_person(ledgers):
    answers = apply_all(ledgers, family_lines())
    assert [a["province"] for a in answers] == ["42", "42", "11", "42"]
    assert ledgers.province_of(ledgers.ref(grandchild(), "p").id) == "11"
    assert ledgers.ledger("42").app.recorder.select_events(ledgers.ref(grandchild(), "p").id, limit=1) == []


def test_a_line_of_a_province_without_ledger_is_unknown_province(ledgers):
    shanghai = id_number("310101", "19800101", 11)
    answers = list(
        route_stream(
            ledgers,
            [
                line("enroll", person=shanghai, insurance="employee", at=EARLY),
                line("credit", person=shanghai, amount="1.00", source="adjustment"),
            ],
            batch_size=10,
            wait_ms=0,
        )
    )
    assert [a["error"]["code"] for a in answers] == ["UNKNOWN_PROVINCE", "UNKNOWN_PROVINCE"]


def test_enrolling_a_person_already_enrolled_in_another_ledger_is_refused(ledgers):
    apply_all(ledgers, family_lines()[:1])
    again = list(
        route_stream(
            ledgers,
            [line("enroll", person=grandparent(), insurance="employee", region="110105", at=EARLY)],
            batch_size=1,
            wait_ms=0,
        )
    )
    assert again[0]["error"]["code"] == "ALREADY_ENROLLED" and again[0]["province"] == "42"


def test_the_quota_is_pending_until_the_relay_delivers_it(ledgers):
    answers = apply_all(ledgers, family_lines())
    assert answers[-1]["status"] == "pending" and answers[-1]["spendable_fen"] == 70000
    assert person(ledgers, grandchild()).quotas_received == {}
    done = Relay(ledgers).run_once()
    assert (done.delivered, done.refused) == (1, [])
    tie = person(ledgers, grandchild()).quotas_received[answers[-1]["transfer_id"]]
    assert (tie["quota_fen"], tie["province"], tie["remote"]) == (30000, "42", True)
    assert Relay(ledgers).run_once().delivered == 0


def test_a_draw_settles_on_the_donors_ledger_and_a_reversal_undoes_it(ledgers):
    apply_all(ledgers, family_lines())
    relay = Relay(ledgers)
    relay.run_once()
    deduct = line(
        "deduct",
        settlement_id="S-1",
        patient=grandchild(),
        amount="120.00",
        category="pharmacy",
        institution="H-1",
        at=LATER,
    )
    result = apply_all(ledgers, [deduct])[0]
    assert result["province"] == "11" and result["lines"][0]["amount_fen"] == 12000
    assert person(ledgers, grandparent()).balance_fen == 100000  # not settled yet
    relay.run_once()
    donor = person(ledgers, grandparent())
    assert (donor.balance_fen, donor.earmarked_fen, donor.spendable_fen) == (88000, 18000, 70000)
    apply_all(ledgers, [line("reverse", settlement_id="S-1", at=LATER)])
    relay.run_once()
    donor = person(ledgers, grandparent())
    assert (donor.balance_fen, donor.earmarked_fen) == (100000, 30000)


def test_revoke_on_the_donors_ledger_returns_the_unused_quota(ledgers):
    apply_all(ledgers, family_lines())
    relay = Relay(ledgers)
    relay.run_once()
    apply_all(
        ledgers,
        [
            line(
                "deduct",
                settlement_id="S-1",
                patient=grandchild(),
                amount="100.00",
                category="pharmacy",
                institution="H-1",
                at=LATER,
            ),
            line("revoke", authorizer=grandparent(), beneficiary=grandchild(), at=LATER),
        ],
    )
    relay.run_once()  # the end reaches Beijing, the draw and the release reach Hubei
    relay.run_once()
    donor = person(ledgers, grandparent())
    assert (donor.balance_fen, donor.earmarked_fen, donor.spendable_fen) == (90000, 0, 90000)
    assert not any(t["open"] for t in person(ledgers, grandchild()).quotas_received.values())


def test_set_quota_across_ledgers_raises_at_once_and_lowers_through_the_beneficiary(ledgers):
    apply_all(ledgers, family_lines())
    relay = Relay(ledgers)
    relay.run_once()
    fields = {"authorizer": grandparent(), "beneficiary": grandchild(), "at": LATER}
    refused = list(route_stream(ledgers, [line("set-quota", quota="1000.01", **fields)], batch_size=1, wait_ms=0))
    assert refused[0]["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert apply_all(ledgers, [line("set-quota", quota="500.00", **fields)])[0]["earmarked_fen"] == 50000
    relay.run_once()  # the raise reaches Beijing before the deduction
    apply_all(
        ledgers,
        [
            line(
                "deduct",
                settlement_id="S-1",
                patient=grandchild(),
                amount="400.00",
                category="pharmacy",
                institution="H-1",
                at=LATER,
            )
        ],
    )
    relay.run_once()
    below = list(route_stream(ledgers, [line("set-quota", quota="399.99", **fields)], batch_size=1, wait_ms=0))
    assert below[0]["error"]["code"] == "QUOTA_BELOW_USED"
    assert apply_all(ledgers, [line("set-quota", quota="450.00", **fields)])[0]["status"] == "pending"
    relay.run_once()
    relay.run_once()
    donor = person(ledgers, grandparent())
    assert (donor.balance_fen, donor.earmarked_fen) == (60000, 5000)
    tie = next(iter(person(ledgers, grandchild()).quotas_received.values()))
    assert (tie["quota_fen"], tie["drawn_fen"]) == (45000, 40000)


def test_audit_of_a_quota_draw_shows_both_halves_and_the_bundle_proves_both(ledgers):
    apply_all(ledgers, family_lines())
    relay = Relay(ledgers)
    relay.run_once()
    apply_all(ledgers, [line("deduct", settlement_id="S-1", patient=grandchild(), amount="120.00",
                             category="pharmacy", institution="H-1", at=LATER)])  # fmt: skip
    result, _ = audit_across(ledgers, "S-1")
    assert result["verdict"] == "pending" and not result["quota_halves"][0]["settled"]  # relay behind
    relay.run_once()
    for _, ledger in ledgers.all():
        ledger.evidence.seal()
    result, data = audit_across(ledgers, "S-1", bundle=True)
    half = result["quota_halves"][0]
    assert result["verdict"] == "consistent" and result["province"] == "11"
    assert (half["province"], half["settled_fen"]) == ("42", 12000)
    assert [e["type"] for e in half["events"]] == ["QuotaEarmarked", "QuotaDrawSettled"]
    assert data is not None
    checked = verify_federation_bundle(data)
    assert checked["ok"] and checked["verdict"] == "consistent", checked["checks"]
    forged = json.loads(data)
    part = next(p for name, p in forged["parts"].items() if name != "11")
    settled = next(e for e in part["events"] if e["topic"].endswith(":QuotaDrawSettled"))
    settled["state"] = settled["state"].replace('"amount_fen":12000', '"amount_fen":1200')
    body = {k: v for k, v in forged.items() if k != "bundle_sha256"}
    forged["bundle_sha256"] = hashlib.sha256(canonical_json(body)).hexdigest()
    refused = verify_federation_bundle(canonical_json(forged) + b"\n")
    assert not refused["ok"] and [c["check"] for c in refused["checks"] if not c["ok"]] == [
        f"ledger_42:{half['transfer_id']}"
    ]

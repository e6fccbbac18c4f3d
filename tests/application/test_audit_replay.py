"""Replaying recorded deductions from the event store: verdicts, candidates, steps, reversals.

Method: tell a family's story through the ledger's commands, then audit each settlement and
check the replay against the figures a person would compute by hand from the rules in force.
"""

from __future__ import annotations

import pytest

from domain.errors import UnknownSettlementError
from infra.audit.evidence_store import EvidenceStore
from infra.audit.replay import audit_deduction
from tests.support import id_number
from tests.support.families import at, deduct, masked, national_family, record_wrong_split, regional_family


def audit(ledger, settlement_id: str) -> dict:
    return audit_deduction(ledger.app, EvidenceStore(ledger.app), settlement_id)[0]


def test_several_authorizers_largest_balance_first_ties_to_the_earlier_authorization(ledger):
    f = national_family(ledger)
    deduct(ledger, f["child"], "800.00", "S-NAT")
    result = audit(ledger, "S-NAT")
    assert result["verdict"] == "consistent" and result["differences"] == []
    assert result["rule_version"] == "national-2024-12-09"
    assert [(c["person"], c["balance_before_fen"], c["rank"], c["paid_fen"]) for c in result["candidates"]] == [
        (masked(f["child"]), 2_000, 1, 2_000),
        (masked(f["grandma"]), 50_000, 2, 50_000),
        (masked(f["mother"]), 30_000, 3, 28_000),  # tie with father: mother was authorized first
        (masked(f["father"]), 30_000, 4, 0),
    ]
    assert result["candidates"][2]["authorized_at"] == at(2)
    assert (
        result["recorded"]
        == result["replayed"]
        == {
            "lines": [
                {"person": masked(f["child"]), "amount_fen": 2_000},
                {"person": masked(f["grandma"]), "amount_fen": 50_000},
                {"person": masked(f["mother"]), "amount_fen": 28_000},
            ],
            "out_of_pocket_fen": 0,
        }
    )
    assert [(s["remaining_before_fen"], s["paid_fen"]) for s in result["steps"]] == [
        (80_000, 2_000),
        (78_000, 50_000),
        (28_000, 28_000),
        (0, 0),
        (0, 0),
    ]
    assert result["state_before"]["patient"]["balance_fen"] == 2_000
    assert not result["reversed"]
    assert [e["type"] for e in result["evidence"]] == [
        "DeductionSettled",
        "SettlementOpened",
        "AidDebited",
        "AidDebited",
    ]
    assert all(e["hash"] and len(e["hash"]) == 64 for e in result["evidence"])


def test_ties_at_the_same_authorization_time_are_broken_by_aggregate_id(ledger):
    first, second = id_number("110105", "19800101", 51), id_number("110105", "19800101", 53)
    patient = id_number("110105", "20100101", 57)
    for person in (first, second):
        ledger.enroll(person, balance="100.00", at=at(1))
    ledger.enroll(patient, insurance="resident", at=at(1))
    for person in (first, second):
        ledger.ok("authorize", authorizer=person, beneficiary=patient, relationship="child", at=at(2))
    deduct(ledger, patient, "150.00", "S-TIE")
    result = audit(ledger, "S-TIE")
    by_id = sorted((first, second), key=lambda n: str(ledger.person(n).id))
    assert result["verdict"] == "consistent"
    assert [c["person"] for c in result["candidates"][1:]] == [masked(n) for n in by_id]
    assert result["recorded"]["lines"] == [
        {"person": masked(by_id[0]), "amount_fen": 10_000},
        {"person": masked(by_id[1]), "amount_fen": 5_000},
    ]


def test_hubei_replays_most_recently_authorized_first(ledger):
    f = regional_family(ledger, "420102")
    deduct(ledger, f["patient"], "1600.00", "S-HB")
    result = audit(ledger, "S-HB")
    assert result["verdict"] == "consistent"
    assert result["rule_version"].startswith("hubei+")
    assert result["rules"]["order"] == "most_recent_first"
    assert result["recorded"]["lines"] == [
        {"person": masked(f["poor"]), "amount_fen": 150_000},
        {"person": masked(f["rich"]), "amount_fen": 10_000},
    ]
    assert "most recently authorized" in result["candidates"][1]["why"]


def test_shanxi_replays_one_authorizer_and_only_the_balance_above_one_thousand_yuan(ledger):
    f = regional_family(ledger, "140105")
    deduct(ledger, f["patient"], "1200.00", "S-SX")
    result = audit(ledger, "S-SX")
    assert result["verdict"] == "consistent"
    assert result["rule_version"].startswith("shanxi+")
    assert result["recorded"] == {
        "lines": [{"person": masked(f["rich"]), "amount_fen": 100_000}],
        "out_of_pocket_fen": 20_000,
    }
    rich, poor = result["candidates"][1], result["candidates"][2]
    assert (rich["balance_before_fen"], rich["available_fen"]) == (200_000, 100_000)
    assert poor["paid_fen"] == 0 and "one authorizer per settlement" in poor["why"]


def test_reversal_is_shown_with_exact_refunds_and_its_events(ledger):
    f = national_family(ledger)
    deduct(ledger, f["child"], "800.00", "S-REV")
    ledger.ok("reverse", settlement_id="S-REV", reason="wrong patient", at=at(11))
    result = audit(ledger, "S-REV")
    assert result["verdict"] == "consistent" and result["reversed"]
    assert result["reversals"] == [
        {"at": at(11), "reason": "wrong patient", "refunds_exact": True, "refunded": result["recorded"]["lines"]}
    ]
    types = [e["type"] for e in result["evidence"]]
    assert types.count("AidRefunded") == 2 and "DeductionReversed" in types and "SettlementReversed" in types


def test_state_before_ignores_what_happened_after_the_deduction(ledger):
    f = national_family(ledger)
    deduct(ledger, f["child"], "100.00", "S-1")
    ledger.ok("credit", person=f["grandma"], amount="900.00", source="adjustment", at=at(12))
    ledger.ok("revoke", authorizer=f["father"], beneficiary=f["child"], initiated_by="authorizer", at=at(12))
    deduct(ledger, f["child"], "50.00", "S-2", day=13)
    first = audit(ledger, "S-1")
    assert first["verdict"] == "consistent"
    assert [c["balance_before_fen"] for c in first["candidates"]] == [2_000, 50_000, 30_000, 30_000]
    second = audit(ledger, "S-2")
    assert second["verdict"] == "consistent"
    assert len(second["candidates"]) == 3  # the father's authorization had ended


def test_a_recorded_split_that_the_rules_would_not_give_is_a_mismatch(ledger):
    f = record_wrong_split(ledger)
    result = audit(ledger, "S-BAD")
    assert result["verdict"] == "mismatch"
    assert result["replayed"]["lines"][1] == {"person": masked(f["grandma"]), "amount_fen": 50_000}
    assert any("differ from the replay" in d for d in result["differences"])


def test_unknown_settlement_is_refused(ledger):
    national_family(ledger)
    with pytest.raises(UnknownSettlementError):
        audit(ledger, "NOPE")

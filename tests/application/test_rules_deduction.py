"""Deduction stories: the split across accounts, eligibility, presenters, idempotency of
settlement ids, and reversals that refund exactly the accounts that paid."""

from __future__ import annotations

import pytest

from tests.support import Ledger
from tests.support.state import adult, assert_unchanged, event_names, events_of, masked, minor, snapshot

T = "2025-03-10T10:00:00+08:00"


def authorize(
    ledger: Ledger,
    authorizer: str,
    beneficiary: str,
    relationship: str = "child",
    when: str = "2025-03-03T09:00:00+08:00",
) -> None:
    ledger.ok("authorize", authorizer=authorizer, beneficiary=beneficiary, relationship=relationship, at=when)


def deduct(
    ledger: Ledger,
    patient: str,
    amount: str,
    settlement_id: str = "S-1",
    category: str = "pharmacy",
    when: str = T,
    **extra,
) -> dict:
    return ledger.do(
        "deduct",
        settlement_id=settlement_id,
        patient=patient,
        amount=amount,
        category=category,
        institution="Pharmacy 1",
        at=when,
        **extra,
    )


@pytest.fixture
def family(ledger: Ledger):
    """A child with a little money of its own and two employed parents who authorize it."""
    father = ledger.enroll(adult(1), balance="300.00")
    mother = ledger.enroll(adult(2), balance="500.00")
    child = ledger.enroll(minor(20), insurance="resident", balance="20.00")
    authorize(ledger, father, child, when="2025-03-01T09:00:00+08:00")
    authorize(ledger, mother, child, when="2025-03-02T09:00:00+08:00")
    return father, mother, child


def test_patient_pays_first_then_largest_balance_then_out_of_pocket(ledger, family):
    father, mother, child = family
    result = deduct(ledger, child, "1000.00")
    assert result["ok"], result
    assert result["lines"] == [
        {"person": masked(child), "amount_fen": 2_000},
        {"person": masked(mother), "amount_fen": 50_000},
        {"person": masked(father), "amount_fen": 30_000},
    ]
    assert result["out_of_pocket_fen"] == 18_000
    assert result["duplicate"] is False and result["rule_version"] == "national-2024-12-09"
    assert [ledger.balance(p) for p in (father, mother, child)] == [0, 0, 0]
    assert event_names(ledger, mother)[-1] == "AidDebited"


def test_small_deduction_touches_only_the_patient(ledger, family):
    father, mother, child = family
    result = deduct(ledger, child, "15.50")
    assert result["lines"] == [{"person": masked(child), "amount_fen": 1_550}]
    assert (ledger.balance(child), ledger.balance(mother), ledger.balance(father)) == (450, 50_000, 30_000)


def test_equal_balances_pay_in_order_of_authorization(ledger):
    late, early = ledger.enroll(adult(1), balance="100.00"), ledger.enroll(adult(2), balance="100.00")
    child = ledger.enroll(minor(20), insurance="resident")
    authorize(ledger, early, child, when="2025-03-01T09:00:00+08:00")
    authorize(ledger, late, child, when="2025-03-05T09:00:00+08:00")
    result = deduct(ledger, child, "150.00")
    assert [line["person"] for line in result["lines"]] == [masked(early), masked(late)]


def test_hubei_patient_is_paid_for_by_the_most_recent_authorizer_first(ledger):
    rich = ledger.enroll(adult(1, region="420102"), balance="900.00")
    recent = ledger.enroll(adult(2, region="420102"), balance="50.00")
    child = ledger.enroll(minor(20, region="420102"), insurance="resident")
    authorize(ledger, rich, child, when="2025-03-01T09:00:00+08:00")
    authorize(ledger, recent, child, when="2025-03-05T09:00:00+08:00")
    result = deduct(ledger, child, "80.00")
    assert result["rule_version"] == "hubei+national-2024-12-09"
    assert result["lines"] == [
        {"person": masked(recent), "amount_fen": 5_000},
        {"person": masked(rich), "amount_fen": 3_000},
    ]


def test_shanxi_shares_only_above_one_thousand_yuan_from_one_authorizer(ledger):
    first = ledger.enroll(adult(1, region="140105"), balance="1300.00")
    second = ledger.enroll(adult(2, region="140105"), balance="1200.00")
    child = ledger.enroll(minor(20, region="140105"), insurance="resident")
    authorize(ledger, first, child)
    authorize(ledger, second, child)
    result = deduct(ledger, child, "500.00")
    assert result["rule_version"] == "shanxi+national-2024-12-09"
    assert result["lines"] == [{"person": masked(first), "amount_fen": 30_000}]
    assert result["out_of_pocket_fen"] == 20_000
    assert ledger.balance(second) == 120_000


def test_patient_without_money_or_authorizers_pays_out_of_pocket(ledger):
    alone = ledger.enroll(minor(20), insurance="resident")
    result = deduct(ledger, alone, "12.34")
    assert result["lines"] == [] and result["out_of_pocket_fen"] == 1_234


def test_suspended_authorizer_does_not_pay(ledger, family):
    father, mother, child = family
    ledger.ok("suspend", person=mother, at="2025-03-05T09:00:00+08:00")
    result = deduct(ledger, child, "100.00")
    assert [line["person"] for line in result["lines"]] == [masked(child), masked(father)]
    assert ledger.balance(mother) == 50_000


@pytest.mark.parametrize("category", ["fitness", "wellness", "public_health"])
def test_rejects_ineligible_categories_and_moves_no_money(ledger, family, category):
    before = snapshot(ledger, *family)
    result = deduct(ledger, family[2], "10.00", category=category)
    assert result["error"]["code"] == "CATEGORY_NOT_ELIGIBLE"
    assert result["error"]["rule"] == "spending.eligible_categories"
    assert_unchanged(ledger, before)
    assert deduct(ledger, family[2], "10.00", settlement_id="S-1")["ok"]  # the id was not consumed


@pytest.mark.parametrize("category", ["hospital_self_pay", "pharmacy", "resident_premium"])
def test_accepts_eligible_categories(ledger, family, category):
    assert deduct(ledger, family[2], "10.00", category=category)["ok"]


def test_rejects_deduction_for_a_suspended_patient(ledger, family):
    ledger.ok("suspend", person=family[2], at="2025-03-05T09:00:00+08:00")
    before = snapshot(ledger, *family)
    assert deduct(ledger, family[2], "10.00")["error"]["code"] == "PERSON_NOT_ACTIVE"
    assert_unchanged(ledger, before)


def test_rejects_presenter_without_an_active_binding(ledger, family):
    father, _mother, child = family
    before = snapshot(ledger, *family)
    result = deduct(ledger, child, "10.00", presented_by=father)
    assert result["error"]["code"] == "PRESENTER_NOT_BOUND"
    assert_unchanged(ledger, before)


def test_bound_presenter_may_present_until_unbound(ledger, family):
    father, _mother, child = family
    ledger.ok(
        "bind",
        binder=father,
        member=child,
        relationship="child",
        channel="alipay",
        verification="documents",
        at="2025-03-04T09:00:00+08:00",
    )
    assert deduct(ledger, child, "10.00", presented_by=father)["ok"]
    assert events_of(ledger, child)[-1].presented_by == ledger.app.person_ref(father, "p")[0]
    ledger.ok("unbind", binder=father, member=child, reason="binder_request", at="2025-03-11T09:00:00+08:00")
    result = deduct(ledger, child, "10.00", settlement_id="S-2", presented_by=father, when="2025-03-12T09:00:00+08:00")
    assert result["error"]["code"] == "PRESENTER_NOT_BOUND"


def test_binding_the_other_way_round_does_not_let_the_member_present(ledger, family):
    father, _, child = family
    ledger.ok(
        "bind",
        binder=father,
        member=child,
        relationship="child",
        channel="alipay",
        verification="documents",
        at="2025-03-04T09:00:00+08:00",
    )
    assert deduct(ledger, father, "1.00", presented_by=child)["error"]["code"] == "PRESENTER_NOT_BOUND"


def test_inactive_patient_is_reported_before_presenter_and_category(ledger, family):
    father, _, child = family
    ledger.ok("suspend", person=child, at="2025-03-05T09:00:00+08:00")
    result = deduct(ledger, child, "10.00", category="fitness", presented_by=father)
    assert result["error"]["code"] == "PERSON_NOT_ACTIVE"


def test_unbound_presenter_is_reported_before_an_ineligible_category(ledger, family):
    father, _, child = family
    result = deduct(ledger, child, "10.00", category="fitness", presented_by=father)
    assert result["error"]["code"] == "PRESENTER_NOT_BOUND"


# --- idempotency ---------------------------------------------------------------------------
def test_resubmitted_settlement_is_a_duplicate_and_moves_no_money_even_at_another_time(ledger, family):
    first = deduct(ledger, family[2], "400.00")
    before = snapshot(ledger, *family)
    again = deduct(ledger, family[2], "400.00", when="2025-03-11T18:00:00+08:00")
    assert again["ok"] and again["duplicate"] is True
    assert {k: v for k, v in again.items() if k != "duplicate"} == {k: v for k, v in first.items() if k != "duplicate"}
    assert_unchanged(ledger, before)


@pytest.mark.parametrize("change", [{"amount": "400.01"}, {"category": "hospital_self_pay"}, {"institution": "Other"}])
def test_same_settlement_id_with_different_content_is_a_conflict(ledger, family, change):
    deduct(ledger, family[2], "400.00")
    before = snapshot(ledger, *family)
    fields = {
        "settlement_id": "S-1",
        "patient": family[2],
        "amount": "400.00",
        "category": "pharmacy",
        "institution": "Pharmacy 1",
        "at": T,
    } | change
    result = ledger.do("deduct", **fields)
    assert result["error"]["code"] == "SETTLEMENT_CONFLICT" and result["error"]["field"] == "settlement_id"
    assert_unchanged(ledger, before)


def test_same_settlement_id_for_another_patient_is_a_conflict(ledger, family):
    father, _mother, child = family
    deduct(ledger, child, "1.00")
    before = snapshot(ledger, *family)
    assert deduct(ledger, father, "1.00")["error"]["code"] == "SETTLEMENT_CONFLICT"
    assert_unchanged(ledger, before)


# --- reversals -----------------------------------------------------------------------------
def test_reversal_refunds_exactly_the_accounts_that_paid(ledger, family):
    before = {p: ledger.balance(p) for p in family}
    deduct(ledger, family[2], "600.00")
    result = ledger.ok("reverse", settlement_id="S-1", reason="disputed", at="2025-03-12T09:00:00+08:00")
    assert result["refunded_fen"] == 60_000
    assert {p: ledger.balance(p) for p in family} == before
    assert event_names(ledger, family[0])[-1] == "AidRefunded"
    assert "DeductionSettled" in event_names(ledger, family[2])  # history kept, not edited


def test_reversal_refunds_an_authorizer_even_after_the_authorization_ended(ledger, family):
    _father, mother, child = family
    deduct(ledger, child, "600.00")
    ledger.ok("revoke", authorizer=mother, beneficiary=child, at="2025-03-11T09:00:00+08:00")
    ledger.ok("reverse", settlement_id="S-1", at="2025-03-12T09:00:00+08:00")
    assert ledger.balance(mother) == 50_000


def test_rejects_reversing_twice(ledger, family):
    deduct(ledger, family[2], "600.00")
    ledger.ok("reverse", settlement_id="S-1", at="2025-03-12T09:00:00+08:00")
    before = snapshot(ledger, *family)
    ledger.refused("reverse", "ALREADY_REVERSED", settlement_id="S-1", at="2025-03-13T09:00:00+08:00")
    assert_unchanged(ledger, before)


def test_rejects_reversing_an_unknown_settlement(ledger, family):
    before = snapshot(ledger, *family)
    result = ledger.refused("reverse", "UNKNOWN_SETTLEMENT", settlement_id="NOPE")
    assert result["error"]["field"] == "settlement_id"
    assert_unchanged(ledger, before)


def test_resubmitting_a_reversed_settlement_moves_no_money(ledger, family):
    deduct(ledger, family[2], "600.00")
    ledger.ok("reverse", settlement_id="S-1", at="2025-03-12T09:00:00+08:00")
    before = snapshot(ledger, *family)
    again = deduct(ledger, family[2], "600.00")
    assert again["duplicate"] is True and again["reversed"] is True
    assert_unchanged(ledger, before)


def test_credit_to_a_resident_as_a_monthly_contribution_is_refused(ledger):
    resident = ledger.enroll(minor(20), insurance="resident")
    before = snapshot(ledger, resident)
    ledger.refused("credit", "NO_PERSONAL_ACCOUNT", person=resident, amount="10.00", source="monthly_contribution")
    assert_unchanged(ledger, before)

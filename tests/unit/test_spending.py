"""The pure allocation of a deduction across the patient's and the authorizers' accounts."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from domain.errors import LedgerInvariantError
from domain.rules.model import SpendingRules
from domain.spending import Account, allocate

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
NATIONAL = SpendingRules()
HUBEI = SpendingRules(order="most_recent_first")
SHANXI = SpendingRules(shareable_above_fen=100_000, single_authorizer=True)


def patient(balance_fen: int) -> Account:
    return Account(uuid.UUID(int=1), "patient", balance_fen, is_patient=True)


def authorizer(n: int, balance_fen: int, day: int = 1, active: bool = True) -> Account:
    return Account(uuid.UUID(int=100 + n), f"auth{n}", balance_fen, False, T0 + timedelta(days=day), active)


def paid(allocation) -> list[tuple[str, int]]:
    return [(masked, amount) for _, masked, amount in allocation.lines]


def test_patient_own_account_pays_first():
    result = allocate(5_000, patient(3_000), [authorizer(1, 9_000)], NATIONAL)
    assert paid(result) == [("patient", 3_000), ("auth1", 2_000)]
    assert result.out_of_pocket_fen == 0


def test_own_account_last_when_the_rules_say_so():
    rules = SpendingRules(own_account_first=False)
    result = allocate(5_000, patient(3_000), [authorizer(1, 4_000)], rules)
    assert paid(result) == [("auth1", 4_000), ("patient", 1_000)]


def test_authorizers_pay_from_largest_balance_to_smallest():
    result = allocate(10_000, patient(0), [authorizer(1, 2_000), authorizer(2, 7_000), authorizer(3, 4_000)], NATIONAL)
    assert paid(result) == [("auth2", 7_000), ("auth3", 3_000)]


def test_equal_balances_go_to_the_earlier_authorization_first():
    later, earlier = authorizer(1, 5_000, day=9), authorizer(2, 5_000, day=2)
    result = allocate(6_000, patient(0), [later, earlier], NATIONAL)
    assert paid(result) == [("auth2", 5_000), ("auth1", 1_000)]


def test_equal_balances_and_times_go_to_the_smaller_id():
    first, second = authorizer(1, 5_000, day=3), authorizer(2, 5_000, day=3)
    result = allocate(6_000, patient(0), [second, first], NATIONAL)
    assert paid(result) == [("auth1", 5_000), ("auth2", 1_000)]


def test_what_nobody_can_cover_is_out_of_pocket():
    result = allocate(10_000, patient(1_000), [authorizer(1, 2_500)], NATIONAL)
    assert paid(result) == [("patient", 1_000), ("auth1", 2_500)]
    assert result.out_of_pocket_fen == 6_500


def test_empty_accounts_are_not_listed_as_payers():
    result = allocate(500, patient(0), [authorizer(1, 0), authorizer(2, 100)], NATIONAL)
    assert paid(result) == [("auth2", 100)]
    assert result.out_of_pocket_fen == 400


def test_inactive_authorizers_never_pay():
    result = allocate(500, patient(0), [authorizer(1, 10_000, active=False)], NATIONAL)
    assert result.lines == ()
    assert result.out_of_pocket_fen == 500
    assert [c.rank for c in result.candidates] == [1, None]


def test_hubei_order_uses_the_most_recently_authorized_first_whatever_the_balance():
    old_rich, new_poor = authorizer(1, 90_000, day=1), authorizer(2, 1_000, day=20)
    result = allocate(5_000, patient(0), [old_rich, new_poor], HUBEI)
    assert paid(result) == [("auth2", 1_000), ("auth1", 4_000)]


def test_shanxi_shares_only_the_balance_above_one_thousand_yuan():
    result = allocate(50_000, patient(0), [authorizer(1, 130_000)], SHANXI)
    assert paid(result) == [("auth1", 30_000)]
    assert result.out_of_pocket_fen == 20_000


def test_shanxi_patient_own_account_is_not_held_back():
    result = allocate(500, patient(800), [authorizer(1, 200_000)], SHANXI)
    assert paid(result) == [("patient", 500)]


def test_shanxi_uses_a_single_authorizer_per_settlement():
    result = allocate(80_000, patient(0), [authorizer(1, 150_000), authorizer(2, 140_000)], SHANXI)
    assert paid(result) == [("auth1", 50_000)]
    assert result.out_of_pocket_fen == 30_000


def test_shanxi_skips_an_authorizer_with_nothing_shareable_for_the_next():
    accounts = [authorizer(1, 99_000, day=1), authorizer(2, 98_000, day=2), authorizer(3, 120_000, day=3)]
    result = allocate(10_000, patient(0), accounts, SHANXI)
    assert paid(result) == [("auth3", 10_000)]


def test_lines_never_exceed_balances_and_sum_with_out_of_pocket_to_the_amount():
    accounts = [authorizer(n, 1_000 * n) for n in range(1, 6)]
    for amount in (1, 999, 4_000, 15_000, 16_000, 99_999):
        result = allocate(amount, patient(1_000), accounts, NATIONAL)
        assert sum(a for _, _, a in result.lines) + result.out_of_pocket_fen == amount
        balances = {a.person: a.balance_fen for a in [patient(1_000), *accounts]}
        assert all(0 < a <= balances[p] for p, _, a in result.lines)


@pytest.mark.parametrize("amount", [0, -1])
def test_allocation_of_a_non_positive_amount_is_a_programmer_error(amount):
    with pytest.raises(LedgerInvariantError):
        allocate(amount, patient(100), [], NATIONAL)

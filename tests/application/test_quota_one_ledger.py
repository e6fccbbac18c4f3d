"""Cross-province mutual aid through an earmarked quota, both people in one ledger: the two
halves of every step are recorded in one save. Stories under the 2026-01-09 national rules."""

from __future__ import annotations

from tests.support import Ledger
from tests.support.state import adult, minor

WHEN = "2026-02-02T09:00:00+08:00"
LATER = "2026-02-03T09:00:00+08:00"
EARLY = "2025-06-01T09:00:00+08:00"


def family(ledger: Ledger) -> tuple[str, str]:
    """A Hubei grandparent with 1,000.00 yuan and a Beijing grandchild (resident-insured)."""
    grandparent = ledger.enroll(adult(1, region="420102", birth="19550101"), balance="1000.00", at=EARLY)
    grandchild = ledger.enroll(minor(20, region="110105"), insurance="resident", at=EARLY)
    return grandparent, grandchild


def earmark(ledger: Ledger, grandparent: str, grandchild: str, quota: str = "300.00") -> dict:
    return ledger.ok(
        "authorize", authorizer=grandparent, beneficiary=grandchild, relationship="grandchild", quota=quota, at=WHEN
    )


def test_cross_province_authorize_needs_a_quota_under_the_2026_rules(ledger):
    grandparent, grandchild = family(ledger)
    result = ledger.refused(
        "authorize", "INVALID_INPUT", authorizer=grandparent, beneficiary=grandchild, relationship="grandchild", at=WHEN
    )
    assert result["error"]["field"] == "quota"
    assert ledger.person(grandparent).quotas_given == {}


def test_a_quota_within_one_province_is_refused(ledger):
    parent = ledger.enroll(adult(1), balance="100.00", at=EARLY)
    child = ledger.enroll(minor(20), insurance="resident", at=EARLY)
    result = ledger.refused(
        "authorize", "INVALID_INPUT", authorizer=parent, beneficiary=child, relationship="child", quota="10.00", at=WHEN
    )
    assert result["error"]["field"] == "quota"


def test_the_quota_leaves_the_spendable_balance_at_once(ledger):
    grandparent, grandchild = family(ledger)
    result = earmark(ledger, grandparent, grandchild)
    assert (result["quota_fen"], result["earmarked_fen"], result["spendable_fen"]) == (30000, 30000, 70000)
    assert result["status"] == "done"
    donor = ledger.person(grandparent)
    assert (donor.balance_fen, donor.earmarked_fen, donor.spendable_fen) == (100000, 30000, 70000)
    tie = ledger.person(grandchild).quotas_received[result["transfer_id"]]
    assert (tie["quota_fen"], tie["drawn_fen"], tie["open"]) == (30000, 0, True)


def test_a_quota_above_the_spendable_balance_is_refused(ledger):
    grandparent, grandchild = family(ledger)
    ledger.refused(
        "authorize",
        "INSUFFICIENT_BALANCE",
        authorizer=grandparent,
        beneficiary=grandchild,
        relationship="grandchild",
        quota="1000.01",
        at=WHEN,
    )
    assert ledger.person(grandparent).earmarked_fen == 0


def test_the_authorizer_cannot_spend_the_earmark(ledger):
    grandparent, grandchild = family(ledger)
    earmark(ledger, grandparent, grandchild, quota="900.00")
    result = ledger.ok(
        "deduct",
        settlement_id="S-own",
        patient=grandparent,
        amount="150.00",
        category="pharmacy",
        institution="H-1",
        at=LATER,
    )
    assert result["out_of_pocket_fen"] == 5000 and ledger.balance(grandparent) == 90000


def test_a_deduction_draws_on_the_quota_and_settles_on_the_authorizer(ledger):
    grandparent, grandchild = family(ledger)
    transfer_id = earmark(ledger, grandparent, grandchild)["transfer_id"]
    result = ledger.ok(
        "deduct",
        settlement_id="S-1",
        patient=grandchild,
        amount="120.00",
        category="pharmacy",
        institution="H-1",
        at=LATER,
    )
    assert [line["amount_fen"] for line in result["lines"]] == [12000]
    donor = ledger.person(grandparent)
    assert (donor.balance_fen, donor.earmarked_fen) == (88000, 18000)
    assert ledger.person(grandchild).quotas_received[transfer_id]["drawn_fen"] == 12000
    more = ledger.ok(
        "deduct",
        settlement_id="S-2",
        patient=grandchild,
        amount="500.00",
        category="pharmacy",
        institution="H-1",
        at=LATER,
    )
    assert more["out_of_pocket_fen"] == 50000 - 18000
    assert ledger.person(grandparent).earmarked_fen == 0


def test_a_reversal_undraws_on_both_sides(ledger):
    grandparent, grandchild = family(ledger)
    transfer_id = earmark(ledger, grandparent, grandchild)["transfer_id"]
    ledger.ok(
        "deduct",
        settlement_id="S-1",
        patient=grandchild,
        amount="120.00",
        category="pharmacy",
        institution="H-1",
        at=LATER,
    )
    ledger.ok("reverse", settlement_id="S-1", at=LATER)
    donor = ledger.person(grandparent)
    assert (donor.balance_fen, donor.earmarked_fen) == (100000, 30000)
    assert ledger.person(grandchild).quotas_received[transfer_id]["drawn_fen"] == 0


def test_set_quota_raises_and_lowers_with_its_refusals(ledger):
    grandparent, grandchild = family(ledger)
    earmark(ledger, grandparent, grandchild)
    fields = {"authorizer": grandparent, "beneficiary": grandchild, "at": LATER}
    ledger.refused("set-quota", "INSUFFICIENT_BALANCE", quota="1000.01", **fields)
    assert ledger.ok("set-quota", quota="500.00", **fields)["earmarked_fen"] == 50000
    ledger.ok(
        "deduct",
        settlement_id="S-1",
        patient=grandchild,
        amount="200.00",
        category="pharmacy",
        institution="H-1",
        at=LATER,
    )
    ledger.refused("set-quota", "QUOTA_BELOW_USED", quota="199.99", **fields)
    result = ledger.ok("set-quota", quota="250.00", **fields)
    assert (result["quota_fen"], result["earmarked_fen"], result["spendable_fen"]) == (25000, 5000, 75000)


def test_revoke_and_cancel_return_the_unused_quota(ledger):
    grandparent, grandchild = family(ledger)
    earmark(ledger, grandparent, grandchild)
    ledger.ok(
        "deduct",
        settlement_id="S-1",
        patient=grandchild,
        amount="100.00",
        category="pharmacy",
        institution="H-1",
        at=LATER,
    )
    ledger.ok("revoke", authorizer=grandparent, beneficiary=grandchild, at=LATER)
    donor = ledger.person(grandparent)
    assert (donor.balance_fen, donor.earmarked_fen) == (90000, 0)
    earmark_again = ledger.ok(
        "authorize", authorizer=grandparent, beneficiary=grandchild, relationship="grandchild", quota="50.00", at=LATER
    )
    assert earmark_again["earmarked_fen"] == 5000
    ledger.ok("cancel", person=grandchild, at=LATER)
    assert ledger.person(grandparent).earmarked_fen == 0
    assert ledger.person(grandparent).spendable_fen == 90000

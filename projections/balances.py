"""Balances per person, and mutual-aid flows per authorizer -> beneficiary per month.

Counters are gross and only ever added to, so that for every person
    balance = credited - paid_for_own_care - paid_for_others + refunded
holds exactly (checked by the tests and cheap for an auditor to check).
`received_from_others_fen` is what authorizers paid for this person's care; a reversal refunds
the authorizer (`refunded_fen` on their row, `refunded_fen` of the flow in the refund's month).
"""

from __future__ import annotations

from domain import events as ev
from projections._time import month
from projections.base import LedgerProjection, Record, handles
from projections.changes import PageChanges
from projections.tables import Table

AMOUNTS = (
    "balance_fen",
    "credited_fen",
    "paid_own_fen",
    "paid_for_others_fen",
    "received_from_others_fen",
    "refunded_fen",
)
FLOW_AMOUNTS = ("paid_fen", "refunded_fen", "payments", "refunds")


def _own_fen(record: Record) -> int:
    person = record["originator_id"]
    return sum(line["amount_fen"] for line in record["lines"] if line["person"] == person)


class BalancesProjection(LedgerProjection):
    name = "balances"
    title = "balances: balance, credited, paid for own care, paid for others, received from others, refunded"
    tables = (
        Table("balances", (("person", "text"), *((a, "int") for a in AMOUNTS)), key=("person",), additive=True),
        Table(
            "aid_flows",
            (("authorizer", "text"), ("beneficiary", "text"), ("month", "text"), *((a, "int") for a in FLOW_AMOUNTS)),
            key=("authorizer", "beneficiary", "month"),
            indexes=(("beneficiary",),),
            additive=True,
        ),
    )

    # balance, credited, paid_own, paid_for_others, received_from_others, refunded
    @handles(ev.AccountCredited)
    def _credited(self, e: Record, changes: PageChanges) -> None:
        amount = e["amount_fen"]
        changes.add("balances", (e["originator_id"],), (amount, amount, 0, 0, 0, 0))

    @handles(ev.DeductionSettled)
    def _settled(self, e: Record, changes: PageChanges) -> None:
        own = _own_fen(e)
        if own:
            changes.add("balances", (e["originator_id"],), (-own, 0, own, 0, 0, 0))

    @handles(ev.AidDebited)
    def _aid_debited(self, e: Record, changes: PageChanges) -> None:
        amount, authorizer, patient = e["amount_fen"], e["originator_id"], e["patient"]
        changes.add("balances", (authorizer,), (-amount, 0, 0, amount, 0, 0))
        changes.add("balances", (patient,), (0, 0, 0, 0, amount, 0))
        changes.add("aid_flows", (authorizer, patient, month(e["timestamp"])), (amount, 0, 1, 0))

    @handles(ev.DeductionReversed)
    def _reversed(self, e: Record, changes: PageChanges) -> None:
        own = _own_fen(e)
        if own:
            changes.add("balances", (e["originator_id"],), (own, 0, 0, 0, 0, own))

    @handles(ev.QuotaDrawSettled)
    def _quota_draw_settled(self, e: Record, changes: PageChanges) -> None:
        """A relative's draw on a cross-province quota, paid from this balance (domain.quota)."""
        changes.add("balances", (e["originator_id"],), (-e["amount_fen"], 0, 0, e["amount_fen"], 0, 0))

    @handles(ev.QuotaDrawn)
    def _quota_drawn(self, e: Record, changes: PageChanges) -> None:
        changes.add("balances", (e["originator_id"],), (0, 0, 0, 0, e["amount_fen"], 0))

    @handles(ev.QuotaDrawUndone)
    def _quota_draw_undone(self, e: Record, changes: PageChanges) -> None:
        changes.add("balances", (e["originator_id"],), (e["amount_fen"], 0, 0, 0, 0, e["amount_fen"]))

    @handles(ev.AidRefunded)
    def _aid_refunded(self, e: Record, changes: PageChanges) -> None:
        amount, authorizer = e["amount_fen"], e["originator_id"]
        changes.add("balances", (authorizer,), (amount, 0, 0, 0, 0, amount))
        changes.add("aid_flows", (authorizer, e["patient"], month(e["timestamp"])), (0, amount, 0, 1))

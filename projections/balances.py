"""Balances per person, and mutual-aid flows per authorizer -> beneficiary per month.

Counters are gross and only ever added to, so that for every person
    balance = credited - paid_for_own_care - paid_for_others + refunded
holds exactly (checked by the tests and cheap for an auditor to check).
`received_from_others_fen` is what authorizers paid for this person's care; a reversal refunds
the authorizer (`refunded_fen` on their row, `refunded_fen` of the flow in the refund's month).
"""

from __future__ import annotations

from domain import events as ev
from projections.base import LedgerProjection, Table, ViewWriter, handles, upsert_add

AMOUNTS = ("balance_fen", "credited_fen", "paid_own_fen", "paid_for_others_fen", "received_from_others_fen",
           "refunded_fen")
FLOW_AMOUNTS = ("paid_fen", "refunded_fen", "payments", "refunds")


class BalancesProjection(LedgerProjection):
    name = "balances"
    title = "balances: balance, credited, paid for own care, paid for others, received from others, refunded"
    tables = (
        Table("balances", (("person", "text"), *((a, "int") for a in AMOUNTS)), key=("person",)),
        Table(
            "aid_flows",
            (("authorizer", "text"), ("beneficiary", "text"), ("month", "text"), *((a, "int") for a in FLOW_AMOUNTS)),
            key=("authorizer", "beneficiary", "month"),
            indexes=(("beneficiary",),),
        ),
    )
    _ADD = upsert_add("balances", ("person",), AMOUNTS)
    _FLOW = upsert_add("aid_flows", ("authorizer", "beneficiary", "month"), FLOW_AMOUNTS)

    def _add(self, w: ViewWriter, person: object, **amounts: int) -> None:
        w.execute(self._ADD, (str(person), *(amounts.get(a, 0) for a in AMOUNTS)))

    @handles(ev.AccountCredited)
    def _credited(self, event: ev.AccountCredited, w: ViewWriter) -> None:
        self._add(w, event.originator_id, balance_fen=event.amount_fen, credited_fen=event.amount_fen)

    @handles(ev.DeductionSettled)
    def _settled(self, event: ev.DeductionSettled, w: ViewWriter) -> None:
        own = sum(line.amount_fen for line in event.lines if line.person == event.originator_id)
        if own:
            self._add(w, event.originator_id, balance_fen=-own, paid_own_fen=own)

    @handles(ev.AidDebited)
    def _aid_debited(self, event: ev.AidDebited, w: ViewWriter) -> None:
        amount = event.amount_fen
        self._add(w, event.originator_id, balance_fen=-amount, paid_for_others_fen=amount)
        self._add(w, event.patient, received_from_others_fen=amount)
        w.execute(self._FLOW, (str(event.originator_id), str(event.patient), event.month, amount, 0, 1, 0))

    @handles(ev.DeductionReversed)
    def _reversed(self, event: ev.DeductionReversed, w: ViewWriter) -> None:
        own = sum(line.amount_fen for line in event.lines if line.person == event.originator_id)
        if own:
            self._add(w, event.originator_id, balance_fen=own, refunded_fen=own)

    @handles(ev.AidRefunded)
    def _aid_refunded(self, event: ev.AidRefunded, w: ViewWriter) -> None:
        amount = event.amount_fen
        self._add(w, event.originator_id, balance_fen=amount, refunded_fen=amount)
        w.execute(self._FLOW, (str(event.originator_id), str(event.patient), event.month, 0, amount, 0, 1))

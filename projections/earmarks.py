"""Cross-province quotas per person (domain.quota): what an authorizer has earmarked and a
beneficiary may still draw. Counters move by the quota events' amounts only, so for every
authorizer `earmarked_fen` equals the aggregate's earmark and `spendable_fen` (read beside the
balance) = balance - earmarked; for every beneficiary `quota_left_fen` is what is left to draw."""

from __future__ import annotations

from domain import events as ev
from projections.base import LedgerProjection, Record, handles
from projections.changes import PageChanges
from projections.tables import Table

AMOUNTS = ("earmarked_fen", "quota_left_fen")


class EarmarksProjection(LedgerProjection):
    name = "earmarks"
    title = "earmarks: cross-province quota earmarked (as authorizer) and left to draw (as beneficiary)"
    tables = (Table("earmarks", (("person", "text"), *((a, "int") for a in AMOUNTS)), key=("person",), additive=True),)

    def _earmark(self, e: Record, changes: PageChanges, sign: int) -> None:
        changes.add("earmarks", (e["originator_id"],), (sign * e["amount_fen"], 0))

    def _left(self, e: Record, changes: PageChanges, sign: int) -> None:
        changes.add("earmarks", (e["originator_id"],), (0, sign * e["amount_fen"]))

    @handles(ev.QuotaEarmarked, ev.QuotaRaised)
    def _earmarked(self, e: Record, changes: PageChanges) -> None:
        self._earmark(e, changes, 1)

    @handles(ev.QuotaDrawSettled, ev.QuotaReturned)
    def _taken(self, e: Record, changes: PageChanges) -> None:
        self._earmark(e, changes, -1)

    @handles(ev.QuotaDrawUndone)
    def _undone(self, e: Record, changes: PageChanges) -> None:
        if not e["after_end"]:
            self._earmark(e, changes, 1)

    @handles(ev.QuotaReceived, ev.QuotaRaiseReceived)
    def _received(self, e: Record, changes: PageChanges) -> None:
        self._left(e, changes, 1)

    @handles(ev.QuotaDrawn, ev.QuotaReleased)
    def _drawn(self, e: Record, changes: PageChanges) -> None:
        self._left(e, changes, -1)

    @handles(ev.QuotaUndrawn)
    def _undrawn(self, e: Record, changes: PageChanges) -> None:
        if not e["after_end"]:
            self._left(e, changes, 1)

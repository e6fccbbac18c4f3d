"""Monthly quota counters per person and natural month (UTC+8).

One row per (person, month, metric, key, channel) with a count:
- `new_members` (as binder) and `new_binders` (as member): key "";
- `unbinds`: key = the unbind reason; channel = the channel the ended binding was made through;
- `rejected`: key = the rejection code (every rejected attempt the person took part in).
Unbinding never decrements anything: quota is not given back (seed 000 §一.1).
Remaining quota is not stored: it depends on the rule version asked about (see infra.readmodels.view_queries).
`quota_ties` remembers each pair's latest binding channel, so an unbind can be counted by channel.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.utils import get_topic

from domain import events as ev
from projections._time import month
from projections.base import LedgerProjection, Record, Table, handles
from projections.changes import PageChanges

METRICS = ("new_members", "new_binders", "unbinds", "rejected")
_BINDING_ENDED = get_topic(ev.BindingEnded)


def _pair(e: Record) -> tuple[str, str]:
    """(binder, member) of a binding event recorded on either side."""
    me, other = e["originator_id"], e["counterpart"]
    return (me, other) if e["role"] == "binder" else (other, me)


class QuotaProjection(LedgerProjection):
    name = "quota"
    title = "monthly quota counters: new members, new binders, unbinds by reason, rejections by code, by channel"
    tables = (
        Table(
            "quota_counters",
            (("person", "text"), ("month", "text"), ("metric", "text"), ("key", "text"), ("channel", "text"),
             ("count", "int")),
            key=("person", "month", "metric", "key", "channel"),
            additive=True,
        ),
        Table("quota_ties", (("binder", "text"), ("member", "text"), ("channel", "text")), key=("binder", "member")),
    )

    @staticmethod
    def _count(changes: PageChanges, e: Record, metric: str, key: str, channel: str) -> None:
        changes.add("quota_counters", (e["originator_id"], month(e["timestamp"]), metric, key, channel), (1,))

    def prepare(self, records: Sequence[Record | None], changes: PageChanges) -> None:
        changes.preload("quota_ties", [_pair(e) for e in records if e is not None and e["topic"] == _BINDING_ENDED])

    @handles(ev.BindingStarted)
    def _started(self, e: Record, changes: PageChanges) -> None:
        metric = "new_members" if e["role"] == "binder" else "new_binders"
        self._count(changes, e, metric, "", e["channel"])
        changes.upsert("quota_ties", _pair(e), {"channel": e["channel"]})

    @handles(ev.BindingEnded)
    def _ended(self, e: Record, changes: PageChanges) -> None:
        channel = changes.get("quota_ties", _pair(e), "channel")
        self._count(changes, e, "unbinds", e["reason"], channel if channel is not None else "unknown")

    @handles(ev.BindRejected)
    def _rejected(self, e: Record, changes: PageChanges) -> None:
        self._count(changes, e, "rejected", e["code"], e["channel"])

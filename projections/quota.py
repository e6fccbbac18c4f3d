"""Monthly quota counters per person and natural month (UTC+8).

One row per (person, month, metric, key, channel) with a count:
- `new_members` (as binder) and `new_binders` (as member): key "";
- `unbinds`: key = the unbind reason; channel = the channel the ended binding was made through;
- `rejected`: key = the rejection code (every rejected attempt the person took part in).
Unbinding never decrements anything: quota is not given back (seed 000 §一.1).
Remaining quota is not stored: it depends on the rule version asked about (see infra.view_queries).
`quota_ties` remembers each pair's latest binding channel, so an unbind can be counted by channel.
"""

from __future__ import annotations

from domain import events as ev
from projections.base import LedgerProjection, Table, ViewWriter, handles, upsert_add, upsert_set

METRICS = ("new_members", "new_binders", "unbinds", "rejected")


class QuotaProjection(LedgerProjection):
    name = "quota"
    title = "monthly quota counters: new members, new binders, unbinds by reason, rejections by code, by channel"
    tables = (
        Table(
            "quota_counters",
            (("person", "text"), ("month", "text"), ("metric", "text"), ("key", "text"), ("channel", "text"),
             ("count", "int")),
            key=("person", "month", "metric", "key", "channel"),
        ),
        Table("quota_ties", (("binder", "text"), ("member", "text"), ("channel", "text")), key=("binder", "member")),
    )
    _COUNT = upsert_add("quota_counters", ("person", "month", "metric", "key", "channel"), ("count",))
    _TIE = upsert_set("quota_ties", ("binder", "member"), ("channel",))

    def _count(self, w: ViewWriter, event: ev.DomainEvent, metric: str, key: str, channel: str) -> None:
        w.execute(self._COUNT, (str(event.originator_id), event.month, metric, key, channel, 1))

    @staticmethod
    def _pair(event: ev.BindingStarted | ev.BindingEnded) -> tuple[str, str]:
        me, other = str(event.originator_id), str(event.counterpart)
        return (me, other) if event.role == "binder" else (other, me)

    @handles(ev.BindingStarted)
    def _started(self, event: ev.BindingStarted, w: ViewWriter) -> None:
        metric = "new_members" if event.role == "binder" else "new_binders"
        self._count(w, event, metric, "", event.channel)
        w.execute(self._TIE, (*self._pair(event), event.channel))

    @handles(ev.BindingEnded)
    def _ended(self, event: ev.BindingEnded, w: ViewWriter) -> None:
        row = w.fetchone("SELECT channel FROM {quota_ties} WHERE binder = ? AND member = ?", self._pair(event))
        self._count(w, event, "unbinds", event.reason, row[0] if row else "unknown")

    @handles(ev.BindRejected)
    def _rejected(self, event: ev.BindRejected, w: ViewWriter) -> None:
        self._count(w, event, "rejected", event.code, event.channel)

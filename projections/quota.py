"""Monthly quota counters per person and natural month (UTC+8).

One row per (person, month, metric, key, channel) with a count:
- `new_members` (as binder) and `new_binders` (as member): key "";
- `unbinds`: key = the unbind reason; channel = the channel the unbind came through;
- `authorizations` (as authorizer): key "", by the channel the authorization came through;
- `rejected`: key = the rejection code (every rejected attempt the person took part in).
A command that named no channel (unbinds, authorizations, and everything recorded before they
carried one) counts under `unspecified`; an unbind the ledger made itself (a closed account)
has none either.
Unbinding never decrements anything: quota is not given back (seed 000 §一.1).
Remaining quota is not stored: it depends on the rule version asked about (see infra.readmodels.view_queries).
"""

from __future__ import annotations

from domain import events as ev
from projections._time import month
from projections.base import LedgerProjection, Record, handles
from projections.changes import PageChanges
from projections.tables import Table

METRICS = ("new_members", "new_binders", "unbinds", "authorizations", "rejected")
UNSPECIFIED = "unspecified"


class QuotaProjection(LedgerProjection):
    name = "quota"
    title = "monthly quota counters: new members, new binders, unbinds by reason, rejections by code, by channel"
    tables = (
        Table(
            "quota_counters",
            (
                ("person", "text"),
                ("month", "text"),
                ("metric", "text"),
                ("key", "text"),
                ("channel", "text"),
                ("count", "int"),
            ),
            key=("person", "month", "metric", "key", "channel"),
            additive=True,
        ),
    )

    @staticmethod
    def _count(changes: PageChanges, e: Record, metric: str, key: str, channel: str) -> None:
        changes.add("quota_counters", (e["originator_id"], month(e["timestamp"]), metric, key, channel), (1,))

    @handles(ev.BindingStarted)
    def _started(self, e: Record, changes: PageChanges) -> None:
        metric = "new_members" if e["role"] == "binder" else "new_binders"
        self._count(changes, e, metric, "", e["channel"])

    @handles(ev.BindingEnded)
    def _ended(self, e: Record, changes: PageChanges) -> None:
        self._count(changes, e, "unbinds", e["reason"], e.get("channel") or UNSPECIFIED)

    @handles(ev.AuthorizationGranted)
    def _authorized(self, e: Record, changes: PageChanges) -> None:
        if e["role"] == "authorizer":
            self._count(changes, e, "authorizations", "", e.get("channel") or UNSPECIFIED)

    @handles(ev.BindRejected)
    def _rejected(self, e: Record, changes: PageChanges) -> None:
        self._count(changes, e, "rejected", e["code"], e["channel"])

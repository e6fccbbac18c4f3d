"""Load the aggregates a batch of commands will need, in bulk, before deciding any of them.

Loading one aggregate is a snapshot query plus an events query; a deduction needs the patient,
the presenter, the settlement index and the authorizers: eight round trips per command, which
dominated the group-commit profile. Here a batch's ids are collected from its parsed commands
and loaded in two rounds of two queries each (latest snapshots, then the events after them):
first the people and settlements named in the commands, then the people those imply (a
patient's authorizers, a closing account's counterparts, a reversed settlement's payers).
Anything missed is still loaded on demand by the unit of work: prefetching only saves time.

The bulk reads are the store adapter's (infra.storage): one statement per round on PostgreSQL
and SQLite, one aggregate at a time on the in-memory store.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable
from operator import attrgetter
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, StoredEvent

from domain.command_record import CommandRecord
from domain.errors import LedgerError
from domain.settlement import Settlement, settlement_aggregate_id
from infra.commands.base import CommandModel
from infra.commands.table import spec_of
from infra.eventstore.application import LedgerApp
from infra.eventstore.snapshots import SealedSnapshots
from infra.storage.base import BulkReader
from infra.writing.units import BatchUnitOfWork

_as_int = attrgetter("int")
CACHE_SIZE_DEFAULT = 20_000  # aggregates kept between batches (people; settlements are not kept)


class Prefetcher:
    """Bulk loading for a stream of batches, with a bounded cache of committed aggregates.

    A cached aggregate is brought up to date before it is used: the events stored after its
    cached version (another writer's) are read in the same query as everyone else's and applied
    on top, so no snapshot is read for it and no query asks for its version first. The cache
    holds only states that were committed: after a failed batch it is emptied, because the unit
    of work changed the cached objects in place.

    Settlement index entries are not kept: each deduction opens a new one and it is read again
    only by a reversal or a duplicate, so keeping them would push the people, who are read in
    every batch, out of the cache (on the full-scale workload 190,000 settlements against
    20,000 people; the hit rate fell and every batch reloaded thousands of people).
    """

    def __init__(self, cache_size: int = CACHE_SIZE_DEFAULT):
        self.cache_size = cache_size
        self.cache: OrderedDict[UUID, Any] = OrderedDict()

    def __call__(
        self, app: LedgerApp, commands: list[CommandModel], tenants: list[str]
    ) -> tuple[dict[UUID, Any], set[UUID]]:
        """(aggregates by id, ids known not to exist) for these parsed commands, each sent by the
        tenant at its index in `tenants`, read through one bulk reader (infra.storage)."""
        with app.recorder.bulk_reader(_snapshot_recorder(app)) as reader:
            people, settlements = self._named_ids(app, commands)
            records = command_ids(app, commands, tenants)
            unsnapshotted = _unsnapshotted(app, settlements, records)
            loaded, missing = self.load(app, people | settlements | records, reader, unsnapshotted)
            implied = self._implied_ids(app, commands, loaded) - loaded.keys() - missing
            if implied:
                more, more_missing = self.load(app, implied, reader)
                loaded.update(more)
                missing |= more_missing
        return loaded, missing

    @staticmethod
    def person_id(app: LedgerApp, raw: str | None) -> UUID | None:
        """The aggregate id a handler will load for `raw` (the app's own memo), or None when
        `raw` is no valid ID number (the handler then refuses the command before loading)."""
        if not raw:
            return None
        try:
            return app.person_ref(raw, "person").id
        except LedgerError:
            return None

    def _named_ids(self, app: LedgerApp, commands: list[CommandModel]) -> tuple[set[UUID], set[UUID]]:
        """The people and the settlements the commands name (their handlers' declared needs)."""
        people: set[UUID | None] = set()
        settlements: set[UUID] = set()
        for cmd in commands:
            needs = spec_of(cmd).needs
            people.update(self.person_id(app, raw) for raw in needs.named_people(cmd))
            settlement_id = needs.settlement_id(cmd)
            if settlement_id is not None:
                settlements.add(settlement_aggregate_id(settlement_id))
        return {i for i in people if i is not None}, settlements

    def _implied_ids(self, app: LedgerApp, commands: list[CommandModel], loaded: dict[UUID, Any]) -> set[UUID]:
        """What the handlers load once they hold the named aggregates (their declared needs)."""
        ids: set[UUID] = set()
        for cmd in commands:
            needs = spec_of(cmd).needs
            named = needs.named_people(cmd)
            pid = self.person_id(app, named[0]) if named else None
            person = loaded.get(pid) if pid is not None else None
            settlement_id = needs.settlement_id(cmd)
            settlement = loaded.get(settlement_aggregate_id(settlement_id)) if settlement_id is not None else None
            ids.update(needs.implied(person, settlement))
        return ids

    def load(
        self,
        app: LedgerApp,
        ids: Iterable[UUID],
        reader: BulkReader | None = None,
        unsnapshotted: Collection[UUID] = (),
    ) -> tuple[dict[UUID, Any], set[UUID]]:
        """Load `ids` through `reader` (a read transaction), or one of its own. `unsnapshotted`:
        ids of a kind the ledger never snapshots (settlements, command records), read from their
        first event without asking for a snapshot (a snapshot is only a cache: reading without
        one is always right)."""
        ids = sorted(set(ids), key=_as_int)  # UUIDs' own order, compared as ints in C, not by UUID.__lt__
        if not ids:
            return {}, set()
        if reader is None:
            with app.recorder.bulk_reader(_snapshot_recorder(app)) as own:
                return self.load(app, ids, own, unsnapshotted)
        cached = {i: a for i in ids if (a := self.cache.get(i)) is not None}
        return _load(app, reader, ids, cached, unsnapshotted)

    def committed(self, unit: BatchUnitOfWork) -> None:
        for aggregate_id, aggregate in unit.aggregates.items():
            if isinstance(aggregate, (Settlement, CommandRecord)):
                self.cache.pop(aggregate_id, None)
                continue
            self.cache[aggregate_id] = aggregate
            self.cache.move_to_end(aggregate_id)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)

    def forget(self) -> None:
        self.cache.clear()


def command_ids(app: LedgerApp, commands: list[CommandModel], tenants: list[str]) -> set[UUID]:
    """The command records a batch's deciding looks up (infra.writing.deciding)."""
    return {
        record_id
        for command, tenant in zip(commands, tenants, strict=True)
        if command.command_id is not None
        for record_id in app.command_record_ids(command.command_id, tenant)
    }


def _unsnapshotted(app: LedgerApp, settlements: set[UUID], records: set[UUID]) -> set[UUID]:
    """Of these settlements and command records, those of a kind the application's snapshot
    policy never snapshots (today both: only people have snapshots)."""
    kinds = app.snapshotting_intervals or {}
    return (set() if Settlement in kinds else settlements) | (set() if CommandRecord in kinds else records)


def _snapshot_recorder(app: LedgerApp) -> AggregateRecorder | None:
    return app.snapshots.recorder if app.snapshots is not None else None


# The PostgreSQL adapter probes the primary key (originator_id, originator_version) once per id,
# in a LATERAL subquery (its ORDER BY keeps the planner from turning it into a join). A plain join
# of `unnest(ids)` with the events table may be planned as a merge join over the whole table: with
# no statistics (autovacuum off) that plan read all 550,000 events for every batch, and loading
# grew with the length of the history. JIT compilation, which the planner's inflated estimates
# switched on, cost more than these queries themselves: the ledger's connections run with JIT off
# (infra.storage.opening.libpq_kwargs).
def _load(
    app: LedgerApp, reader: BulkReader, ids: list[UUID], known: dict[UUID, Any], unsnapshotted: Collection[UUID]
) -> tuple[dict[UUID, Any], set[UUID]]:
    """For all ids, a start (the `known` state, else the latest proven snapshot unless the id is
    `unsnapshotted`, else nothing) and the events after it. A snapshot whose MAC does not verify
    is refused, as the repository refuses it, and that aggregate is read from its first event."""
    if not ids:
        return {}, set()
    store = app.snapshots
    proven = store.proven if isinstance(store, SealedSnapshots) else _any
    asked = [i for i in ids if i not in known and i not in unsnapshotted]
    stored = reader.latest_snapshots(asked) if store and asked else []
    decoded: list[Any] = [store.mapper.to_domain_event(s) for s in stored] if store else []
    starts: dict[UUID, Any] = {s.originator_id: s.mutate(None) for s in decoded if proven(s)} | known
    after = [starts[i].version if i in starts else 0 for i in ids]
    rows = reader.events_after(ids, after)
    rows.sort(key=_version_of)  # each aggregate's events in version order (the sort is stable)
    aggregates: dict[UUID, Any] = {i: starts.get(i) for i in ids}
    for row in rows:
        aggregate_id = cast(UUID, row.originator_id)  # the adapters give UUIDs
        aggregates[aggregate_id] = _decode(app, row).mutate(aggregates[aggregate_id])
    loaded = {i: a for i, a in aggregates.items() if a is not None}
    return loaded, set(ids) - loaded.keys()


def _any(snapshot: Any) -> bool:
    return True


def _version_of(row: StoredEvent) -> int:
    return row.originator_version


def _decode(app: LedgerApp, row: StoredEvent) -> Any:
    return app.mapper.to_domain_event(row)

"""Load the aggregates a batch of commands will need, in bulk, before deciding any of them.

Loading one aggregate is a snapshot query plus an events query; a deduction needs the patient,
the presenter, the settlement index and the authorizers: eight round trips per command, which
dominated the group-commit profile. Here a batch's ids are collected from its parsed commands
and loaded in two rounds of two queries each (latest snapshots, then the events after them):
first the people and settlements named in the commands, then the people those imply (a
patient's authorizers, a closing account's counterparts, a reversed settlement's payers).
Anything missed is still loaded on demand by the unit of work: prefetching only saves time.

Bulk SQL is used on PostgreSQL; other backends load one aggregate at a time through the
repository (same results, no speed-up needed for the embedded and in-memory stores).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from domain.command_record import CommandRecord, command_aggregate_id
from domain.errors import LedgerError
from domain.settlement import Settlement, settlement_aggregate_id
from infra.eventstore.handlers import NEEDS

CACHE_SIZE_DEFAULT = 20_000  # aggregates kept between batches (people; settlements are not kept)


class Prefetcher:
    """Bulk loading for a stream of batches, with a bounded cache of committed aggregates.

    A cached aggregate is reused only if the store holds no newer event for it (one query per
    batch reads the latest stored version of each cached id); otherwise the newer events are
    read and applied. The cache holds only states that were committed: after a failed batch it
    is emptied, because the unit of work changed the cached objects in place.

    Settlement index entries are not kept: each deduction opens a new one and it is read again
    only by a reversal or a duplicate, so keeping them would push the people, who are read in
    every batch, out of the cache (on the full-scale workload 190,000 settlements against
    20,000 people; the hit rate fell and every batch reloaded thousands of people).
    """

    def __init__(self, cache_size: int = CACHE_SIZE_DEFAULT):
        self.cache_size = cache_size
        self.cache: OrderedDict[UUID, Any] = OrderedDict()

    def __call__(self, app: Any, commands: list[Any]) -> tuple[dict[UUID, Any], set[UUID]]:
        """(aggregates by id, ids known not to exist) for these parsed commands; on PostgreSQL
        read in one transaction."""
        if not app.settings.is_postgres:
            return self._load_needed(app, commands, None)
        with app.recorder.datastore.transaction(commit=False) as cursor:
            return self._load_needed(app, commands, cursor)

    def _load_needed(self, app: Any, commands: list[Any], cursor: Any) -> tuple[dict[UUID, Any], set[UUID]]:
        loaded, missing = self.load(app, self._named_ids(app, commands), cursor)
        implied = self._implied_ids(app, commands, loaded) - loaded.keys() - missing
        if implied:
            more, more_missing = self.load(app, implied, cursor)
            loaded.update(more)
            missing |= more_missing
        return loaded, missing

    @staticmethod
    def person_id(app: Any, raw: str | None) -> UUID | None:
        """The aggregate id a handler will load for `raw` (the app's own memo), or None when
        `raw` is no valid ID number (the handler then refuses the command before loading)."""
        if not raw:
            return None
        try:
            return app.person_ref(raw, "person")[0]
        except LedgerError:
            return None

    def _named_ids(self, app: Any, commands: list[Any]) -> set[UUID]:
        """The people and settlements the commands name (their handlers' declared needs)."""
        ids: set[UUID | None] = set()
        for cmd in commands:
            needs = NEEDS[cmd.type]
            ids.update(self.person_id(app, getattr(cmd, name)) for name in needs.people)
            if needs.settlement:
                ids.add(settlement_aggregate_id(cmd.settlement_id))
            if cmd.command_id is not None:
                ids.add(command_aggregate_id(cmd.command_id))
        ids.discard(None)
        return {i for i in ids if i is not None}

    def _implied_ids(self, app: Any, commands: list[Any], loaded: dict[UUID, Any]) -> set[UUID]:
        """What the handlers load once they hold the named aggregates (their declared needs)."""
        ids: set[UUID] = set()
        for cmd in commands:
            needs = NEEDS[cmd.type]
            pid = self.person_id(app, getattr(cmd, needs.people[0])) if needs.people else None
            person = loaded.get(pid) if pid is not None else None
            settlement = loaded.get(settlement_aggregate_id(cmd.settlement_id)) if needs.settlement else None
            ids.update(needs.implied(person, settlement))
        return ids

    def load(self, app: Any, ids: Iterable[UUID], cursor: Any = None) -> tuple[dict[UUID, Any], set[UUID]]:
        """Load `ids` (on PostgreSQL through `cursor`, a read transaction, or one of its own)."""
        ids = sorted(set(ids))
        if not ids:
            return {}, set()
        if not app.settings.is_postgres:
            return _load_one_by_one(app, ids)
        if cursor is None:
            with app.recorder.datastore.transaction(commit=False) as own:
                return self.load(app, ids, own)
        versions = _stored_versions(app, cursor, [i for i in ids if i in self.cache])
        fresh = {i: a for i in ids if (a := self.cache.get(i)) is not None and a.version == versions.get(i)}
        stale = [i for i in ids if i not in fresh]
        loaded, missing = _load_postgres(app, cursor, stale, {i: self.cache[i] for i in stale if i in self.cache})
        return fresh | loaded, missing

    def committed(self, unit: Any) -> None:
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


def _load_one_by_one(app: Any, ids: list[UUID]) -> tuple[dict[UUID, Any], set[UUID]]:
    loaded, missing = {}, set()
    for aggregate_id in ids:
        try:
            loaded[aggregate_id] = app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            missing.add(aggregate_id)
    return loaded, missing


# The queries below probe the primary key (originator_id, originator_version) once per id, in a
# LATERAL subquery (its ORDER BY keeps the planner from turning it into a join). A plain join of
# `unnest(ids)` with the events table may be planned as a merge join over the whole table: with
# no statistics (autovacuum off) that plan read all 550,000 events for every batch, and loading
# grew with the length of the history. JIT compilation, which the planner's inflated estimates
# switched on, cost more than these queries themselves: the ledger's connections run with JIT off
# (infra.config.libpq_kwargs). The id arrays go in binary (%b; see infra.eventstore.pg_recorder).
def _stored_versions(app: Any, cursor: Any, ids: list[UUID]) -> dict[UUID, int]:
    """The latest stored version of each id that has events."""
    if not ids:
        return {}
    recorder = app.recorder
    cursor.execute(
        SQL(
            "SELECT k.id AS originator_id, (SELECT e.originator_version FROM {}.{} e "
            "WHERE e.originator_id = k.id ORDER BY e.originator_version DESC LIMIT 1) AS version "
            "FROM unnest(%b::uuid[]) AS k(id)"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)),
        (ids,),
    )
    return {row["originator_id"]: row["version"] for row in cursor.fetchall() if row["version"] is not None}


def _load_postgres(app: Any, cursor: Any, ids: list[UUID], known: dict[UUID, Any]) -> tuple[dict[UUID, Any], set[UUID]]:
    """Latest snapshot (unless a `known` state is newer) and the events after it, for all ids."""
    if not ids:
        return {}, set()
    recorder = app.recorder
    schema = Identifier(recorder.datastore.schema)
    events_table = Identifier(recorder.events_table_name)
    snapshots: dict[UUID, Any] = {}
    if app.snapshots is not None:
        snapshot_table = Identifier(app.snapshots.recorder.events_table_name)
        cursor.execute(
            SQL(
                "SELECT s.originator_id, s.originator_version, s.topic, s.state FROM unnest(%b::uuid[]) AS k(id) "
                "CROSS JOIN LATERAL (SELECT originator_id, originator_version, topic, state FROM {}.{} "
                "WHERE originator_id = k.id ORDER BY originator_version DESC LIMIT 1) AS s"
            ).format(schema, snapshot_table),
            (ids,),
        )
        snapshots = {row["originator_id"]: _decode(app, row).mutate(None) for row in cursor.fetchall()}
    for aggregate_id, state in known.items():
        if aggregate_id not in snapshots or snapshots[aggregate_id].version <= state.version:
            snapshots[aggregate_id] = state
    after = [snapshots[i].version if i in snapshots else 0 for i in ids]
    cursor.execute(
        SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM unnest(%b::uuid[], %b::bigint[]) AS k(id, gt) "
            "CROSS JOIN LATERAL (SELECT originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = k.id AND originator_version > k.gt ORDER BY originator_version) AS e"
        ).format(schema, events_table),
        (ids, after),
    )
    rows = cursor.fetchall()
    rows.sort(key=_version_of)  # each aggregate's events in version order (the sort is stable)
    aggregates: dict[UUID, Any] = {i: snapshots.get(i) for i in ids}
    for row in rows:
        aggregate_id = row["originator_id"]
        aggregates[aggregate_id] = _decode(app, row).mutate(aggregates[aggregate_id])
    loaded = {i: a for i, a in aggregates.items() if a is not None}
    return loaded, set(ids) - loaded.keys()


def _version_of(row: dict) -> int:
    return row["originator_version"]


def _decode(app: Any, row: dict) -> Any:
    return app.mapper.to_domain_event(
        StoredEvent(
            originator_id=row["originator_id"],
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
        )
    )

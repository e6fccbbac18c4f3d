"""Snapshots of aggregates as pydantic events whose `state` is plain JSON.

The library's own `Snapshot.take` copies `vars(aggregate)` as is; our mapper stores
`model_dump(mode="json")`, which would turn UUID dict keys into strings, datetimes into text
and tuples of `PaymentLine` into lists of dicts, and nothing would turn them back. So the
state is encoded here with explicit tags, and decoded to exactly the objects it came from
(a round trip gives an aggregate equal to the original: `Person.__eq__` compares `vars`).

Tags (a dict with one `$`-key): `$dt` aware datetime, `$uuid`, `$tuple`, `$map` (a dict whose
keys are not all strings, as [key, value] pairs), `$model` (a pydantic model by topic), `$models`
(a tuple of models of one class). A dict whose keys are strings not starting with `$` is stored
as is. Snapshots written by earlier versions may also hold `$records` (a dict of same-shaped
dicts, as columns); they are still read, never written. Snapshots are a cache: they hold
no plain ID number (the aggregate state never does) and a lost snapshot only costs replay time.

The snapshot's timestamp is the aggregate's `modified_on` (business time), never a clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, cast
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, EventStore, Mapper, Recording
from eventsourcing.utils import get_topic, register_topic, resolve_topic
from pydantic import BaseModel, ConfigDict, TypeAdapter

from domain.errors import LedgerInvariantError
from infra.row_macs import RowMacs

log = logging.getLogger(__name__)

# Person aggregates get a snapshot every this many events: a load reads one snapshot and at
# most SNAPSHOT_INTERVAL - 1 events, however long the history.
SNAPSHOT_INTERVAL = 200

_PLAIN = (str, int, float, bool, type(None))
_ENCODED_PLAIN = (str, int, bool, type(None))  # no float: canonical JSON's numbers are integers
_SKIPPED = ("_id", "_version", "_pending_events")


def encode_value(value: Any) -> Any:
    """An aggregate attribute as JSON for its snapshot. A float is refused: the snapshot is stored
    as canonical JSON, whose numbers are integers (domain.canonical); the check costs nothing
    here, where every value is visited anyway, unlike a validated type on `state`."""
    if isinstance(value, _ENCODED_PLAIN):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise LedgerInvariantError("snapshot: naive datetime in aggregate state")
        return {"$dt": value.isoformat()}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: encode_value(v) for k, v in value.items()}
        return {"$map": [[encode_value(k), encode_value(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        if value and isinstance(value[0], BaseModel) and all(type(v) is type(value[0]) for v in value):
            return {"$models": get_topic(type(value[0])), "rows": [v.model_dump(mode="json") for v in value]}
        return {"$tuple": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, BaseModel):
        return {"$model": get_topic(type(value)), "data": value.model_dump(mode="json")}
    raise LedgerInvariantError(f"snapshot: cannot encode {type(value).__name__} in aggregate state")


_MODEL_CLASSES: dict[str, type[BaseModel]] = {}
_ADAPTERS: dict[str, TypeAdapter] = {}


def _adapter(topic: str) -> TypeAdapter:
    adapter = _ADAPTERS.get(topic)
    if adapter is None:
        adapter = _ADAPTERS.setdefault(topic, TypeAdapter(list[resolve_topic(topic)]))  # type: ignore[misc, arg-type]  # a run-time type
    return adapter


def _decode_records(data: dict) -> dict:
    """`$records` of an earlier version: {"ids": [...], "fields": [...], "columns": [[...], ...]}."""
    ids = [decode_value(k) for k in data["ids"]]
    columns = [[decode_value(v) for v in column] for column in data["columns"]]
    records = (
        [dict(zip(data["fields"], row, strict=False)) for row in zip(*columns, strict=False)]
        if columns
        else [{} for _ in ids]
    )
    return dict(zip(ids, records, strict=False))


def decode_value(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if len(value) <= 2:
        if "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
        if "$uuid" in value:
            return UUID(value["$uuid"])
        if "$tuple" in value:
            return tuple(decode_value(v) for v in value["$tuple"])
        if "$map" in value:
            return {decode_value(k): decode_value(v) for k, v in value["$map"]}
        if "$records" in value:
            return _decode_records(value["$records"])
        if "$models" in value:
            return tuple(_adapter(value["$models"]).validate_python(value["rows"]))
        if "$model" in value:
            cls = _MODEL_CLASSES.get(value["$model"])
            if cls is None:
                cls = _MODEL_CLASSES.setdefault(value["$model"], resolve_topic(value["$model"]))
            return cls.model_validate(value["data"])
    return {k: decode_value(v) for k, v in value.items()}


class AggregateSnapshot(BaseModel):
    """The state of one aggregate at one version, stored in the snapshots table."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    topic: str
    state: dict[str, Any]  # encode_value's output: JSON without a float (stored as canonical JSON)
    # The row MAC (infra.row_macs, purpose "snapshot") of everything above. Snapshots taken before
    # the ledger sealed them read None: they are never used (see SealedSnapshots).
    mac: str | None = None

    def content(self) -> dict[str, Any]:
        """What the MAC covers: every field but the MAC itself, as stored."""
        return self.model_dump(mode="json", exclude={"mac"})

    @classmethod
    def take(cls, aggregate: Any) -> AggregateSnapshot:
        state = {k: encode_value(v) for k, v in vars(aggregate).items() if k not in _SKIPPED}
        return cls(
            originator_id=aggregate.id,
            originator_version=aggregate.version,
            timestamp=aggregate.modified_on,
            topic=get_topic(type(aggregate)),
            state=state,
        )

    def mutate(self, _: None) -> Any:
        aggregate_class = resolve_topic(self.topic)
        aggregate = aggregate_class.__new__(aggregate_class)
        # state added to the class since the snapshot was taken (quotas) starts at its default
        getattr(aggregate, "init_state", lambda: None)()
        aggregate.__dict__.update({k: decode_value(v) for k, v in self.state.items()})
        aggregate._id = self.originator_id
        aggregate._version = self.originator_version
        aggregate._pending_events = []
        return aggregate


# Stores written before the infra/ packages existed name the snapshot class by its old topic.
register_topic("infra.snapshots:AggregateSnapshot", AggregateSnapshot)


class SealedSnapshots(EventStore[UUID]):
    """The snapshot store: every snapshot put is sealed with its row MAC, and a snapshot whose MAC
    does not verify (forged, edited, or taken before snapshots were sealed) is never given out:
    the aggregate is then loaded from its events, which the hash chain covers. A snapshot only
    saves replay time, so refusing one changes no decision; each refusal is logged and counted
    (`refusals`; the service exports it as a metric, `ledger verify` reports every such row)."""

    def __init__(self, mapper: Mapper[UUID], recorder: AggregateRecorder, macs: RowMacs):
        super().__init__(mapper=mapper, recorder=recorder)
        self.macs = macs
        self.refusals = 0

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[UUID]]:
        sealed = [self.sealed(snapshot) for snapshot in domain_events]
        return super().put(sealed, **kwargs)

    def sealed(self, snapshot: AggregateSnapshot) -> AggregateSnapshot:
        return snapshot.model_copy(update={"mac": self.macs.of(snapshot.content())})

    def get(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return (snapshot for snapshot in super().get(*args, **kwargs) if self.proven(cast(AggregateSnapshot, snapshot)))

    def proven(self, snapshot: AggregateSnapshot) -> bool:
        """Whether the ledger took this snapshot (its MAC verifies); a refusal is logged and counted."""
        if self.macs.holds(snapshot.content(), snapshot.mac):
            return True
        self.refusals += 1
        log.warning(
            "snapshot of %s at version %s refused: %s; loading from its events",
            snapshot.originator_id,
            snapshot.originator_version,
            "no MAC (taken before snapshots were sealed)" if snapshot.mac is None else "its MAC does not verify",
        )
        return False

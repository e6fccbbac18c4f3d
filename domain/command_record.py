"""A command index: one aggregate per command id (uuid5), holding the answer the ledger gave.

Senders retry after a timeout. A command carrying `command_id` is saved together with this
record, in the same atomic save as its own events, so a second save for the same id collides at
version 1 in the event store, whichever process makes it. A retry finds the record and gets the
original answer back; the same id with other content is a conflict.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate

from domain import events as ev
from domain.canonical import canonical_json_of_typed
from domain.ids import name_uuid

COMMAND_NAMESPACE = uuid.UUID("8c0f6a52-3d7e-5b1a-9e24-61f0d2c4b7a3")
COMMAND_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,64}$"


@functools.lru_cache(maxsize=65_536)
def command_aggregate_id(command_id: str, tenant: str | None = None) -> UUID:
    """The record of `command_id` as sent by `tenant`: each tenant's ids are its own, so another
    tenant's id never conflicts with, reveals or replays it. `tenant` None: the one global id of
    a command recorded before ids were scoped (still looked up, so that a retry across the
    upgrade is not applied twice). Remembered: a batch's prefetch, its deciding and its save
    each ask for the same few (uuid5 is a SHA-1)."""
    if tenant is None:
        return name_uuid(COMMAND_NAMESPACE, command_id)
    return name_uuid(COMMAND_NAMESPACE, f"{tenant}\n{command_id}")


@functools.lru_cache(maxsize=65_536)
def command_record_ids(command_id: str, tenant: str, written_before_scoping: bool = True) -> tuple[UUID, ...]:
    """Where a tenant's command id may be recorded: under the tenant (every record written
    since ids were scoped), or globally (a record written before; `written_before_scoping`
    False: the store holds none, so the global id is not asked for)."""
    scoped = command_aggregate_id(command_id, tenant)
    return (scoped, command_aggregate_id(command_id)) if written_before_scoping else (scoped,)


def command_fingerprint(content: dict[str, Any], key: bytes) -> str:
    """A keyed digest of the command's content (everything but `command_id`): equal content,
    equal fingerprint; and ID numbers inside it cannot be recovered by trying candidates."""
    return hmac.new(key, canonical_json_of_typed(content), hashlib.sha256).hexdigest()  # a typed dump


class CommandRecord(BaseAggregate[UUID]):
    command_id: str
    command_type: str
    fingerprint: str
    result: dict[str, Any]

    def init_state(self) -> None:
        """Nothing beyond what the created event assigns."""

    @classmethod
    def record(
        cls,
        *,
        command_id: str,
        tenant: str,
        command_type: str,
        fingerprint: str,
        result: dict[str, Any],
        at: datetime,
    ) -> CommandRecord:
        return cls._create(
            ev.CommandRecorded,  # type: ignore[arg-type]  # pydantic event; library types it nominally
            id=command_aggregate_id(command_id, tenant),
            command_id=command_id,
            command_type=command_type,
            fingerprint=fingerprint,
            result=result,
            timestamp=at,
        )

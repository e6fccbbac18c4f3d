"""A command index: one aggregate per command id (uuid5), holding the answer the ledger gave.

Senders retry after a timeout. A command carrying `command_id` is saved together with this
record, in the same atomic save as its own events, so a second save for the same id collides at
version 1 in the event store, whichever process makes it. A retry finds the record and gets the
original answer back; the same id with other content is a conflict.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate

from domain import events as ev
from domain.canonical import canonical_json

COMMAND_NAMESPACE = uuid.UUID("8c0f6a52-3d7e-5b1a-9e24-61f0d2c4b7a3")
COMMAND_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,64}$"


def command_aggregate_id(command_id: str) -> UUID:
    return uuid.uuid5(COMMAND_NAMESPACE, command_id)


def command_fingerprint(content: dict[str, Any], key: bytes) -> str:
    """A keyed digest of the command's content (everything but `command_id`): equal content,
    equal fingerprint; and ID numbers inside it cannot be recovered by trying candidates."""
    return hmac.new(key, canonical_json(content), hashlib.sha256).hexdigest()


class CommandRecord(BaseAggregate[UUID]):
    command_id: str
    command_type: str
    fingerprint: str
    result: dict[str, Any]

    def init_state(self) -> None:
        """Nothing beyond what the created event assigns."""

    @classmethod
    def record(
        cls, *, command_id: str, command_type: str, fingerprint: str, result: dict[str, Any], at: datetime
    ) -> CommandRecord:
        return cls._create(
            ev.CommandRecorded,  # type: ignore[arg-type]  # pydantic event; library types it nominally
            id=command_aggregate_id(command_id),
            command_id=command_id,
            command_type=command_type,
            fingerprint=fingerprint,
            result=result,
            timestamp=at,
        )

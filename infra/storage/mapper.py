"""Stores pydantic events as canonical JSON (sorted keys, no spaces), so that the stored
bytes of an event are a pure function of its content and the ledger's key: hashing and tamper
evidence rely on it. The event store's mapper seals each event with its MAC and checks it on
load (infra.storage.event_macs); the snapshot store's has no `macs` (snapshots carry their own).

Older stored versions of an event class are upcast on read: an event class with
`class_version = N` defines `upcast_vK_vK+1(state: dict) -> None` static methods.
"""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic

from domain.canonical import canonical_json_of_typed
from infra.storage.event_macs import EventMacs, payload_of


class CanonicalJSONTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return canonical_json_of_typed(obj)  # events' and snapshots' dumps: typed, no float

    def decode(self, data: bytes) -> Any:
        return json.loads(data)


class PydanticMapper(Mapper):
    macs: EventMacs | None = None  # set by the application once the store is open

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = domain_event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        topic = get_topic(type(domain_event))
        payload = self.transcoder.encode(state)
        if self.macs is not None:
            payload = self.macs.sealed(domain_event.originator_id, domain_event.originator_version, topic, payload)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=topic,
            state=payload,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        oid, version, topic = stored_event.originator_id, stored_event.originator_version, stored_event.topic
        raw = bytes(stored_event.state)
        payload = self.macs.opened(oid, version, topic, raw) if self.macs is not None else payload_of(raw)
        return decode_event(topic, self.transcoder.decode(payload), oid, version)


def decode_event(topic: str, state: dict[str, Any], originator_id: Any, originator_version: int) -> Any:
    cls = resolve_topic(topic)
    upcast_state(cls, state)
    return cls.model_validate({**state, "originator_id": originator_id, "originator_version": originator_version})


def upcast_state(cls: type, state: dict[str, Any]) -> None:
    version = state.pop("class_version", 1)
    target = getattr(cls, "class_version", 1)
    while version < target:
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1

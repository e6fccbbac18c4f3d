"""Stores pydantic events as canonical JSON (sorted keys, no spaces), so that the stored
bytes of an event are a pure function of its content: hashing and tamper evidence rely on it.

Older stored versions of an event class are upcast on read: an event class with
`class_version = N` defines `upcast_vK_vK+1(state: dict) -> None` static methods.
"""

from __future__ import annotations

import json
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic


class CanonicalJSONTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        return json.loads(data)


class PydanticMapper(Mapper):
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = domain_event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=self.transcoder.encode(state),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        state = self.transcoder.decode(bytes(stored_event.state))
        return decode_event(stored_event.topic, state, stored_event.originator_id, stored_event.originator_version)


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

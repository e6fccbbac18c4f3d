"""Each stored event carries a MAC under the ledger's key, so that an event row written by SQL
is never used to decide and is never sealed.

The hash chain proves that sealed events did not change; it cannot tell who wrote an event
after the last seal, and the next `ledger seal` would seal whatever is in the log. So every
event the ledger stores carries, as the first key of its canonical JSON state,

    "$mac": HMAC-SHA256(key("event"), "<originator id, 32 hex>\\n<version>\\n<topic>\\n" || state without "$mac")

(key("event") as in infra.row_macs; the stored bytes stay canonical JSON, since "$" sorts before
every field name). Loading an event whose MAC does not verify raises EVENT_NOT_PROVEN: nothing
is decided from it. `ledger seal` refuses to seal such an event and `ledger verify` names it.

A store written before events carried MACs holds events without one. The position from which
every event must carry a MAC is recorded once, when this version first opens the store, in
`ledger_meta` (MAC'd, so it cannot be moved by SQL) and in every checkpoint's `covers`: a store
created by this version requires a MAC of every event (`strict`); an upgraded one accepts a
MAC-less event on load (a load cannot tell its position) but `seal` and `verify` refuse every
MAC-less event from that position on.
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from uuid import UUID

from domain.errors import LedgerError
from infra.row_macs import RowMacs
from infra.storage.base import LedgerRecorder
from infra.storage.meta_positions import install_position, stored_position

PREFIX = b'{"$mac":"'
_MAC_END = len(PREFIX) + 64
META_NAME = "event_macs_from"


class EventNotProvenError(LedgerError):
    """A stored event whose MAC does not verify: it was not written by this ledger."""

    code = "EVENT_NOT_PROVEN"


class EventMacs:
    def __init__(self, pseudonym_key: bytes):
        self._macs = RowMacs(pseudonym_key, "event")
        self.strict = True  # a MAC-less event is refused (a store created with MACs)

    def _mac(self, originator_id: UUID | str, version: int, topic: str, payload: bytes) -> bytes:
        hex_id = originator_id.hex if isinstance(originator_id, UUID) else _hex_of(originator_id)
        head = f"{hex_id}\n{version}\n{topic}\n".encode()
        return self._macs.of_bytes(head + payload).encode("ascii")

    def sealed(self, originator_id: UUID | str, version: int, topic: str, payload: bytes) -> bytes:
        """The stored state: canonical JSON `payload` with its MAC as the first key."""
        mac = self._mac(originator_id, version, topic, payload)
        rest = payload[1:]
        return PREFIX + mac + (b'"}' if rest == b"}" else b'",' + rest)

    def opened(self, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
        """The payload of a stored state, its MAC checked; EVENT_NOT_PROVEN when it does not hold
        (or is missing, in a strict store)."""
        found = self.problem(originator_id, version, topic, state, self.strict)
        if found is not None:
            raise EventNotProvenError(f"event {version} of {originator_id}: {found}; it is not used")
        return payload_of(state)

    def problem(self, originator_id: UUID | str, version: int, topic: str, state: bytes, required: bool) -> str | None:
        """What is wrong with this stored event's MAC, or None. `required`: a MAC-less event is a
        problem (at or after the position from which every event carries one)."""
        return self.checked(originator_id, version, topic, state, required)[1]

    def checked(
        self, originator_id: UUID | str, version: int, topic: str, state: bytes, required: bool
    ) -> tuple[bytes, str | None]:
        """(the payload without its MAC, what is wrong with the MAC or None): `problem`, with the
        payload a reader decodes next, so that it is cut out of the state once."""
        state = bytes(state)
        if not has_mac(state):
            if b'"$mac"' in state:
                return state, "its MAC is misplaced (not written by the ledger)"
            return state, "no MAC (not written by the ledger)" if required else None
        payload = payload_of(state)
        expected = self._mac(originator_id, version, topic, payload)
        if not hmac.compare_digest(expected, state[len(PREFIX) : _MAC_END]):
            return payload, "its MAC does not verify (not written by the ledger, or changed)"
        return payload, None


def _hex_of(text: str) -> str:
    """The 32 hex digits of a UUID given as text. PostgreSQL's `uuid::text` (lowercase, with
    hyphens) is read without building a UUID object (the rebuild's profile: one per event);
    any other spelling goes through `UUID`."""
    if len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-" and text.islower():
        hex_id = text.replace("-", "")
        if len(hex_id) == 32 and all(c in _HEX for c in hex_id):
            return hex_id
    return UUID(text).hex


_HEX = frozenset("0123456789abcdef")


def has_mac(state: bytes) -> bool:
    return state.startswith(PREFIX) and state[_MAC_END : _MAC_END + 2] in (b'",', b'"}')


def payload_of(state: bytes) -> bytes:
    """The stored state without its MAC (as it was before the MAC was added)."""
    if not has_mac(state):
        return state
    rest = state[_MAC_END + 2 :]
    return b"{" + rest if state[_MAC_END + 1 : _MAC_END + 2] == b"," else b"{}"


# --- the position from which every event carries a MAC ---------------------------------------
def install_macs_from(recorder: LedgerRecorder, pseudonym_key: bytes) -> None:
    """Record, once, the position from which every event carries a MAC: the log's next position
    when this version first opens the store (1 for a new store; infra.storage.meta_positions)."""
    install_position(recorder, pseudonym_key, META_NAME)


def stored_macs_from(recorder: LedgerRecorder, pseudonym_key: bytes) -> tuple[int | None, str | None]:
    """(the recorded position, what is wrong with the record). A record whose MAC does not verify
    (moved by SQL) gives position 1: every event must then carry a MAC, and the load path fails
    closed. No record (a replica of a primary that this version has not opened yet) gives None:
    MAC-less events are then accepted on load, as in an upgraded store."""
    position, proven = stored_position(recorder, pseudonym_key, META_NAME)
    if not proven:
        return 1, f"ledger_meta {META_NAME}: its MAC does not verify (changed by SQL); every event must carry a MAC"
    return position, None


def decoded_state(state: bytes) -> dict[str, Any]:
    """The JSON state of a stored event, without its MAC (for readers that check nothing: the
    views, which are rebuilt from the log, and reports, whose integrity is `verify`'s)."""
    return json.loads(payload_of(bytes(state)))

"""The hash definitions of the tamper evidence. Pure: no I/O, so an offline verifier can use them.

Every field is length-prefixed, so two different records can never encode to the same bytes:

    record_bytes = field(originator_id) || u64(version) || field(topic) || field(state)
    field(b)     = u64(len(b)) || b          (u64: 8 bytes, big-endian)

- chain link at position p:  link_p = sha256(link_prev || u64(p) || record_bytes), link_0 = 32 zero bytes.
  That is "sha256(previous link || position || originator_id || version || topic ||
  stored state bytes)", with the fields length-prefixed.
- record digest (position-free): sha256("ledger-record/1" || record_bytes); classifies moved records.
- state digest: sha256(state); classifies contents swapped between rows.
- Merkle leaf: sha256(0x00 || u64(p) || record_digest); node: sha256(0x01 || left || right).
  Trees are RFC 6962 / RFC 9162 trees over the leaves of one sealed segment, so an inclusion
  proof is O(log n) hashes however long the log is.
- checkpoint digest: sha256 of the canonical JSON of the checkpoint's fields, which include the
  previous checkpoint's digest: the checkpoints form a chain of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from domain.canonical import canonical_json

GENESIS = bytes(32)
RECORD_PREFIX = b"ledger-record/1"


def _u64(value: int) -> bytes:
    if value < 0:
        raise ValueError("hashing: negative integer")
    return value.to_bytes(8, "big")


def _field(data: bytes) -> bytes:
    return _u64(len(data)) + data


def record_bytes(originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    return _field(str(originator_id).encode("ascii")) + _u64(version) + _field(topic.encode("utf-8")) + _field(state)


def record_digest(originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    return hashlib.sha256(RECORD_PREFIX + record_bytes(originator_id, version, topic, state)).digest()


def state_digest(state: bytes) -> bytes:
    return hashlib.sha256(state).digest()


def link(previous: bytes, position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    return hashlib.sha256(previous + _u64(position) + record_bytes(originator_id, version, topic, state)).digest()


def leaf(position: int, digest: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + _u64(position) + digest).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleAccumulator:
    """Streaming RFC 6962 tree hash: O(log n) memory, one leaf at a time."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def add(self, leaf_hash: bytes) -> None:
        self._stack.append((1, leaf_hash))
        self.size += 1
        while len(self._stack) >= 2 and self._stack[-1][0] == self._stack[-2][0]:
            (size, right), (_, left) = self._stack.pop(), self._stack.pop()
            self._stack.append((size * 2, node(left, right)))

    def root(self) -> bytes:
        if not self._stack:
            return hashlib.sha256(b"").digest()
        result = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            result = node(left, result)
        return result


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    accumulator = MerkleAccumulator()
    for leaf_hash in leaves:
        accumulator.add(leaf_hash)
    return accumulator.root()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def inclusion_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 PATH(index, leaves): the sibling subtree hashes from the leaf up to the root."""
    if not 0 <= index < len(leaves):
        raise ValueError("inclusion_path: index outside the tree")
    path: list[bytes] = []
    low, high = 0, len(leaves)
    while high - low > 1:
        k = _split(high - low)
        if index - low < k:
            path.append(merkle_root(leaves[low + k : high]))
            high = low + k
        else:
            path.append(merkle_root(leaves[low : low + k]))
            low = low + k
    path.reverse()  # leaf to root
    return path


def verify_inclusion(index: int, size: int, leaf_hash: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    result = leaf_hash
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node(result, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


CHECKPOINT_FIELDS = (
    "sequence",
    "first_position",
    "position",
    "record_count",
    "head_sha256",
    "merkle_root_sha256",
    "sealed_at",
    "previous_sha256",
)


def checkpoint_content(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint's digest and signature cover: its eight fields, and `covers` (the heads of
    the access log and the key log and the keys' digest) when it has one; checkpoints sealed
    before they carried it have none."""
    content = {name: checkpoint[name] for name in CHECKPOINT_FIELDS}
    if checkpoint.get("covers") is not None:
        content["covers"] = checkpoint["covers"]
    return content


def checkpoint_digest(checkpoint: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(checkpoint_content(checkpoint))).hexdigest()

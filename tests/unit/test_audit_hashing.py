"""The Merkle tree and chain definitions, checked against a brute-force reference."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from infra.audit import hashing as h


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH, written as the recursive definition."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h.node(reference_root(leaves[:k]), reference_root(leaves[k:]))


@pytest.mark.parametrize("size", range(1, 34))
def test_streaming_root_and_every_inclusion_proof_agree_with_the_definition(size):
    leaves = [h.leaf(i + 1, hashlib.sha256(bytes([i])).digest()) for i in range(size)]
    root = reference_root(leaves)
    assert h.merkle_root(leaves) == root
    for index in range(size):
        path = h.inclusion_path(index, leaves)
        assert h.verify_inclusion(index, size, leaves[index], path, root)
        assert not h.verify_inclusion(index, size, leaves[(index + 1) % size], path, root) or size == 1
        if path:
            broken = [bytes(32), *path[1:]]
            assert not h.verify_inclusion(index, size, leaves[index], broken, root)


def test_link_covers_every_field_unambiguously():
    oid = uuid.UUID(int=7)
    base = h.link(h.GENESIS, 5, oid, 2, "domain.events:AccountCredited", b'{"a":1}')
    assert base != h.link(h.GENESIS, 6, oid, 2, "domain.events:AccountCredited", b'{"a":1}')
    assert base != h.link(h.GENESIS, 5, uuid.UUID(int=8), 2, "domain.events:AccountCredited", b'{"a":1}')
    assert base != h.link(h.GENESIS, 5, oid, 3, "domain.events:AccountCredited", b'{"a":1}')
    assert base != h.link(h.GENESIS, 5, oid, 2, "domain.events:AccountCredite", b'd{"a":1}')
    assert base != h.link(bytes([1]) * 32, 5, oid, 2, "domain.events:AccountCredited", b'{"a":1}')


def test_checkpoint_digest_changes_with_any_field():
    checkpoint = {name: 1 for name in h.CHECKPOINT_FIELDS}
    digest = h.checkpoint_digest(checkpoint)
    for name in h.CHECKPOINT_FIELDS:
        assert h.checkpoint_digest({**checkpoint, name: 2}) != digest

"""Sealing the hash chain over the whole event log (definitions in `hashing`; verifying it is
infra.audit.chain_verification).

`seal` extends the chain from the last checkpoint to the current end of the log, in segments
of at most SEGMENT_RECORDS_MAX records; each segment is written with its checkpoint in one
transaction. `links_for` gives the chain link of any position, sealed or not yet; `trust` says
what a verification could compare with something kept outside the evidence. What `verify`
reports:

- `altered`: same aggregate and version at that position, different bytes;
- `reordered`: the record (or its contents) sealed at another position is now at this one;
- `deleted`: a sealed position is no longer in the log (and its record is nowhere else);
- `inserted`: a position at or before the checkpoint that was never sealed;
- `links` / `checkpoint`: the audit's own tables disagree with each other;
- `signature`: a checkpoint unsigned, signed by another key than the one given, or whose
  signature does not verify (see `signing`);
- `anchor`: the anchor given (a `checkpoint_sha256` published earlier) is not in the chain;
- `nothing_sealed`: the log holds records but there is no checkpoint (e.g. dropped audit tables).

Everything above but `signature` and `anchor` is computed from the database alone, so someone who
can rewrite the database can also rewrite every hash: only the public key and the anchor, kept
outside the database, detect a whole-history rewrite. `verify` says whether it had them.
"""

from __future__ import annotations

from typing import Any

from infra.audit import hashing as h
from infra.audit import signing
from infra.audit.evidence_store import EvidenceStore, LinkRow

SEGMENT_RECORDS_MAX = 65536  # bounds the Merkle tree a bundle proof is cut from
PROBLEMS_MAX = 1000  # problems listed in full; the count is always exact


def seal(
    store: EvidenceStore,
    sealed_at: str,
    segment_records_max: int = SEGMENT_RECORDS_MAX,
    *,
    seed: bytes,
    covers: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Extend the chain to the end of the log; return the checkpoints written (maybe none), each
    signed with the Ed25519 key `seed` (32 bytes) and carrying `covers` (what else the seal
    covers: the heads of the ledger's own logs). When the log has nothing new but `covers` has
    changed, one checkpoint of no records is written, so that what changed is still sealed."""
    checkpoints = store.checkpoints()
    last = checkpoints[-1] if checkpoints else None
    if (
        covers is not None
        and (last is None or last.get("covers") != covers)
        and store.max_position() == (last["position"] if last else 0)
    ):
        return [_write_empty(store, last, sealed_at, seed, covers)]
    head = bytes.fromhex(last["head_sha256"]) if last else h.GENESIS
    sequence = last["sequence"] if last else 0
    previous = last["checkpoint_sha256"] if last else h.GENESIS.hex()
    after = last["position"] if last else 0
    stop = store.max_position()
    written: list[dict[str, Any]] = []
    links: list[LinkRow] = []
    tree = h.MerkleAccumulator()
    for record in store.iter_log(after, stop):
        digest = h.record_digest(record.originator_id, record.originator_version, record.topic, record.state)
        head = h.link(head, record.id, record.originator_id, record.originator_version, record.topic, record.state)
        links.append(
            LinkRow(
                record.id,
                str(record.originator_id),
                record.originator_version,
                digest.hex(),
                h.state_digest(record.state).hex(),
                head.hex(),
            )
        )
        tree.add(h.leaf(record.id, digest))
        if len(links) == segment_records_max:
            written.append(_write(store, links, tree, sequence + len(written) + 1, sealed_at, previous, seed, covers))
            previous = written[-1]["checkpoint_sha256"]
            links, tree = [], h.MerkleAccumulator()
    if links:
        written.append(_write(store, links, tree, sequence + len(written) + 1, sealed_at, previous, seed, covers))
    return written


def _write(
    store: EvidenceStore,
    links: list[LinkRow],
    tree: h.MerkleAccumulator,
    sequence: int,
    sealed_at: str,
    previous: str,
    seed: bytes,
    covers: dict[str, Any] | None,
) -> dict[str, Any]:
    checkpoint = {
        "sequence": sequence,
        "first_position": links[0].position,
        "position": links[-1].position,
        "record_count": len(links),
        "head_sha256": links[-1].link_sha256,
        "merkle_root_sha256": tree.root().hex(),
        "sealed_at": sealed_at,
        "previous_sha256": previous,
        "covers": covers,
    }
    return _signed_and_written(store, links, checkpoint, seed)


def _write_empty(
    store: EvidenceStore, last: dict[str, Any] | None, sealed_at: str, seed: bytes, covers: dict[str, Any]
) -> dict[str, Any]:
    """A checkpoint of no records (the log has nothing new): it seals `covers` on the chain."""
    position = last["position"] if last else 0
    checkpoint = {
        "sequence": (last["sequence"] if last else 0) + 1,
        "first_position": position + 1,
        "position": position,
        "record_count": 0,
        "head_sha256": last["head_sha256"] if last else h.GENESIS.hex(),
        "merkle_root_sha256": h.MerkleAccumulator().root().hex(),
        "sealed_at": sealed_at,
        "previous_sha256": last["checkpoint_sha256"] if last else h.GENESIS.hex(),
        "covers": covers,
    }
    return _signed_and_written(store, [], checkpoint, seed)


def _signed_and_written(
    store: EvidenceStore, links: list[LinkRow], checkpoint: dict[str, Any], seed: bytes
) -> dict[str, Any]:
    checkpoint["checkpoint_sha256"] = h.checkpoint_digest(checkpoint)
    checkpoint["public_key"], checkpoint["signature"] = signing.sign_checkpoint(seed, checkpoint)
    store.write_segment(links, checkpoint)
    return checkpoint


NOT_DETECTED = (
    "a rewrite of the whole history (records, links, Merkle roots and checkpoints recomputed) by "
    "someone with write access to the database"
)


def trust(public_key: bytes | None, anchor: str | None) -> dict[str, Any]:
    """What a verification could compare with something kept outside the evidence, and what it
    therefore could not detect."""
    if public_key is None and anchor is None:
        missing = f"no public key and no anchor given: not detected: {NOT_DETECTED}"
    elif anchor is None:
        missing = f"no anchor given: not detected: {NOT_DETECTED} who also holds the seal key"
    elif public_key is None:
        missing = (
            "no public key given: not detected: a rewrite of the history sealed after the anchor's "
            "checkpoint by someone with write access to the database"
        )
    else:
        missing = None
    return {
        "signatures_checked": public_key is not None,
        "anchor_compared": anchor is not None,
        "public_key": public_key.hex() if public_key is not None else None,
        "not_detected": missing,
    }


def links_for(store: EvidenceStore, positions: list[int]) -> dict[int, tuple[str | None, bool]]:
    """The chain link of each position: as sealed, or (past the last checkpoint) as the next seal
    would compute it from the log as it is now. Positions not in the log get (None, False)."""
    checkpoints = store.checkpoints()
    sealed_through = checkpoints[-1]["position"] if checkpoints else 0
    out: dict[int, tuple[str | None, bool]] = {}
    for position in positions:
        if position <= sealed_through:
            row = store.link_at(position)
            out[position] = (row.link_sha256 if row else None, row is not None)
    pending = sorted(p for p in positions if p > sealed_through)
    if pending:
        head = bytes.fromhex(checkpoints[-1]["head_sha256"]) if checkpoints else h.GENESIS
        wanted = set(pending)
        for record in store.iter_log(sealed_through, pending[-1]):
            head = h.link(head, record.id, record.originator_id, record.originator_version, record.topic, record.state)
            if record.id in wanted:
                out[record.id] = (head.hex(), False)
        for position in pending:
            out.setdefault(position, (None, False))
    return out

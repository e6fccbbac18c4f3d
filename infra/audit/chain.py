"""Seal and verify the hash chain over the whole event log (definitions in `hashing`).

`seal` extends the chain from the last checkpoint to the current end of the log, in segments
of at most SEGMENT_RECORDS_MAX records; each segment is written with its checkpoint in one
transaction. `verify` recomputes everything up to the last checkpoint from the log as it is
now and classifies each difference from what was sealed:

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

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from infra.audit import hashing as h
from infra.audit import signing
from infra.audit.evidence_store import EvidenceStore, LinkRow

SEGMENT_RECORDS_MAX = 65536  # bounds the Merkle tree a bundle proof is cut from
PROBLEMS_MAX = 1000  # problems listed in full; the count is always exact


def seal(
    store: EvidenceStore, sealed_at: str, segment_records_max: int = SEGMENT_RECORDS_MAX, *, seed: bytes
) -> list[dict[str, Any]]:
    """Extend the chain to the end of the log; return the checkpoints written (maybe none), each
    signed with the Ed25519 key `seed` (32 bytes)."""
    checkpoints = store.checkpoints()
    last = checkpoints[-1] if checkpoints else None
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
            written.append(_write(store, links, tree, sequence + len(written) + 1, sealed_at, previous, seed))
            previous = written[-1]["checkpoint_sha256"]
            links, tree = [], h.MerkleAccumulator()
    if links:
        written.append(_write(store, links, tree, sequence + len(written) + 1, sealed_at, previous, seed))
    return written


def _write(
    store: EvidenceStore,
    links: list[LinkRow],
    tree: h.MerkleAccumulator,
    sequence: int,
    sealed_at: str,
    previous: str,
    seed: bytes,
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
    }
    checkpoint["checkpoint_sha256"] = h.checkpoint_digest(checkpoint)
    checkpoint["public_key"], checkpoint["signature"] = signing.sign_checkpoint(seed, checkpoint)
    store.write_segment(links, checkpoint)
    return checkpoint


@dataclass
class _Scan:
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0
    checked: int = 0
    # Differences awaiting classification, by position (bounded by PROBLEMS_MAX each).
    actual: dict[int, Any] = field(default_factory=dict)  # position -> (record_hex, state_hex, oid, version)
    sealed: dict[int, LinkRow] = field(default_factory=dict)

    def add(self, problem: dict[str, Any]) -> None:
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_MAX:
            self.problems.append(problem)


def _merge(store: EvidenceStore, stop: int) -> Iterator[tuple[int, Any, LinkRow | None]]:
    """Pairs (position, log record or None, sealed link or None) in position order up to `stop`."""
    log, links = store.iter_log(0, stop), store.iter_links(0, stop)
    record, row = next(log, None), next(links, None)
    while record is not None or row is not None:
        if record is not None and (row is None or record.id < row.position):
            yield record.id, record, None
            record = next(log, None)
        elif row is not None and (record is None or row.position < record.id):
            yield row.position, None, row
            row = next(links, None)
        else:
            assert record is not None and row is not None  # both at the same position
            yield record.id, record, row
            record, row = next(log, None), next(links, None)


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


def verify(store: EvidenceStore, public_key: bytes | None = None, anchor: str | None = None) -> dict[str, Any]:
    """Recompute the chain; with `public_key` every checkpoint must be signed by it, with `anchor`
    (a checkpoint_sha256 published earlier) the chain of checkpoints must contain it."""
    anchor = anchor.strip().lower() if anchor else None
    tables = store.has_audit_tables()
    checkpoints = store.checkpoints()
    if not checkpoints:
        return _nothing_sealed(store.max_position(), tables, public_key, anchor)
    scan = _Scan()
    _check_checkpoints(checkpoints, scan)
    anchor_found = _check_signatures_and_anchor(checkpoints, public_key, anchor, scan)
    last = checkpoints[-1]
    segments = iter(checkpoints)
    segment, tree = next(segments), h.MerkleAccumulator()
    head, sealed_previous = h.GENESIS, h.GENESIS.hex()
    for position, record, row in _merge(store, last["position"]):
        while position > segment["position"]:
            _close_segment(segment, tree, scan)
            segment, tree = next(segments), h.MerkleAccumulator()
        if record is not None:
            scan.checked += 1
            args = (record.originator_id, record.originator_version, record.topic, record.state)
            digest = h.record_digest(*args)
            head = h.link(head, position, *args)
            tree.add(h.leaf(position, digest))
            if row is not None and row.record_sha256 == digest.hex():
                # The record is as sealed; its sealed link must follow from the sealed previous one.
                if row.link_sha256 != h.link(bytes.fromhex(sealed_previous), position, *args).hex():
                    scan.add(
                        {
                            "position": position,
                            "kind": "links",
                            "detail": "the sealed link does not follow from the record and the previous link",
                        }
                    )
                sealed_previous = row.link_sha256
                continue
            _hold(
                scan.actual,
                position,
                (
                    digest.hex(),
                    h.state_digest(record.state).hex(),
                    str(record.originator_id),
                    record.originator_version,
                ),
                scan,
            )
        if row is not None:
            _hold(scan.sealed, position, row, scan)
            sealed_previous = row.link_sha256
    _close_segment(segment, tree, scan)
    _classify(scan)
    for position in store.positions_below_start():
        scan.add(
            {
                "position": position,
                "kind": "inserted",
                "detail": "a row below position 1: invisible to the log, yet loaded with its aggregate",
            }
        )
    if not scan.problem_count and head.hex() != last["head_sha256"]:
        scan.add(
            {
                "position": last["position"],
                "kind": "checkpoint",
                "detail": "the recomputed chain head differs from the checkpoint's head",
            }
        )
    scan.problems.sort(key=lambda p: (p["position"], p["kind"]))
    positions = [p["position"] for p in scan.problems]
    return {
        "ok": scan.problem_count == 0,
        "checked": scan.checked,
        "checkpoint": _public(last),
        "problems": scan.problems,
        "problem_count": scan.problem_count,
        "first_broken_position": min(positions) if positions else None,
        "unsealed": max(0, store.max_position() - last["position"]),
        "head_sha256": head.hex(),
        "anchor_found": anchor_found,
        "development_key": any(c.get("public_key") == signing.DEVELOPMENT_PUBLIC_KEY for c in checkpoints),
        **trust(public_key, anchor),
    }


def _nothing_sealed(unsealed: int, tables: bool, public_key: bytes | None, anchor: str | None) -> dict[str, Any]:
    """verify's answer when there is no checkpoint: fine for an empty log, a problem otherwise."""
    problems = (
        []
        if not unsealed
        else [
            {
                "position": 1,
                "kind": "nothing_sealed",
                "detail": f"{unsealed} record(s) in the log and no checkpoint"
                + ("" if tables else " (the audit tables are missing)")
                + ": if this ledger was sealed before, its audit tables were emptied or dropped",
            }
        ]
    )
    if anchor is not None:
        problems.append({"position": 1, "kind": "anchor", "detail": f"anchor {anchor} is not in the chain"})
    return {
        "ok": not problems,
        "checked": 0,
        "checkpoint": None,
        "problems": problems,
        "problem_count": len(problems),
        "first_broken_position": 1 if problems else None,
        "unsealed": unsealed,
        "anchor_found": False if anchor is not None else None,
        **trust(public_key, anchor),
        "note": "nothing sealed: run `ledger seal`" if unsealed else "the log is empty: nothing to verify",
    }


def _check_signatures_and_anchor(
    checkpoints: list[dict[str, Any]], public_key: bytes | None, anchor: str | None, scan: _Scan
) -> bool | None:
    """Each checkpoint's signature (against `public_key` if given); whether `anchor` is among them."""
    for checkpoint in checkpoints:
        problem = signing.signature_problem(checkpoint, public_key)
        if problem:
            scan.add({"position": checkpoint["first_position"], "kind": "signature", "detail": problem})
    if anchor is None:
        return None
    anchor_found = any(c["checkpoint_sha256"] == anchor for c in checkpoints)
    if not anchor_found:
        scan.add(
            {
                "position": checkpoints[0]["first_position"],
                "kind": "anchor",
                "detail": f"anchor {anchor} is not in the chain of checkpoints: the sealed history "
                "is not the one that was published",
            }
        )
    return anchor_found


HELD_MAX = 20 * PROBLEMS_MAX  # differences held for classification; beyond, counted only


def _hold(held: dict[int, Any], position: int, value: Any, scan: _Scan) -> None:
    if len(held) < HELD_MAX:
        held[position] = value
    else:
        scan.add({"position": position, "kind": "unclassified", "detail": "too many differences to classify"})


def _close_segment(segment: dict[str, Any], tree: h.MerkleAccumulator, scan: _Scan) -> None:
    """A segment whose records all match must also match its Merkle root (else the checkpoint
    table was edited); a segment with record problems is reported through those."""
    in_segment = [p for p in (*scan.actual, *scan.sealed) if segment["first_position"] <= p <= segment["position"]]
    if not in_segment and tree.root().hex() != segment["merkle_root_sha256"]:
        scan.add(
            {
                "position": segment["first_position"],
                "kind": "checkpoint",
                "detail": f"checkpoint {segment['sequence']}: Merkle root does not match its records",
            }
        )


def _classify(scan: _Scan) -> None:
    sealed_by_record = {row.record_sha256: p for p, row in scan.sealed.items()}
    sealed_by_state = {row.state_sha256: p for p, row in scan.sealed.items()}
    moved_from: set[int] = set()
    for position, (record_hex, state_hex, oid, version) in sorted(scan.actual.items()):
        row = scan.sealed.get(position)
        origin = sealed_by_record.get(record_hex, sealed_by_state.get(state_hex))
        problem = {"position": position, "originator_id": oid, "originator_version": version}
        if origin is not None and origin != position:
            moved_from.add(origin)
            scan.add(
                {
                    **problem,
                    "kind": "reordered",
                    "detail": f"this position now holds the record sealed at position {origin}",
                }
            )
        elif row is not None:
            scan.add(
                {
                    **problem,
                    "kind": "altered",
                    "detail": "stored bytes differ from what was sealed"
                    if (row.originator_id, row.originator_version) == (oid, version)
                    else f"sealed as {row.originator_id} v{row.originator_version}",
                }
            )
        else:
            scan.add({**problem, "kind": "inserted", "detail": "not in the sealed chain"})
    for position, row in sorted(scan.sealed.items()):
        if position not in scan.actual and position not in moved_from:
            scan.add(
                {
                    "position": position,
                    "originator_id": row.originator_id,
                    "originator_version": row.originator_version,
                    "kind": "deleted",
                    "detail": "a sealed record is missing from the log",
                }
            )
        elif position not in scan.actual:
            scan.add(
                {
                    "position": position,
                    "originator_id": row.originator_id,
                    "originator_version": row.originator_version,
                    "kind": "reordered",
                    "detail": "the record sealed here was moved; this position is now empty",
                }
            )


def _check_checkpoints(checkpoints: list[dict[str, Any]], scan: _Scan) -> None:
    previous = h.GENESIS.hex()
    for checkpoint in checkpoints:
        if (
            checkpoint["previous_sha256"] != previous
            or h.checkpoint_digest(checkpoint) != checkpoint["checkpoint_sha256"]
        ):
            scan.add(
                {
                    "position": checkpoint["first_position"],
                    "kind": "checkpoint",
                    "detail": f"checkpoint {checkpoint['sequence']} does not chain to its predecessor",
                }
            )
        previous = checkpoint["checkpoint_sha256"]


def _public(checkpoint: dict[str, Any]) -> dict[str, Any]:
    return {
        k: checkpoint[k]
        for k in (
            "sequence",
            "position",
            "head_sha256",
            "merkle_root_sha256",
            "sealed_at",
            "checkpoint_sha256",
            "public_key",
            "signature",
        )
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

"""Verifying the hash chain over the whole event log against what was sealed (infra.audit.chain
seals it; the definitions are in `hashing`). `verify` recomputes everything up to the last
checkpoint from the log as it is now and classifies each difference from what was sealed:

- `altered`: same aggregate and version at that position, different bytes;
- `reordered`: the record (or its contents) sealed at another position is now at this one;
- `deleted`: a sealed position is no longer in the log (and its record is nowhere else);
- `inserted`: a position at or before the checkpoint that was never sealed;
- `links` / `checkpoint`: the audit's own tables disagree with each other (a link row beyond the
  last checkpoint included);
- `signature`: a checkpoint unsigned, signed by another key than the one given, or whose
  signature does not verify (see `signing`);
- `anchor`: the anchor given (a `checkpoint_sha256` published earlier) is not in the chain;
- `nothing_sealed`: the log holds records but there is no checkpoint (e.g. dropped audit tables).

Everything above but `signature` and `anchor` is computed from the database alone, so someone who
can rewrite the database can also rewrite every hash: only the public key and the anchor, kept
outside the database, detect a whole-history rewrite. `verify` says whether it had them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from infra.audit import hashing as h
from infra.audit import signing
from infra.audit.chain import PROBLEMS_MAX, trust
from infra.audit.evidence_store import EvidenceStore, LinkRow


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
                # The record is as sealed; its sealed link must follow from the sealed previous one,
                # and the link row's other columns must describe it.
                described = (str(record.originator_id), record.originator_version, h.state_digest(record.state).hex())
                if (row.originator_id, row.originator_version, row.state_sha256) != described:
                    scan.add(
                        {"position": position, "kind": "links", "detail": "the link row does not describe its record"}
                    )
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
    for row in itertools.islice(store.iter_links(last["position"]), PROBLEMS_MAX):
        scan.add({"position": row.position, "kind": "links", "detail": "a link row beyond the last checkpoint"})
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
            "covers",
        )
    }

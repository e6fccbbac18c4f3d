"""An insider's forgeries: rewrite history and recompute every hash the ledger keeps.

The forger has write access to the database (events and audit tables) and knows the public
hash definitions (infra.audit.hashing, docs/evidence-format.md). Whether it also has the keys
is a parameter: `seed=None` leaves the forged checkpoints with their old signatures (it cannot
sign), a seed re-signs them (a forger who stole the seal key); `pseudonym_key=None` leaves the
changed event with its old MAC (which then fails), a key recomputes it (who stole that too).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from infra.audit import hashing as h
from infra.storage.event_macs import EventMacs, payload_of
from tests.support.tamper import PostgresTamper, SQLiteTamper


def _sql(tamper: Any) -> tuple[str, str]:
    return ("rowid", "?") if isinstance(tamper, SQLiteTamper) else ("notification_id", "%s")


def rewrite_whole_chain(
    tamper: SQLiteTamper | PostgresTamper,
    position: int,
    old: bytes,
    new: bytes,
    seed: bytes | None = None,
    pseudonym_key: bytes | None = None,
) -> None:
    """Replace `old` by `new` in the stored state at `position`, then recompute every link row,
    Merkle root, chain head and checkpoint digest (and, given a seed, every signature; given the
    pseudonym key, the event's MAC)."""
    column, mark = _sql(tamper)
    table = tamper.table
    oid, version, topic, state = tamper.row(position)
    state = bytes(state)
    assert old in state, f"{old!r} is not in the record at position {position}"
    forged = state.replace(old, new)
    if pseudonym_key is not None:
        forged = EventMacs(pseudonym_key).sealed(UUID(str(oid)), version, topic, payload_of(forged))
    tamper.set_state(position, forged)
    rows = tamper._run(
        (
            f"SELECT {column}, originator_id, originator_version, topic, state FROM {table} "
            f"WHERE {column} >= 1 ORDER BY {column}",
            (),
        )
    )[0]
    head, links, leaves = h.GENESIS, {}, {}
    for pos, oid, version, topic, data in rows:
        data = data.encode() if isinstance(data, str) else bytes(data)
        oid = UUID(str(oid))  # SQLite keeps the hex form, PostgreSQL a uuid
        digest = h.record_digest(oid, version, topic, data)
        head = h.link(head, pos, oid, version, topic, data)
        links[pos] = (digest.hex(), h.state_digest(data).hex(), head.hex())
        leaves[pos] = h.leaf(pos, digest)
    update = (
        f"UPDATE audit_chain_links SET record_sha256={mark}, state_sha256={mark}, link_sha256={mark} "
        f"WHERE position={mark}"
    )
    tamper._run(*[(update, (*values, pos)) for pos, values in links.items()])
    checkpoints = tamper._run(
        (
            "SELECT sequence, first_position, position, record_count, sealed_at, covers "
            "FROM audit_checkpoints ORDER BY sequence",
            (),
        )
    )[0]
    previous = h.GENESIS.hex()
    statements: list[tuple[str, tuple]] = []
    for sequence, first, last, count, sealed_at, covers in checkpoints:
        content: dict[str, Any] = {
            "sequence": sequence,
            "first_position": first,
            "position": last,
            "record_count": count,
            "head_sha256": links[max(p for p in links if p <= last)][2],
            "merkle_root_sha256": h.merkle_root([leaves[p] for p in sorted(leaves) if first <= p <= last]).hex(),
            "sealed_at": sealed_at,
            "previous_sha256": previous,
        }
        if covers:
            content["covers"] = json.loads(covers)
        checkpoint_sha256 = h.checkpoint_digest(content)
        statements.append(
            (
                f"UPDATE audit_checkpoints SET head_sha256={mark}, merkle_root_sha256={mark}, "
                f"previous_sha256={mark}, checkpoint_sha256={mark} WHERE sequence={mark}",
                (content["head_sha256"], content["merkle_root_sha256"], previous, checkpoint_sha256, sequence),
            )
        )
        if seed is not None:
            from infra.audit import signing

            public, signature = signing.sign_checkpoint(seed, content)
            statements.append(
                (
                    f"UPDATE audit_checkpoints SET public_key={mark}, signature={mark} WHERE sequence={mark}",
                    (public, signature, sequence),
                )
            )
        previous = checkpoint_sha256
    tamper._run(*statements)


def drop_audit_tables(tamper: SQLiteTamper | PostgresTamper) -> None:
    tamper._run(("DROP TABLE audit_chain_links", ()), ("DROP TABLE audit_checkpoints", ()))


def reforge(data: bytes, change: Callable[[dict], Any]) -> bytes:
    """A forger who edits an evidence bundle's content and recomputes the bundle's own digest."""
    bundle = json.loads(data)
    change(bundle)
    bundle.pop("bundle_sha256")
    bundle["bundle_sha256"] = hashlib.sha256(h.canonical_json(bundle)).hexdigest()
    return h.canonical_json(bundle) + b"\n"

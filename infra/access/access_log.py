"""Who read whose data (PIPL), in the ledger's own store (beside the event store):

- `ledger_access_log`: append-only record of key, role, person (aggregate id, never an ID
  number), endpoint, time and purpose; a hash chain (infra.access.access_chain), and
- `ledger_access_checkpoints`: its heads, signed with the seal key by `ledger seal`.

Created with CREATE TABLE IF NOT EXISTS on first use; a reader (a replica, `verify`) creates
nothing.
"""

from __future__ import annotations

from typing import Any

from infra.access import access_chain
from infra.access.keys import now_iso
from infra.storage.base import LedgerRecorder, Run

_DDL = (
    "CREATE TABLE IF NOT EXISTS {ledger_access_log} (sequence BIGINT PRIMARY KEY, at TEXT NOT NULL, "
    "key_id TEXT NOT NULL, role TEXT NOT NULL, person TEXT NOT NULL, endpoint TEXT NOT NULL, "
    "purpose TEXT NOT NULL DEFAULT '', previous_sha256 TEXT NOT NULL, entry_sha256 TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {ledger_access_checkpoints} (sequence BIGINT PRIMARY KEY, "
    "head_sha256 TEXT NOT NULL, sealed_at TEXT NOT NULL, previous_sha256 TEXT NOT NULL, "
    "public_key TEXT NOT NULL, signature TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ledger_access_log_person ON {ledger_access_log} (person, at)",
)
_CHECKPOINT_COLUMNS = ("sequence", "head_sha256", "sealed_at", "previous_sha256", "public_key", "signature")


class AccessLog:
    def __init__(self, recorder: LedgerRecorder, *, create: bool = True):
        self.tables = recorder.tables
        if create:
            with self.tables.transaction() as run:
                for statement in _DDL:
                    run(statement)

    def exists(self) -> bool:
        """Whether this store has the access-log tables (a ledger never served has none)."""
        return self.tables.exists("ledger_access_checkpoints")

    def record(self, key: dict[str, Any], person: str, endpoint: str, purpose: str) -> None:
        """Append one entry to the hash chain (writers serialised: several server processes
        append to one chain, never to forks of it)."""
        entry = {"at": now_iso(), "key_id": key["key_id"], "role": key["role"], "person": person,
                 "endpoint": endpoint, "purpose": purpose}  # fmt: skip
        with self.tables.transaction() as run:
            self.tables.lock(run, "ledger_access_log")
            last = run(
                "SELECT sequence, entry_sha256 FROM {ledger_access_log} ORDER BY sequence DESC LIMIT 1", (), True
            )
            sequence = last[0]["sequence"] + 1 if last else 1
            previous = last[0]["entry_sha256"] if last else access_chain.GENESIS
            digest = access_chain.entry_digest(previous, {**entry, "sequence": sequence})
            run(
                "INSERT INTO {ledger_access_log} (sequence, at, key_id, role, person, endpoint, purpose, "
                "previous_sha256, entry_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sequence, entry["at"], entry["key_id"], entry["role"], person, endpoint, purpose, previous, digest),
            )

    def entries(self) -> list[dict[str, Any]]:
        with self.tables.transaction(commit=False) as run:
            return run(
                "SELECT sequence, at, key_id, role, person, endpoint, purpose, previous_sha256, entry_sha256 "
                "FROM {ledger_access_log} ORDER BY sequence",
                (),
                True,
            )

    def checkpoints(self) -> list[dict[str, Any]]:
        with self.tables.transaction(commit=False) as run:
            return run(f"SELECT {', '.join(_CHECKPOINT_COLUMNS)} FROM {{ledger_access_checkpoints}} ORDER BY sequence",
                       (), True)  # fmt: skip

    def seal(self, seed: bytes, sealed_at: str) -> dict[str, Any] | None:
        """Sign the chain's head (nothing new since the last checkpoint: no new checkpoint)."""
        with self.tables.transaction() as run:
            self.tables.lock(run, "ledger_access_log")
            return _seal(run, seed, sealed_at)

    def verify(self, trusted: bytes | None = None) -> dict[str, Any]:
        return access_chain.verify(self.entries(), self.checkpoints(), trusted)

    def of_person(self, person: str, limit: int = 1000) -> list[dict[str, Any]]:
        with self.tables.transaction(commit=False) as run:
            return run(
                "SELECT at, key_id, role, person, endpoint, purpose FROM {ledger_access_log} WHERE person = ? "
                "ORDER BY sequence LIMIT ?",
                (person, limit),
                True,
            )


def _seal(run: Run, seed: bytes, sealed_at: str) -> dict[str, Any] | None:
    head = run("SELECT sequence, entry_sha256 FROM {ledger_access_log} ORDER BY sequence DESC LIMIT 1", (), True)
    last = run(
        "SELECT sequence, head_sha256, sealed_at, previous_sha256 FROM {ledger_access_checkpoints} "
        "ORDER BY sequence DESC LIMIT 1",
        (),
        True,
    )
    if not head or (last and last[0]["sequence"] == head[0]["sequence"]):
        return None
    previous = access_chain.checkpoint_digest(last[0]) if last else access_chain.GENESIS
    content = {"sequence": head[0]["sequence"], "head_sha256": head[0]["entry_sha256"],
               "sealed_at": sealed_at, "previous_sha256": previous}  # fmt: skip
    checkpoint = access_chain.sign(seed, content)
    run(
        f"INSERT INTO {{ledger_access_checkpoints}} ({', '.join(_CHECKPOINT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
        tuple(checkpoint[name] for name in _CHECKPOINT_COLUMNS),
    )
    return checkpoint

"""Who read whose data (PIPL), in the ledger's own store (beside the event store):

- `ledger_access_log`: append-only record of key, role, person (aggregate id, never an ID
  number), endpoint, time and purpose; a hash chain of MAC'd entries (infra.access.access_chain),
  whose head every signed checkpoint of the events carries;
- `ledger_access_checkpoints`: the heads signed apart by ledgers sealed before checkpoints carried
  them (read and checked, no longer written).

Created with CREATE TABLE IF NOT EXISTS on first use; a reader (a replica, `verify`) creates
nothing.
"""

from __future__ import annotations

from typing import Any

from infra.access import access_chain
from infra.access.keys import now_iso
from infra.access.log_chain import EMPTY, Head
from infra.storage.base import LedgerRecorder, Run

_DDL = (
    "CREATE TABLE IF NOT EXISTS {ledger_access_log} (sequence BIGINT PRIMARY KEY, at TEXT NOT NULL, "
    "key_id TEXT NOT NULL, role TEXT NOT NULL, person TEXT NOT NULL, endpoint TEXT NOT NULL, "
    "purpose TEXT NOT NULL DEFAULT '', previous_sha256 TEXT NOT NULL, entry_sha256 TEXT NOT NULL, row_mac TEXT)",
    "CREATE TABLE IF NOT EXISTS {ledger_access_checkpoints} (sequence BIGINT PRIMARY KEY, "
    "head_sha256 TEXT NOT NULL, sealed_at TEXT NOT NULL, previous_sha256 TEXT NOT NULL, "
    "public_key TEXT NOT NULL, signature TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ledger_access_log_person ON {ledger_access_log} (person, at)",
)
_COLUMNS = ("sequence", "at", "key_id", "role", "person", "endpoint", "purpose", "previous_sha256", "entry_sha256")
_CHECKPOINT_COLUMNS = ("sequence", "head_sha256", "sealed_at", "previous_sha256", "public_key", "signature")


class AccessLog:
    def __init__(self, recorder: LedgerRecorder, pseudonym_key: bytes, *, create: bool = True):
        self.tables = recorder.tables
        self.chain = access_chain.access_chain(pseudonym_key)
        if create:
            with self.tables.transaction() as run:
                for statement in _DDL:
                    run(statement)
            if "row_mac" not in self.tables.columns("ledger_access_log"):  # a log from before entries had a MAC
                with self.tables.transaction() as run:
                    run("ALTER TABLE {ledger_access_log} ADD COLUMN row_mac TEXT")

    def exists(self) -> bool:
        """Whether this store has the access log (a ledger never served has none)."""
        return self.tables.exists("ledger_access_log")

    def record(self, key: dict[str, Any], person: str, endpoint: str, purpose: str) -> None:
        """Append one entry to the hash chain (writers serialised: several server processes
        append to one chain, never to forks of it)."""
        entry = {"at": now_iso(), "key_id": key["key_id"], "role": key["role"], "person": person,
                 "endpoint": endpoint, "purpose": purpose}  # fmt: skip
        with self.tables.transaction() as run:
            self.tables.lock(run, "ledger_access_log")
            row = self.chain.next_row(_head(run), entry)
            names = (*_COLUMNS, "row_mac")
            run(
                f"INSERT INTO {{ledger_access_log}} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                tuple(row[name] for name in names),
            )

    def head(self) -> Head:
        """Where the log stands now (what a seal covers)."""
        if not self.exists():
            return EMPTY
        with self.tables.transaction(commit=False) as run:
            return _head(run)

    def entries(self) -> list[dict[str, Any]]:
        with self.tables.transaction(commit=False) as run:
            return run(f"SELECT {', '.join(_COLUMNS)}, row_mac FROM {{ledger_access_log}} ORDER BY sequence", (), True)

    def former_checkpoints(self) -> list[dict[str, Any]]:
        if not self.tables.exists("ledger_access_checkpoints"):
            return []
        with self.tables.transaction(commit=False) as run:
            sql = f"SELECT {', '.join(_CHECKPOINT_COLUMNS)} FROM {{ledger_access_checkpoints}} ORDER BY sequence"
            return run(sql, (), True)

    def verify(self, trusted: bytes | None, sealed: Head | None) -> dict[str, Any]:
        """The chain, every entry's MAC, the head the last checkpoint sealed (`sealed`, None when
        no checkpoint carried one) and the checkpoints of the former kind."""
        entries = self.entries() if self.exists() else []
        check = self.chain.verify(entries, sealed)
        for problem in access_chain.former_checkpoint_problems(entries, self.former_checkpoints(), trusted):
            check.add(problem)
        return {**check.as_dict(sealed), "signatures_checked": trusted is not None}

    def of_person(self, person: str, limit: int = 1000) -> list[dict[str, Any]]:
        with self.tables.transaction(commit=False) as run:
            return run(
                "SELECT at, key_id, role, person, endpoint, purpose FROM {ledger_access_log} WHERE person = ? "
                "ORDER BY sequence LIMIT ?",
                (person, limit),
                True,
            )


def _head(run: Run) -> Head:
    last = run("SELECT sequence, entry_sha256 FROM {ledger_access_log} ORDER BY sequence DESC LIMIT 1", (), True)
    return Head(last[0]["sequence"], last[0]["entry_sha256"]) if last else EMPTY

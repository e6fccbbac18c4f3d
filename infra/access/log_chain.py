"""A log of the ledger's own (the access log, the key log) as a hash chain of MAC'd entries.

Each entry is numbered (`sequence` 1, 2, ...) and carries the digest of the one before it:

    entry_sha256 = SHA-256(context || previous_sha256 (64 hex, ASCII) || canonical_json(entry's fields))
    row_mac      = MAC(purpose, {the fields, previous_sha256, entry_sha256})      (infra.row_macs)

with previous_sha256 of the first entry 64 zeros. So an entry changed, removed, inserted or
reordered breaks every digest after it; an entry written without the ledger's key (appended by
SQL) fails its MAC even where it chains; and each signed checkpoint of the events carries the
log's head (its sequence and entry_sha256), so that cutting the log back, emptying or dropping
it fails `ledger verify` against the published public key and anchor. Entries written before
their log carried a MAC have none: `verify` says how many and checks their chain only; once an
entry with a MAC is written, an entry without one after it is a problem.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from domain.canonical import canonical_json
from infra.row_macs import RowMacs

GENESIS = "0" * 64
PROBLEMS_MAX = 20


@dataclass(frozen=True)
class Head:
    """Where a log stood: its last entry's sequence (0: empty) and digest."""

    sequence: int
    entry_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "head_sha256": self.entry_sha256}

    @classmethod
    def of(cls, covered: dict[str, Any]) -> Head:
        return cls(int(covered["sequence"]), str(covered["head_sha256"]))


EMPTY = Head(0, GENESIS)


@dataclass
class ChainCheck:
    """What verifying a log found; `problems` are dicts with `kind` (the log's name) and `detail`."""

    name: str
    problems: list[dict[str, Any]] = field(default_factory=list)
    entries: int = 0
    unmacked: int = 0  # entries from before the log carried a MAC
    head: Head = EMPTY

    def add(self, detail: str) -> None:
        if len(self.problems) < PROBLEMS_MAX:
            self.problems.append({"kind": self.name, "detail": detail})

    def as_dict(self, sealed: Head | None) -> dict[str, Any]:
        sealed_through = sealed.sequence if sealed else 0
        return {
            "ok": not self.problems,
            "entries": self.entries,
            "sealed_through": sealed_through,
            "unsealed": max(0, self.entries - sealed_through),
            "head_sha256": self.head.entry_sha256 if self.entries else None,
            "entries_without_mac": self.unmacked,
            "problems": self.problems,
        }


class LogChain:
    def __init__(self, name: str, context: bytes, fields: tuple[str, ...], macs: RowMacs):
        self.name = name
        self.context = context
        self.fields = fields
        self.macs = macs

    def digest(self, previous_sha256: str, entry: dict[str, Any]) -> str:
        content = canonical_json({name: entry[name] for name in self.fields})
        return hashlib.sha256(self.context + previous_sha256.encode("ascii") + content).hexdigest()

    def _mac_content(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**{name: row[name] for name in self.fields}, "previous_sha256": row["previous_sha256"],
                "entry_sha256": row["entry_sha256"]}  # fmt: skip

    def next_row(self, last: Head, entry: dict[str, Any]) -> dict[str, Any]:
        """`entry` (its fields but `sequence`) as the row that follows `last`."""
        row = {**entry, "sequence": last.sequence + 1, "previous_sha256": last.entry_sha256}
        row["entry_sha256"] = self.digest(last.entry_sha256, row)
        row["row_mac"] = self.macs.of(self._mac_content(row))
        return row

    def verify(self, rows: list[dict[str, Any]], sealed: Head | None) -> ChainCheck:
        """Recompute the chain over `rows` (in sequence order), every MAC, and the sealed head."""
        check = ChainCheck(self.name, entries=len(rows))
        previous = GENESIS
        for number, row in enumerate(rows, start=1):
            if row["sequence"] != number:
                check.add(f"entry {number}: numbered {row['sequence']} (an entry removed or inserted)")
                break
            digest = self.digest(previous, row)
            if row["previous_sha256"] != previous or row["entry_sha256"] != digest:
                check.add(f"entry {number}: its digest does not follow from its content and the entry before")
            if row.get("row_mac") is None:
                check.unmacked += 1
                if check.unmacked < number:  # after an entry with a MAC, every entry has one
                    check.add(f"entry {number}: no MAC, after entries that have one (not written by the ledger)")
            elif not self.macs.holds(self._mac_content(row), row["row_mac"]):
                check.add(f"entry {number}: its MAC does not verify (not written by the ledger)")
            previous = digest
            check.head = Head(number, digest)
        if sealed is not None:
            self._against_sealed(check, rows, sealed)
        return check

    def _against_sealed(self, check: ChainCheck, rows: list[dict[str, Any]], sealed: Head) -> None:
        """The head a signed checkpoint recorded must still be in the log, unchanged."""
        if sealed.sequence == 0:
            return
        if len(rows) < sealed.sequence:
            check.add(f"{sealed.sequence} entries were sealed, {len(rows)} are left: sealed entries were removed")
        elif rows[sealed.sequence - 1]["entry_sha256"] != sealed.entry_sha256:
            check.add(f"entry {sealed.sequence}: not the entry that was sealed (the log was rewritten)")

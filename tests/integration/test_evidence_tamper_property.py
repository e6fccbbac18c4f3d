"""Property: after a seal, any single-row insert, delete or update in any evidence table fails
`verify` (against the published public key and the last anchor), or the ledger refuses to open.

Evidence tables: the events, the chain's links and checkpoints, the access log and its former
checkpoints, the keys and the key log, `ledger_meta` (the pseudonym key check and the position
from which events carry MACs), and the snapshots. A snapshot deleted is the one change that is
not a failure: snapshots are a cache (a MAC'd one, never trusted unproven), and losing one only
costs replay time; inserting or changing one is a failure.

Method: one sealed SQLite store (a family, a snapshot, keys, reads logged, sealed twice), and for
each example a copy of the file changed by plain SQL, as an insider without the keys would.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import LedgerError
from infra.audit.signing import public_key_of
from infra.core.bootstrap import ledger_of
from infra.eventstore.application import LedgerApp
from infra.settings import ConfigError
from tests.support import Ledger
from tests.support.backends import settings_for
from tests.support.seal import SEAL_SEED, SEAL_SEED_HEX
from tests.support.service import seed_family
from tests.support.state import adult

TABLES = (
    "stored_events",
    "stored_snapshots",
    "audit_chain_links",
    "audit_checkpoints",
    "ledger_access_log",
    "ledger_access_checkpoints",
    "ledger_api_keys",
    "ledger_api_key_log",
    "ledger_meta",
)
ROWID_TABLES = ("stored_events",)  # the position is the rowid


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    path = tmp_path_factory.mktemp("sealed") / "ledger.db"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LEDGER_SEAL_KEY", SEAL_SEED_HEX)
        app = LedgerApp(settings_for(str(path)))
        seed_family(app)
        story = Ledger(app)
        saver = story.enroll(adult(77), at="2025-03-01T09:00:00+08:00")
        for n in range(201):  # a snapshot at version 200
            story.ok("credit", person=saver, amount="0.01", source="adjustment", at=f"2025-03-02T09:{n // 60:02d}:"
                     f"{n % 60:02d}+08:00")  # fmt: skip
        ledger = ledger_of(app)
        ledger.keys.create_key("auditor", region="11")
        ledger.access.record({"key_id": "k_a", "role": "auditor"}, "person-1", "/v1/persons/{person_ref}", "check")
        ledger.evidence.seal()
        ledger.keys.create_key("operator")
        ledger.access.record({"key_id": "k_a", "role": "auditor"}, "person-2", "/v1/persons/{person_ref}", "again")
        anchor = ledger.evidence.seal()["checkpoint"]["checkpoint_sha256"]
        ledger.close()
    yield path, anchor


def columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def rows(db: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    names = (["rowid"] if table in ROWID_TABLES else []) + columns(db, table)
    return [dict(zip(names, row, strict=True)) for row in db.execute(f"SELECT {', '.join(names)} FROM {table}")]


def changed(value: Any, salt: int) -> Any:
    """A value of the same kind that differs from `value`."""
    if isinstance(value, bool) or value is None:
        return f"x{salt}"
    if isinstance(value, int):
        return value + 1 + salt
    if isinstance(value, bytes):
        return value[:-1] + bytes([(value[-1] + 1 + salt) % 256]) if value else b"x"
    text = str(value)
    return text[:-1] + ("0" if text[-1:] != "0" else "1") if text else f"x{salt}"


def tamper(path: Path, table: str, action: str, pick: int, column_pick: int, salt: int) -> bool:
    """Apply one change; False when the table has no row to act on (nothing was changed)."""
    db = sqlite3.connect(path)
    try:
        found = rows(db, table)
        names = columns(db, table) + (["rowid"] if table in ROWID_TABLES else [])
        if action == "insert":
            row: dict[str, Any] = dict(found[pick % len(found)]) if found else {name: f"x{salt}" for name in names}
            column = names[column_pick % len(names)]
            row[column] = changed(row.get(column), salt)
            for key in ("rowid", "sequence", "key_id", "name", "position"):  # a new row, not a clash
                if key in row and key != column:
                    row[key] = changed(row[key], 1000 + salt)
            if table in ROWID_TABLES:
                row["rowid"] = max((r["rowid"] for r in found), default=0) + 1 + salt
            keys = list(row)
            db.execute(f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",
                       [row[k] for k in keys])  # fmt: skip
        elif not found:
            return False
        else:
            row = found[pick % len(found)]
            where = " AND ".join(f"{k} IS ?" for k in row)
            if action == "delete":
                db.execute(f"DELETE FROM {table} WHERE {where}", list(row.values()))
            else:
                column = names[column_pick % len(names)]
                db.execute(
                    f"UPDATE {table} SET {column} = ? WHERE {where}", [changed(row[column], salt), *row.values()]
                )
        db.commit()
        return True
    except sqlite3.IntegrityError:
        return False  # the schema itself refused the change
    finally:
        db.close()


def verdict(path: Path, anchor: str) -> bool | None:
    """verify's `ok`, or None when the ledger refuses to open or to answer."""
    try:
        ledger = ledger_of(LedgerApp(settings_for(str(path))))
    except (ConfigError, LedgerError):
        return None
    try:
        return bool(ledger.evidence.verify(public_key_of(SEAL_SEED), anchor)["ok"])
    except LedgerError:
        return None
    finally:
        ledger.close()


def test_the_sealed_store_verifies(sealed, tmp_path):
    path, anchor = sealed
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    assert verdict(copy, anchor) is True


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    table=st.sampled_from(TABLES),
    action=st.sampled_from(["insert", "delete", "update"]),
    pick=st.integers(0, 10_000),
    column_pick=st.integers(0, 50),
    salt=st.integers(0, 5),
)
def test_any_single_row_change_to_the_evidence_fails_verify(sealed, tmp_path, table, action, pick, column_pick, salt):
    path, anchor = sealed
    copy = tmp_path / f"copy-{table}-{action}-{pick}-{column_pick}-{salt}.db"
    shutil.copy(path, copy)
    try:
        if not tamper(copy, table, action, pick, column_pick, salt):
            return
        if table == "stored_snapshots" and action == "delete":
            assert verdict(copy, anchor) is True  # a cache entry gone: replay costs a little longer
            return
        assert verdict(copy, anchor) is not True, (table, action, pick, column_pick, salt)
    finally:
        copy.unlink(missing_ok=True)

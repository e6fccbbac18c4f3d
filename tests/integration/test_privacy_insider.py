"""Personal data an insider can slip past the ledger: an ID number in free text, in misplaced
fields and identifiers, and SQLite files any local user can read.

Free text (`reason` of suspend/cancel/expire/reverse, `institution`) is stored with every
18-character ID-number-like substring masked; answers never carry an ID-number-like string;
identifiers (`settlement_id`, `command_id`) may not look like one; SQLite files are created
0600. On SQLite and PostgreSQL (raw stored bytes)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat

import pytest
from click.testing import CliRunner

from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from tests.support import DEV_KEY, Ledger, apply_line, id_number, line
from tests.support.backends import settings_for

SECRET = "11010519700707100X"  # ID-number-shaped (not even a valid one: it must be masked anyway)
VALID = id_number("110105", "19700707", 100)
ID_LIKE = re.compile(r"(?<![0-9A-Za-z_])[0-9]{17}[0-9Xx](?![0-9A-Za-z_])")


def raw_states(app: LedgerApp, url: str) -> bytes:
    """Every stored event's bytes, read with a plain driver (not through the ledger)."""
    table = getattr(app.recorder, "events_table_name", "stored_events")
    if url.startswith("postgresql://"):
        import psycopg

        from infra.store_urls import split_schema

        base, schema = split_schema(url)
        with psycopg.connect(base) as conn:
            rows = conn.execute(f'SELECT state FROM "{schema}"."{table}"').fetchall()
    else:
        with sqlite3.connect(url) as conn:
            rows = conn.execute(f"SELECT state FROM {table}").fetchall()
    return b"\n".join(bytes(r[0]) for r in rows)


def test_an_id_number_in_free_text_is_stored_masked(durable_url):
    app = LedgerApp(settings_for(durable_url))
    ledger = Ledger(app)
    parent = ledger.enroll(id_number(seq=11), balance="100.00")
    other = ledger.enroll(id_number(seq=13))
    gone = ledger.enroll(id_number(seq=15))
    ledger.ok("suspend", person=parent, reason=f"lost card of {SECRET}", at="2025-03-01T09:00:00+08:00")
    ledger.ok("resume", person=parent, at="2025-03-01T10:00:00+08:00")
    ledger.ok(
        "deduct",
        settlement_id="S-1",
        patient=parent,
        amount="10.00",
        category="pharmacy",
        institution=f"clinic of {VALID.lower()}",
        at="2025-03-02T09:00:00+08:00",
    )
    ledger.ok("reverse", settlement_id="S-1", reason=f"{VALID},wrong patient", at="2025-03-02T10:00:00+08:00")
    ledger.ok("cancel", person=other, reason=f"({SECRET})", at="2025-03-03T09:00:00+08:00")
    ledger.ok("expire", person=gone, reason=f"身份证{SECRET}丢失", at="2025-03-03T09:00:00+08:00")
    stored = raw_states(app, durable_url)
    app.close()
    text = stored.decode("utf-8")
    for number in (SECRET, VALID, VALID.lower()):
        assert number not in text
    assert not ID_LIKE.search(text)
    assert "lost card of 110105********100X" in text and "clinic of 110105********" in text
    assert text.count("110105********100X") >= 3
    assert "身份证110105********100X丢失" in text or "\\u8eab" in text  # stored as UTF-8 or escaped


def test_masked_free_text_is_what_the_answer_and_a_retry_see(app):
    ledger = Ledger(app)
    person = ledger.enroll(id_number(seq=11))
    first = apply_line(app, line("suspend", person=person, reason=f"card {SECRET}", command_id="c-1"))
    again = apply_line(app, line("suspend", person=person, reason=f"card {SECRET}", command_id="c-1"))
    assert first["ok"] and again["duplicate"] is True
    assert SECRET not in json.dumps([first, again])


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "credit", "person": id_number(), "amount": SECRET, "source": "adjustment"},
        {"type": "credit", "person": id_number(), "amount": f" {SECRET} ", "source": "adjustment"},
        {"type": SECRET, "person": id_number()},
        {"type": "suspend", "person": id_number(), SECRET: "x"},
        {"type": "suspend", "person": id_number(), "reason": {"n": SECRET}},
        {"type": "suspend", "person": SECRET},
        {"type": "suspend", "person": id_number(), "command_id": SECRET},
        {"type": "suspend", "person": id_number(), "command_id": f"retry-{SECRET}"},
        {"type": "reverse", "settlement_id": SECRET},
        {"type": "reverse", "settlement_id": f"S:{SECRET}"},
        {
            "type": "deduct",
            "settlement_id": f"S-{SECRET}",
            "patient": id_number(),
            "amount": "1.00",
            "category": "pharmacy",
            "institution": "H",
        },
        {"type": "credit", "person": id_number(), "amount": "1.00", "source": SECRET},
        {"type": "enroll", "person": id_number(seq=99), "insurance": "employee", "region": SECRET},
    ],
)
def test_no_answer_repeats_an_id_number_given_in_the_wrong_place(app, fields):
    Ledger(app).enroll(id_number())
    text = json.dumps({"at": "2025-03-03T09:00:00+08:00", **fields})
    answer = apply_line(app, text)
    assert not answer["ok"], answer
    assert not ID_LIKE.search(json.dumps(answer)), answer


def test_the_cli_never_prints_an_id_number_given_in_the_wrong_place(tmp_path):
    db = str(tmp_path / "ledger.db")
    lines = [
        json.dumps({"type": "reverse", "settlement_id": SECRET, "at": "2025-03-03T09:00:00+08:00"}),
        json.dumps({"type": SECRET, "at": "2025-03-03T09:00:00+08:00"}),
        json.dumps(
            {
                "type": "credit",
                "person": VALID,
                "amount": SECRET,
                "source": "adjustment",
                "at": "2025-03-03T09:00:00+08:00",
            }
        ),
    ]
    result = CliRunner().invoke(
        main, ["--db", db, "apply", "-"], input="\n".join(lines) + "\n", env={"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode()}
    )
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 3
    assert not ID_LIKE.search(result.output)


# --- file modes --------------------------------------------------------------------------------
@pytest.fixture
def open_umask():
    old = os.umask(0o022)  # the usual default: files readable by everyone unless created 0600
    yield
    os.umask(old)


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_sqlite_files_are_created_readable_by_the_owner_only(tmp_path, open_umask):
    db = str(tmp_path / "ledger.db")
    app = LedgerApp(settings_for(db))
    Ledger(app).enroll(id_number(), balance="1.00")
    from infra.readmodels.runner import ViewRunner

    ViewRunner(app).catch_up()
    files = [p for p in (db, db + "-wal", db + "-shm", db + "-journal") if os.path.exists(p)]
    assert db in files
    assert {p: mode(p) for p in files} == {p: 0o600 for p in files}
    app.close()


def test_the_cli_creates_its_sqlite_file_0600(tmp_path, open_umask):
    db = str(tmp_path / "cli.db")
    result = CliRunner().invoke(
        main,
        ["--db", db, "apply", "-"],
        input=line("enroll", person=id_number(), insurance="employee") + "\n",
        env={"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode()},
    )
    assert result.exit_code == 0, result.output
    assert mode(db) == 0o600
    for extra in (db + "-wal", db + "-shm"):
        if os.path.exists(extra):
            assert mode(extra) == 0o600

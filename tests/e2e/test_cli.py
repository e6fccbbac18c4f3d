"""The `ledger` command line, end to end, as a user runs it: a real subprocess on a SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import line
from tests.support.state import adult, masked, minor

LEDGER = str(Path(sys.executable).with_name("ledger"))
FATHER, MOTHER, CHILD = adult(1), adult(2), minor(20)


def ledger(*args: str, db: str | None = None, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    command = [LEDGER, *(["--db", db] if db else []), *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")} | (env or {})
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120, env=environment)


def lines_of(*commands: str) -> str:
    return "".join(c + "\n" for c in commands)


SCENARIO = lines_of(
    line("enroll", person=FATHER, insurance="employee"),
    line("enroll", person=MOTHER, insurance="employee"),
    line("enroll", person=CHILD, insurance="resident"),
    line("credit", person=FATHER, amount="300.00", source="monthly_contribution"),
    line("credit", person=MOTHER, amount="500.00", source="monthly_contribution"),
    line("bind", binder=FATHER, member=CHILD, relationship="child", channel="alipay", verification="documents"),
    line("authorize", authorizer=FATHER, beneficiary=CHILD, relationship="child", at="2025-03-03T10:00:00+08:00"),
    line("authorize", authorizer=MOTHER, beneficiary=CHILD, relationship="child", at="2025-03-03T11:00:00+08:00"),
    line(
        "deduct",
        settlement_id="S-1",
        patient=CHILD,
        amount="600.00",
        category="hospital_self_pay",
        institution="H1",
        presented_by=FATHER,
        at="2025-03-04T10:00:00+08:00",
    ),
)


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "ledger.db")
    result = ledger("apply", "-", db=path, stdin=SCENARIO)
    assert result.returncode == 0, result.stderr
    return path


def results(process: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(text) for text in process.stdout.splitlines()]


def test_apply_prints_one_json_result_per_line_in_order(tmp_path):
    process = ledger("apply", "-", db=str(tmp_path / "l.db"), stdin=SCENARIO)
    assert process.returncode == 0
    out = results(process)
    assert [r["line"] for r in out] == list(range(1, 10))
    assert [r["command"] for r in out] == ["enroll"] * 3 + ["credit"] * 2 + ["bind", "authorize", "authorize", "deduct"]
    assert all(r["ok"] for r in out)
    deduct = out[-1]
    assert deduct["lines"] == [
        {"person": masked(MOTHER), "amount_fen": 50_000},
        {"person": masked(FATHER), "amount_fen": 10_000},
    ]
    assert (deduct["out_of_pocket_fen"], deduct["duplicate"], deduct["rule_version"]) == (
        0,
        False,
        "national-2024-12-09",
    )


def test_apply_keeps_going_after_bad_lines_and_reports_each_in_order(db):
    stdin = lines_of(
        "this is not json",
        "",
        line("credit", person=FATHER, amount="1.001", source="adjustment"),
        line("bind", binder=MOTHER, member=CHILD, relationship="child", channel="pigeon", verification="documents"),
        line("credit", person=FATHER, amount="1.00", source="adjustment", at="2025-03-20T09:00:00+08:00"),
        line(
            "bind",
            binder=MOTHER,
            member=CHILD,
            relationship="child",
            channel="wechat",
            verification="face",
            at="2025-03-03T12:00:00",
        ),
        line(
            "deduct",
            settlement_id="S-1",
            patient=CHILD,
            amount="600.00",
            category="hospital_self_pay",
            institution="H1",
            presented_by=FATHER,
            at="2025-03-09T10:00:00+08:00",
        ),
        line("enroll", person=FATHER[:17] + ("0" if FATHER[17] != "0" else "1"), insurance="employee"),
    )
    process = ledger("apply", "-", db=db, stdin=stdin)
    out = results(process)
    assert process.returncode == 0  # README: 0 whenever the input could be read, whatever the lines' outcomes
    assert "6 line(s) refused" in process.stderr
    assert [r["line"] for r in out] == list(range(1, 9))
    assert [r["ok"] for r in out] == [False, False, False, False, True, False, True, False]
    codes = [r.get("error", {}).get("code") for r in out]
    assert codes == ["INVALID_INPUT"] * 4 + [None, "INVALID_INPUT", None, "INVALID_ID_NUMBER"]
    assert [r.get("error", {}).get("field") for r in out[2:4]] == ["amount", "channel"]
    assert out[5]["error"]["field"] == "at"
    assert out[6]["duplicate"] is True
    assert "Traceback" not in process.stderr


def test_apply_on_an_unreadable_file_exits_2(tmp_path):
    process = ledger("apply", str(tmp_path / "missing.jsonl"), db=str(tmp_path / "l.db"))
    assert process.returncode == 2 and process.stdout == ""
    assert "Traceback" not in process.stderr


def test_apply_reads_a_file_argument(tmp_path):
    commands = tmp_path / "commands.jsonl"
    commands.write_text(SCENARIO, encoding="utf-8")
    out = results(ledger("apply", str(commands), db=str(tmp_path / "l.db")))
    assert len(out) == 9 and all(r["ok"] for r in out)


def test_balance_json_shape(db):
    process = ledger("balance", MOTHER, "--json", db=db)
    assert process.returncode == 0, process.stderr
    data = json.loads(process.stdout)
    assert data["person"] == masked(MOTHER) and data["balance_fen"] == 0
    assert MOTHER not in process.stdout


def test_bindings_json_shape(db):
    data = json.loads(ledger("bindings", CHILD, "--json", db=db).stdout)
    assert data["person"] == masked(CHILD)
    assert data["members"] == []
    assert len(data["binders"]) == 1
    binder = data["binders"][0]
    assert {"person", "relationship", "channel", "since"} <= set(binder)
    assert (binder["person"], binder["relationship"], binder["channel"]) == (masked(FATHER), "child", "alipay")
    assert binder["since"].startswith("2025-03-03T09:00:00")


def test_authorizations_json_shape(db):
    data = json.loads(ledger("authorizations", CHILD, "--json", db=db).stdout)
    assert data["person"] == masked(CHILD)
    assert [a["person"] for a in data["authorizers"]] == [masked(FATHER), masked(MOTHER)]
    assert data["beneficiaries"] == []


def test_person_json_is_masked_and_never_shows_the_id_number(db):
    process = ledger("person", FATHER, "--json", db=db)
    data = json.loads(process.stdout)
    assert data["person"] == masked(FATHER)
    assert (data["insurance"], data["status"], data["balance_fen"], data["members"]) == (
        "employee",
        "active",
        20_000,
        1,
    )
    assert FATHER not in process.stdout and FATHER not in process.stderr


def test_human_output_shows_masked_ids_in_tables(db):
    process = ledger("bindings", FATHER, db=db)
    assert process.returncode == 0
    assert masked(CHILD) in process.stdout and CHILD not in process.stdout


def test_human_tables_show_yuan_with_thousands_separators_and_json_keeps_fen(tmp_path):
    path = str(tmp_path / "ledger.db")
    rich = lines_of(
        line("enroll", person=FATHER, insurance="employee"),
        line("credit", person=FATHER, amount="4300.00", source="adjustment"),
    )
    assert ledger("apply", "-", db=path, stdin=rich).returncode == 0
    shown = ledger("balance", FATHER, db=path)
    assert "4,300.00 yuan (430000 fen)" in shown.stdout, shown.stdout
    assert json.loads(ledger("balance", FATHER, "--json", db=path).stdout)["balance_fen"] == 430_000


def test_query_of_an_unknown_person_is_one_line_error_exit_2(db):
    process = ledger("balance", adult(77), "--json", db=db)
    assert process.returncode == 2
    assert process.stdout == ""
    errors = [text for text in process.stderr.splitlines() if not text.startswith("WARNING")]
    assert len(errors) == 1 and "UNKNOWN_PERSON" in errors[0]


def test_invalid_id_number_on_the_command_line_is_one_line_error(db):
    process = ledger("balance", "12345", db=db)
    assert process.returncode == 2 and "INVALID_ID_NUMBER" in process.stderr
    assert "Traceback" not in process.stderr


@pytest.mark.parametrize(
    "env", [{"LEDGER_ALLOW_DEVELOPMENT_KEY": "1"}, {"LEDGER_PSEUDONYM_KEY": "a-secret-of-16-chars-or-more"}]
)
def test_unreachable_postgres_is_a_one_line_error_without_traceback(env):
    process = ledger("balance", FATHER, "--json", db="postgresql://postgres@127.0.0.1:1/test", env=env)
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    errors = [text for text in process.stderr.splitlines() if text.strip() and not text.startswith("WARNING")]
    assert len(errors) == 1 and "STORAGE_ERROR" in errors[0] and "127.0.0.1:1" in errors[0]


def test_postgres_without_a_pseudonym_key_is_refused_with_one_line():
    process = ledger("balance", FATHER, db="postgresql://postgres@127.0.0.1:1/test")
    assert process.returncode == 2 and "LEDGER_PSEUDONYM_KEY" in process.stderr
    assert "Traceback" not in process.stderr


def test_no_plain_id_number_anywhere_in_the_database_file(db):
    # Goal: privacy at rest. Method: search every byte of the SQLite files for the plain numbers.
    files = [p for p in Path(db).parent.iterdir() if p.name.startswith("ledger.db")]
    blob = b"".join(p.read_bytes() for p in files)
    assert masked(FATHER).encode() in blob  # the scan sees stored content
    for number in (FATHER, MOTHER, CHILD):
        assert number.encode() not in blob
        assert number[:17].encode() not in blob
        assert number.encode("utf-16-le") not in blob

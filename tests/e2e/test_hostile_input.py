"""Hostile bytes on `ledger apply`, end to end (a real subprocess on a SQLite file): every input
line gets exactly one answer, in order, whatever it holds, and the lines after it are processed.

Each test is the regression test of a finding: deep nesting (RecursionError lost the batch), a
lone surrogate in `type` (crashed printing after the commit), a bare CR (split a line and shifted
every later line number), invalid UTF-8 mid-file (exit 0 with the rest silently dropped), an
overlong line (held in memory whole)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import line
from tests.support.state import adult

LEDGER = str(Path(sys.executable).with_name("ledger"))


def apply_bytes(data: bytes, db: str, *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return subprocess.run(
        [LEDGER, "--db", db, "apply", "-", *args], input=data, capture_output=True, timeout=300, env=environment
    )


def answers(process: subprocess.CompletedProcess) -> list[dict]:
    assert process.returncode == 0, process.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in process.stderr
    return [json.loads(text) for text in process.stdout.decode("utf-8").split("\n") if text]


def good(seq: int) -> bytes:
    return line("enroll", person=adult(seq), insurance="employee").encode()


def invalid(answer: dict, field: str = "line") -> None:
    assert answer["ok"] is False and answer["error"]["code"] == "INVALID_INPUT", answer
    assert answer["error"]["field"] == field, answer
    assert answer["command"] is None or isinstance(answer["command"], str)


def test_json_nested_a_thousand_deep_is_one_invalid_line(tmp_path):
    deep = b'{"type": "enroll", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    bottomless = b"[" * 100_000
    out = answers(apply_bytes(b"\n".join([good(1), deep, bottomless, good(3)]) + b"\n", str(tmp_path / "l.db")))
    assert [a["line"] for a in out] == [1, 2, 3, 4]
    assert out[0]["ok"] and out[3]["ok"]
    invalid(out[1])
    invalid(out[2])


def test_lone_surrogate_in_type_is_answered_and_the_next_line_too(tmp_path):
    surrogate = b'{"type": "\\ud800", "at": "2025-03-03T09:00:00+08:00"}'
    in_person = line("enroll", person="\ud800", insurance="employee").encode()  # json.dumps escapes it
    out = answers(apply_bytes(b"\n".join([surrogate, good(1), in_person, good(3)]) + b"\n", str(tmp_path / "l.db")))
    assert [a["line"] for a in out] == [1, 2, 3, 4]
    invalid(out[0], "type")
    assert out[0]["command"] is None
    invalid(out[2], "person")
    assert out[1]["ok"] and out[3]["ok"]


def test_bare_cr_stays_inside_its_line_and_crlf_endings_are_fine(tmp_path):
    data = good(1) + b"\r\n" + good(3) + b"\r" + good(5) + b"\n" + good(7) + b"\r\n"
    out = answers(apply_bytes(data, str(tmp_path / "l.db")))
    assert [a["line"] for a in out] == [1, 2, 3]
    assert out[0]["ok"] and out[2]["ok"]
    invalid(out[1])  # two objects on one line: not one JSON value


def test_invalid_utf8_mid_file_refuses_that_line_only(tmp_path):
    count = 10_679
    lines = [good(n % 997 + 1) if n % 2 else b"" for n in range(count)]
    lines[4_999] = b'{"type": "enroll", "person": "\xff\xfe", "at": "2025-03-03T09:00:00+08:00"}'
    out = answers(apply_bytes(b"\n".join(lines) + b"\n", str(tmp_path / "l.db"), "--batch-size", "1000"))
    assert [a["line"] for a in out] == list(range(1, count + 1))
    invalid(out[4_999], "person")
    assert out[4_999]["error"]["message"] == "person: not valid UTF-8"
    for number, answer in enumerate(out):
        if number % 2 and number != 4_999:  # enrolments (some repeated), before and after the bad line
            assert answer["ok"] or answer["error"]["code"] == "ALREADY_ENROLLED", answer
    assert sum(answer["ok"] for answer in out) == 997


def test_invalid_utf8_outside_a_string_value_names_the_line(tmp_path):
    lines = [good(1), b'{"type": "enroll", "\xff": "x"}', b"\xff\xfe", b'{"type": "enroll"\xc0}', good(3)]
    out = answers(apply_bytes(b"\n".join(lines), str(tmp_path / "l.db"), "--batch-size", "1"))
    assert [a["line"] for a in out] == [1, 2, 3, 4, 5]
    for answer in out[1:4]:
        invalid(answer)
        assert answer["error"]["message"] == "line: not valid UTF-8"
    assert out[0]["ok"] and out[4]["ok"]


def test_a_line_over_the_length_limit_is_refused_and_the_next_lines_processed(tmp_path):
    from infra.commands.parsing import LINE_BYTES_MAX

    long = b'{"type": "enroll", "reason": "' + b"x" * (LINE_BYTES_MAX * 3) + b'"}'
    just = b" " * (LINE_BYTES_MAX - len(good(3))) + good(3)  # exactly at the limit: fine
    out = answers(apply_bytes(b"\n".join([good(1), long, just, good(5)]), str(tmp_path / "l.db")))
    assert [a["line"] for a in out] == [1, 2, 3, 4]
    invalid(out[1])
    assert out[1]["command"] is None
    assert out[0]["ok"] and out[2]["ok"] and out[3]["ok"]


def test_control_characters_in_strings_are_refused_naming_the_field(tmp_path):
    bad = [line("suspend", person=adult(1), reason=f"a{chr(c)}b").encode() for c in (0, 9, 10, 13, 27, 127)]
    out = answers(apply_bytes(b"\n".join([good(1), *bad, good(3)]) + b"\n", str(tmp_path / "l.db")))
    assert [a["line"] for a in out] == list(range(1, 9))
    for answer in out[1:7]:
        invalid(answer, "reason")
    assert out[7]["ok"]

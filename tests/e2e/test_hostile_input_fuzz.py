"""Fuzz `ledger apply` with malformed lines of every kind between good lines (hypothesis): every
line gets exactly one answer, in order; good lines are recorded; nothing raises; exit status 0
(the input could be read, whatever the lines' outcomes: docs/commands.md)."""

from __future__ import annotations

import json
import shutil
import tempfile

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.cli.main import main
from infra.commands.parsing import LINE_BYTES_MAX
from infra.commands.table import COMMAND_TYPES
from tests.support import DEV_KEY, line
from tests.support.state import adult

AT = "2025-03-03T09:00:00+08:00"
HOSTILE = [
    b"",
    b"   \t ",
    b'{"type": "enroll", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    b"{" * 5000,
    b'{"type": "\\ud800", "at": "' + AT.encode() + b'"}',
    b'{"type": "suspend", "person": "\\udfff", "at": "' + AT.encode() + b'"}',
    b'{"type": "suspend", "person": "110105198001010112", "reason": "\\u0000\\u007f", "at": "' + AT.encode() + b'"}',
    b'{"type": "suspend", "person": "110105198001010112", "reason": "a\x01b", "at": "' + AT.encode() + b'"}',
    b'{"type": "enroll", "person": "\xff\xfe\xed", "at": "' + AT.encode() + b'"}',
    b"\xc3\x28\xa0\xa1\xf0\x28\x8c\xbc",
    b"\xed\xa0\x80",  # a surrogate encoded as UTF-8: not valid UTF-8
    line("credit", person=adult(999), amount="1.00", source="adjustment", at="9999-12-31T23:59:59Z").encode(),
    line(
        "deduct",
        settlement_id="S",
        patient=adult(999),
        amount="1.00",
        category="pharmacy",
        institution="P",
        at="0001-01-01T00:00:00Z",
    ).encode(),
    line("credit", person=adult(999), amount="999999999999.99", source="adjustment").encode(),
    b'{"type": "\xe4\xb8\xad", "\\ud800": 1}',
    b"[1, 2, 3]",
    b'"enroll"',
    b"null",
    b'{"type": "enroll", "at": 1e999999}',
    b'{"type": "enroll", "person": ' + b"9" * 5000 + b"}",
    b'{"type": "enroll", "reason": "' + b"x" * (LINE_BYTES_MAX + 10) + b'"}',
    b"x" * (LINE_BYTES_MAX * 2 + 3),
]


def good(seq: int) -> bytes:
    return line("enroll", person=adult(seq), insurance="employee").encode()


hostile = st.one_of(
    st.sampled_from(HOSTILE),
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")),
    st.text(max_size=50).map(lambda t: json.dumps({"type": t, "at": AT}).encode()),
    st.tuples(st.integers(0, 4), st.integers(0, 4)).map(lambda p: good(900 + p[0]) + b"\r" + good(950 + p[1])),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.one_of(st.none(), hostile), min_size=1, max_size=12), st.booleans(), st.sampled_from([1, 3, 500]))
def test_every_line_gets_one_answer_in_order_and_good_lines_are_recorded(kinds, crlf, batch_size):
    lines, good_numbers = [], []
    for number, kind in enumerate(kinds, start=1):
        if kind is None:
            lines.append(good(number))
            good_numbers.append(number)
        else:
            lines.append(kind)
    data = (b"\r\n" if crlf else b"\n").join(lines) + (b"\r\n" if crlf else b"\n")
    directory = tempfile.mkdtemp()
    try:
        env = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(), "LEDGER_DB": f"{directory}/l.db"}
        result = CliRunner(env=env).invoke(main, ["apply", "-", "--batch-size", str(batch_size)], input=data)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert result.exit_code == 0, result.output
        out = [json.loads(text) for text in result.stdout.splitlines() if text.startswith("{")]
        assert [answer["line"] for answer in out] == list(range(1, len(lines) + 1))
        for answer in out:
            # an answer names a command only by a known type (a fuzzed `{"type": "bind"}` is one)
            assert answer["command"] is None or answer["command"] in COMMAND_TYPES
        for number in good_numbers:
            assert out[number - 1]["ok"], out[number - 1]
        for number, kind in enumerate(kinds, start=1):
            if kind is not None and number not in good_numbers:
                assert not out[number - 1]["ok"] or kind.count(b"{") == 1, out[number - 1]
        for number in good_numbers:
            shown = CliRunner(env=env).invoke(main, ["person", adult(number), "--json"])
            assert shown.exit_code == 0 and json.loads(shown.stdout)["status"] == "active", shown.output
    finally:
        shutil.rmtree(directory)

"""Bounds on what one command may say: `at` within [2000, 2100), amounts up to AMOUNT_FEN_MAX,
balances up to BALANCE_FEN_MAX (BALANCE_LIMIT_EXCEEDED), answers that echo only known command
types and never raw input values, and output that can always be printed.

Regression tests of findings: `at` of 9999-12-31T23:59:59Z overflowed on deduct and bind and was
stored on credit and suspend (after which `ledger history` crashed); 92,300 credits of
999999999999.99 made the SQLite balances view floats and broke every view query on PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from domain.errors import ALL_CODES, BalanceLimitExceededError, LedgerError
from domain.money import AMOUNT_FEN_MAX, format_fen
from domain.person import BALANCE_FEN_MAX
from infra.cli import output
from infra.cli.main import main
from infra.commands.people import Credit
from tests.support import DEV_KEY, Ledger, apply_line, line, parse_command
from tests.support.state import adult, authorized_pair

FAR = "9999-12-31T23:59:59Z"


@pytest.fixture
def family(ledger: Ledger):
    return authorized_pair(ledger)


def commands(parent: str, child: str) -> dict[str, dict]:
    return {
        "credit": {"person": parent, "amount": "1.00", "source": "adjustment"},
        "suspend": {"person": parent},
        "bind": {
            "binder": parent,
            "member": child,
            "relationship": "child",
            "channel": "alipay",
            "verification": "documents",
        },
        "deduct": {
            "settlement_id": "S-1",
            "patient": child,
            "amount": "1.00",
            "category": "pharmacy",
            "institution": "P",
        },
        "enroll": {"person": adult(9), "insurance": "employee"},
    }


@pytest.mark.parametrize("type_", ["credit", "suspend", "bind", "deduct", "enroll"])
@pytest.mark.parametrize(
    "at",
    [
        FAR,
        "0001-01-01T00:00:00Z",
        "1999-12-31T23:59:59.999999Z",
        "2100-01-01T00:00:00Z",
        "2100-01-01T08:00:00+08:00",
        "1999-12-31T22:59:59-01:00",
    ],
)
def test_at_outside_2000_to_2100_is_invalid_input_naming_at(ledger, family, type_, at):
    result = ledger.do(type_, at=at, **commands(*family)[type_])
    assert result["error"]["code"] == "INVALID_INPUT" and result["error"]["field"] == "at", result
    assert at[:4] not in result["error"]["message"].replace("2000", "").replace("2100", "")


@pytest.mark.parametrize("at", ["2000-01-01T00:00:00Z", "2000-01-01T08:00:00+08:00", "2099-12-31T23:59:59.999999Z"])
def test_at_at_the_edges_is_accepted(family, at):
    """Valid input at both edges (whether the ledger then takes it is a matter of time order and
    its clock: OUT_OF_ORDER, FUTURE_DATED)."""
    command = parse_command(line("credit", at=at, **commands(*family)["credit"]))
    assert isinstance(command, Credit)
    assert command.at == datetime.fromisoformat(at.replace("Z", "+00:00"))


def test_history_works_after_the_far_future_credit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_DB", str(tmp_path / "h.db"))
    monkeypatch.setenv("LEDGER_PSEUDONYM_KEY", DEV_KEY.decode())
    person = adult(1)
    lines = [
        line("enroll", person=person, insurance="employee"),
        line("credit", person=person, amount="1.00", source="adjustment", at=FAR),
        line("suspend", person=person, at=FAR),
    ]
    result = CliRunner().invoke(main, ["apply", "-"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert [json.loads(t)["ok"] for t in result.output.splitlines() if t.startswith("{")] == [True, False, False]
    history = CliRunner().invoke(main, ["history", person, "--json"])
    assert history.exit_code == 0, history.output


@pytest.mark.parametrize("type_", ["credit", "deduct"])
def test_amount_above_the_maximum_is_invalid_input_naming_amount(ledger, family, type_):
    fields = commands(*family)[type_] | {"amount": format_fen(AMOUNT_FEN_MAX + 1)}
    result = ledger.do(type_, **fields)
    assert result["error"]["code"] == "INVALID_INPUT" and result["error"]["field"] == "amount", result
    assert format_fen(AMOUNT_FEN_MAX + 1) not in result["error"]["message"]
    assert ledger.do(type_, **(fields | {"amount": format_fen(AMOUNT_FEN_MAX)}))["ok"]


def test_bounds_are_as_documented():
    assert AMOUNT_FEN_MAX == 1_000_000_000 and BALANCE_FEN_MAX == 10_000_000_000
    assert BALANCE_FEN_MAX < 2**63 // 1000
    assert issubclass(BalanceLimitExceededError, LedgerError)
    assert BalanceLimitExceededError.code == "BALANCE_LIMIT_EXCEEDED"
    assert "BALANCE_LIMIT_EXCEEDED" in ALL_CODES
    order = [ALL_CODES.index(code) for code in ("NO_PERSONAL_ACCOUNT", "BALANCE_LIMIT_EXCEEDED", "NOT_BOUND")]
    assert order == sorted(order)


def test_a_credit_past_the_balance_maximum_is_refused_and_changes_nothing(ledger):
    person = ledger.enroll(adult(1))
    credit = {"person": person, "amount": format_fen(AMOUNT_FEN_MAX), "source": "adjustment"}
    for _ in range(BALANCE_FEN_MAX // AMOUNT_FEN_MAX):
        ledger.ok("credit", **credit)
    assert ledger.balance(person) == BALANCE_FEN_MAX
    version = ledger.person(person).version
    error = ledger.refused("credit", "BALANCE_LIMIT_EXCEEDED", **(credit | {"amount": "0.01"}))["error"]
    assert "0.01" not in error["message"]
    assert ledger.person(person).version == version and ledger.balance(person) == BALANCE_FEN_MAX


def test_many_maximal_credits_keep_every_view_working(durable_url, monkeypatch):
    """The finding: on PostgreSQL `project`, `balance` and `bindings` failed for every person
    (bigint out of range); on SQLite the balances view turned into floats."""
    monkeypatch.setenv("LEDGER_DB", durable_url)
    monkeypatch.setenv("LEDGER_PSEUDONYM_KEY", DEV_KEY.decode())
    rich, other = adult(1), adult(3)
    lines = [
        line("enroll", person=rich, insurance="employee"),
        line("enroll", person=other, insurance="employee"),
        line("credit", person=rich, amount="999999999999.99", source="adjustment"),
    ]
    lines += [line("credit", person=rich, amount=format_fen(AMOUNT_FEN_MAX), source="adjustment")] * 12
    runner = CliRunner()
    applied = runner.invoke(main, ["apply", "-"], input="\n".join(lines) + "\n")
    assert applied.exit_code == 0, applied.output
    codes = [json.loads(t).get("error", {}).get("code") for t in applied.output.splitlines() if t.startswith("{")]
    assert codes == [None, None, "INVALID_INPUT", *[None] * 10, "BALANCE_LIMIT_EXCEEDED", "BALANCE_LIMIT_EXCEEDED"]
    assert runner.invoke(main, ["project"]).exit_code == 0
    for person, fen in ((rich, BALANCE_FEN_MAX), (other, 0)):
        shown = runner.invoke(main, ["balance", person, "--json"])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["balance_fen"] == fen and type(json.loads(shown.output)["balance_fen"]) is int
        assert runner.invoke(main, ["bindings", person, "--json"]).exit_code == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "Enroll", "at": "2025-03-03T09:00:00Z"}',
        '{"type": "enroll\\u0000", "at": "2025-03-03T09:00:00Z"}',
        '{"type": "110105198001010112", "at": "2025-03-03T09:00:00Z"}',
        '{"type": ["enroll"], "at": "2025-03-03T09:00:00Z"}',
        '{"type": "\\udfff"}',
    ],
)
def test_the_echoed_command_is_a_known_type_or_null_and_raw_values_are_not_echoed(app, raw):
    answer = apply_line(app, raw)
    assert answer["command"] is None and answer["error"]["code"] == "INVALID_INPUT"
    assert "110105198001010112" not in json.dumps(answer)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "110105198001010112"),
        ("amount", "-110105198001010112"),
        ("source", "110105198001010112"),
        ("person", "110105198001010112x"),
        ("at", "110105198001010112"),
    ],
)
def test_error_messages_name_the_field_without_echoing_the_value(ledger, family, field, value):
    fields = commands(*family)["credit"] | {field: value}
    answer = ledger.do("credit", **fields)
    assert not answer["ok"] and answer["error"]["field"] == field, answer
    assert "110105198001010112" not in json.dumps(answer)


def test_an_unknown_field_with_an_odd_name_is_refused_without_echoing_it(app):
    answer = apply_line(app, '{"type": "enroll", "\\ud800\\u0007110105198001010112": 1}')
    assert answer["error"]["code"] == "INVALID_INPUT" and "110105" not in json.dumps(answer)
    output.emit_json(answer)


@pytest.mark.parametrize("value", ["\ud800", "\udfff\x00", "中文\U0001f600", b"bytes", float("nan"), object()])
def test_emit_json_never_fails(monkeypatch, value):
    for encoding in ("utf-8", "ascii"):
        stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
        monkeypatch.setattr("sys.stdout", stream)
        output.emit_json({"ok": False, "command": value, value if isinstance(value, str) else "k": [value]})
        stream.flush()
        text = stream.buffer.getvalue().decode(encoding)
        assert text.endswith("\n") and text.count("\n") == 1
        json.loads(text)


@pytest.mark.parametrize("number", ["110105198013320112", "110105180001010112"])
def test_id_number_messages_do_not_repeat_the_birth_date(app, number):
    answer = apply_line(app, line("enroll", person=number, insurance="employee"))
    assert answer["error"]["code"] == "INVALID_ID_NUMBER" and answer["error"]["field"] == "person"
    assert number[6:14] not in answer["error"]["message"] and number[6:10] not in answer["error"]["message"]

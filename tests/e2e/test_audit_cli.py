"""End to end through `ledger`: audit, seal, report in every format, on a SQLite file."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from tests.support import DEV_KEY, Ledger
from tests.support.backends import settings_for
from tests.support.families import compliance_story as story
from tests.support.families import record_wrong_split
from tests.support.seal import SEAL_ENV

ENV = {"LEDGER_PSEUDONYM_KEY": DEV_KEY.decode(), **SEAL_ENV}


@pytest.fixture
def db(tmp_path) -> str:
    url = str(tmp_path / "ledger.db")
    app = LedgerApp(settings_for(url))
    story(Ledger(app))
    app.close()
    return url


def run(db: str, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--db", db, *args], env=ENV)
    assert result.exit_code == code, result.output
    return result.output


def test_audit_deduction_json_has_the_issue_shape(db):
    data = json.loads(run(db, "audit", "deduction", "S-3", "--json"))
    assert set(data) >= {
        "settlement_id",
        "verdict",
        "rule_version",
        "patient",
        "amount_fen",
        "recorded",
        "replayed",
        "candidates",
        "evidence",
        "reversed",
    }
    assert set(data["candidates"][0]) >= {"person", "balance_before_fen", "authorized_at", "rank"}
    assert set(data["evidence"][0]) >= {"position", "person", "type", "at", "hash"}
    assert data["verdict"] == "consistent" and data["rule_version"].startswith("hubei+")
    assert "consistent" in run(db, "audit", "deduction", "S-3")


def test_unknown_settlement_is_a_one_line_error(db):
    out = run(db, "audit", "deduction", "S-404", code=2)
    assert "UNKNOWN_SETTLEMENT" in out and "Traceback" not in out


def test_report_compliance_in_json_csv_and_html(db, tmp_path):
    run(db, "seal")
    data = json.loads(run(db, "report", "compliance", "--month", "2025-03", "--format", "json"))
    assert data["integrity"]["verified"] is True and data["deductions"]["count"] == 4
    rows = list(
        csv.DictReader(
            io.StringIO(run(db, "report", "compliance", "--month", "2025-03", "--region", "42", "--format", "csv"))
        )
    )
    assert {(r["section"], r["key"], r["value"]) for r in rows} >= {
        ("deductions", "count", "2"),
        ("integrity", "verified", "True"),
    }
    out = tmp_path / "march.html"
    run(db, "report", "compliance", "--month", "2025-03", "--format", "html", "--out", str(out))
    assert out.read_text(encoding="utf-8").count("<svg") == 4
    assert "INVALID_INPUT" in run(db, "report", "compliance", "--month", "March", code=2)


def test_audit_deduction_exits_1_on_a_mismatch(tmp_path):
    url = str(tmp_path / "tampered.db")
    app = LedgerApp(settings_for(url))
    record_wrong_split(Ledger(app))
    app.close()
    assert '"verdict": "mismatch"' in run(url, "audit", "deduction", "S-BAD", "--json", code=1)

"""A ledger refuses to start with another pseudonym key than the one it was created with:
otherwise everyone would look unknown and could be enrolled a second time."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from infra.cli.main import main
from infra.config import ConfigError, Settings
from infra.eventstore.application import LedgerApp
from tests.support import Ledger, id_number

KEY_A = b"first-key-0123456789abcdef"
KEY_B = b"other-key-0123456789abcdef"


def app_with(db: str, key: bytes) -> LedgerApp:
    return LedgerApp(Settings(db=db, pseudonym_key=key, using_development_key=False))


def test_rejects_a_different_key_and_accepts_the_original(durable_url):
    db = durable_url
    first = app_with(db, KEY_A)
    Ledger(first).enroll(id_number(), balance="10.00")
    first.close()
    with pytest.raises(ConfigError, match="not the key this ledger was created with"):
        app_with(db, KEY_B)
    again = app_with(db, KEY_A)
    assert Ledger(again).balance(id_number()) == 1000
    again.close()


def test_cli_names_the_key_problem_on_one_line(tmp_path):
    db = str(tmp_path / "ledger.db")
    app_with(db, KEY_A).close()
    result = CliRunner().invoke(main, ["--db", db, "balance", id_number()],
                                env={"LEDGER_PSEUDONYM_KEY": KEY_B.decode()})
    assert result.exit_code == 2
    assert "LEDGER_PSEUDONYM_KEY is not the key" in result.output and "Traceback" not in result.output

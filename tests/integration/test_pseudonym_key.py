"""A ledger refuses to start with another pseudonym key than the one it was created with:
otherwise everyone would look unknown and could be enrolled a second time."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from infra.cli.main import main
from infra.eventstore.application import LedgerApp
from infra.settings import ConfigError, Settings
from tests.support import Ledger, id_number, line

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
    result = CliRunner().invoke(
        main, ["--db", db, "balance", id_number()], env={"LEDGER_PSEUDONYM_KEY": KEY_B.decode()}
    )
    assert result.exit_code == 2
    assert "LEDGER_PSEUDONYM_KEY is not the key" in result.output and "Traceback" not in result.output


# --- the insider's attack: delete the key-check row, then start with another key ----------------
def delete_key_check(db: str) -> None:
    """What someone with write access to the database does to get rid of the check."""
    if db.startswith("postgresql://"):
        import psycopg

        from infra.store_urls import split_schema

        base, schema = split_schema(db)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DELETE FROM "{schema}".ledger_meta')
    else:
        import sqlite3

        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM ledger_meta")


def drop_key_check_table(db: str) -> None:
    if db.startswith("postgresql://"):
        import psycopg

        from infra.store_urls import split_schema

        base, schema = split_schema(db)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP TABLE "{schema}".ledger_meta')
    else:
        import sqlite3

        with sqlite3.connect(db) as conn:
            conn.execute("DROP TABLE ledger_meta")


@pytest.mark.parametrize("remove", [delete_key_check, drop_key_check_table])
def test_a_deleted_key_check_is_refused_not_replaced(durable_url, remove):
    db = durable_url
    first = app_with(db, KEY_A)
    Ledger(first).enroll(id_number(), balance="10.00")
    first.close()
    remove(db)
    # Another key may not install itself over the existing events...
    with pytest.raises(ConfigError, match="no pseudonym key check"):
        app_with(db, KEY_B)
    # ...so the person cannot be enrolled a second time under it, and nothing was installed:
    # the original key is refused the same way until the row is restored, not locked out by B.
    with pytest.raises(ConfigError, match="no pseudonym key check"):
        app_with(db, KEY_A)


def test_a_fresh_store_still_installs_the_check(durable_url):
    app_with(durable_url, KEY_A).close()  # no events yet: the check is installed
    with pytest.raises(ConfigError, match="not the key this ledger was created with"):
        app_with(durable_url, KEY_B)


def test_cli_refuses_a_store_without_its_key_check_on_one_line(tmp_path):
    db = str(tmp_path / "ledger.db")
    first = app_with(db, KEY_A)
    Ledger(first).enroll(id_number())
    first.close()
    delete_key_check(db)
    line_ = line("enroll", person=id_number(), insurance="employee", at="2025-01-02T09:00:00+08:00")
    result = CliRunner().invoke(
        main, ["--db", db, "apply", "-"], input=line_ + "\n", env={"LEDGER_PSEUDONYM_KEY": KEY_B.decode()}
    )
    assert result.exit_code == 2
    assert "no pseudonym key check" in result.output and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and '"ok"' not in result.output

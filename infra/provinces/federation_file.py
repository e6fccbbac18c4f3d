"""The federation file: TOML with a table `[ledgers]` mapping a two-digit province prefix to a
value `--db` accepts (a SQLite path, relative to the file's directory, or a PostgreSQL URL with
`?schema=`). Every ledger shares the pseudonym key (LEDGER_PSEUDONYM_KEY), so a person's
aggregate id is the same in all of them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from infra.settings import ConfigError
from infra.store_urls import is_postgres_url

LEDGERS_MAX = 40  # 34 provincial-level divisions, and room to spare


@dataclass(frozen=True)
class Federation:
    path: str
    ledgers: dict[str, str]  # province prefix -> --db value, in prefix order

    @property
    def provinces(self) -> tuple[str, ...]:
        return tuple(self.ledgers)


def load_federation(path: str) -> Federation:
    """The federation file at `path`, checked (ConfigError naming what is wrong)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"--federation: cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"--federation: {path} is not valid TOML ({error})") from None
    ledgers = data.get("ledgers")
    if not isinstance(ledgers, dict) or not ledgers:
        raise ConfigError(f"--federation: {path} has no [ledgers] table")
    if set(data) - {"ledgers"}:
        raise ConfigError(f"--federation: unknown table or key {sorted(set(data) - {'ledgers'})[0]!r}")
    if len(ledgers) > LEDGERS_MAX:
        raise ConfigError(f"--federation: at most {LEDGERS_MAX} ledgers")
    base = Path(path).resolve().parent
    checked: dict[str, str] = {}
    for province, db in sorted(ledgers.items()):
        if not (len(province) == 2 and province.isascii() and province.isdigit()):
            raise ConfigError(f"--federation: [ledgers] key {province!r} is not a two-digit province prefix")
        if not isinstance(db, str) or not db:
            raise ConfigError(f"--federation: ledgers.{province} must be a SQLite path or a postgresql:// URL")
        checked[province] = db if is_postgres_url(db) or "://" in db or Path(db).is_absolute() else str(base / db)
    if len(set(checked.values())) != len(checked):
        raise ConfigError("--federation: two provinces name the same ledger")
    return Federation(str(path), checked)

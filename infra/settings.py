"""Settings from the command line and the environment: the only place that reads them.

Everything a ledger is configured with is read here, once, into frozen values: the store
(`--db`, LEDGER_DB), the pseudonym key, the rule directory, the clock-skew bound, the seal key
and the public key checkpoints must be signed by, and the bounded waits of PostgreSQL
connections. Every front end (CLI, service, console) gets the same values from the same
functions, so two front ends cannot judge one store by different inputs.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass

from infra.store_urls import Backend, backend_of_url, is_postgres_url, postgres_connect_params

DEFAULT_DB = "./ledger.db"
CLOCK_SKEW_MAX_S_DEFAULT = 300  # senders' clocks differ a little; a command may be this far ahead
CLOCK_SKEW_MAX_S_LIMIT = 86_400
KEY_CACHE_S_DEFAULT = 1.0  # `ledger serve --key-cache-seconds`: how late another process's revocation may take hold
KEY_CACHE_S_LIMIT = 60.0
DEVELOPMENT_KEY = b"family-ledger-DEVELOPMENT-key-not-for-production"
# The seal key of SQLite ledgers that configure none: public, so its signatures prove nothing.
DEVELOPMENT_SEAL_SEED = hashlib.sha256(b"family-ledger-DEVELOPMENT-seal-key-not-for-production").digest()


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    db: str
    pseudonym_key: bytes
    using_development_key: bool
    rules_dir: str | None = None
    clock_skew_max_s: int = CLOCK_SKEW_MAX_S_DEFAULT  # how far `at` may run ahead of the ledger's clock
    read_only: bool = False  # a replica: never create tables, prefer a standby
    province: str | None = None  # a federation's ledger: the two-digit province it holds (infra.federation)
    federation: str | None = None  # ...and the federation file it is one of (a server's writer reopens it)

    @property
    def backend(self) -> Backend:
        return backend_of_url(self.db)

    @property
    def is_postgres(self) -> bool:
        return is_postgres_url(self.db)

    def connect_params(self) -> dict[str, str]:
        """libpq parameters of the URL that the library's environment cannot carry."""
        if not self.is_postgres:
            return {}
        params = postgres_connect_params(self.db)
        if self.read_only:
            params.setdefault("target_session_attrs", "prefer-standby")
        return params


def load_settings(db: str | None = None, rules_dir: str | None = None) -> Settings:
    db = db or os.environ.get("LEDGER_DB") or DEFAULT_DB
    raw_key = os.environ.get("LEDGER_PSEUDONYM_KEY", "")
    if raw_key:
        if len(raw_key) < 16:
            raise ConfigError("LEDGER_PSEUDONYM_KEY: must be at least 16 characters")
        key, dev = raw_key.encode(), False
    elif is_postgres_url(db) and os.environ.get("LEDGER_ALLOW_DEVELOPMENT_KEY") != "1":
        raise ConfigError(
            "LEDGER_PSEUDONYM_KEY is not set: a PostgreSQL deployment needs a secret pseudonym key "
            "(set LEDGER_ALLOW_DEVELOPMENT_KEY=1 to use the development key for testing)"
        )
    else:
        key, dev = DEVELOPMENT_KEY, True
    return Settings(
        db=db,
        pseudonym_key=key,
        using_development_key=dev,
        rules_dir=rules_dir or os.environ.get("LEDGER_RULES_DIR"),
        clock_skew_max_s=_clock_skew_max_s(),
    )


def _clock_skew_max_s() -> int:
    raw = os.environ.get("LEDGER_CLOCK_SKEW_MAX_S", "")
    if not raw:
        return CLOCK_SKEW_MAX_S_DEFAULT
    if not raw.isdigit() or int(raw) > CLOCK_SKEW_MAX_S_LIMIT:
        raise ConfigError(f"LEDGER_CLOCK_SKEW_MAX_S: must be a whole number of seconds, 0..{CLOCK_SKEW_MAX_S_LIMIT}")
    return int(raw)


def warn_development_key(settings: Settings) -> None:
    if settings.using_development_key:
        print(
            "WARNING: using the built-in DEVELOPMENT pseudonym key. ID numbers are protected only "
            "against casual reading; set LEDGER_PSEUDONYM_KEY to a secret for real data.",
            file=sys.stderr,
        )


# --- bounded waits on every PostgreSQL connection ---------------------------------------------
# Seconds (a count for KEEPALIVE_COUNT_N). With the defaults a dead server or network is noticed
# within about 30 s: keepalives on an idle or waiting connection after 10 + 3 x 5 s, unacknowledged
# data after 30 s (tcp_user_timeout), a statement the server cannot finish after 60 s, a connection
# attempt after 10 s. A lost COMMIT reply is resolved for up to LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S
# (infra.storage.postgres_recorder).
PG_WAITS_DEFAULT = {
    "LEDGER_PG_CONNECT_TIMEOUT_S": 10,
    "LEDGER_PG_STATEMENT_TIMEOUT_S": 60,
    "LEDGER_PG_KEEPALIVE_IDLE_S": 10,
    "LEDGER_PG_KEEPALIVE_INTERVAL_S": 5,
    "LEDGER_PG_KEEPALIVE_COUNT_N": 3,
    "LEDGER_PG_TCP_USER_TIMEOUT_S": 30,
    "LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S": 30,
}


def postgres_waits() -> dict[str, int]:
    waits = {}
    for name, default in PG_WAITS_DEFAULT.items():
        raw = os.environ.get(name, "").strip()
        try:
            waits[name] = int(raw) if raw else default
        except ValueError:
            raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
        if waits[name] < 1:
            raise ConfigError(f"{name}: must be at least 1, got {raw!r}")
    return waits


# --- the seal key (Ed25519) that signs the audit checkpoints ----------------------------------
@dataclass(frozen=True)
class SealKey:
    seed: bytes  # the 32-byte Ed25519 private key (RFC 8032 seed)
    development: bool


def _hex32(raw: str, name: str) -> bytes:
    raw = raw.strip().lower()
    if len(raw) != 64 or any(c not in "0123456789abcdef" for c in raw):
        raise ConfigError(f"{name}: must be 64 hex characters (32 bytes)")
    return bytes.fromhex(raw)


def load_seal_key(db: str | None = None) -> SealKey:
    """LEDGER_SEAL_KEY; without it, refused on PostgreSQL, the development key on SQLite/memory."""
    raw = os.environ.get("LEDGER_SEAL_KEY", "")
    if raw:
        return SealKey(_hex32(raw, "LEDGER_SEAL_KEY"), False)
    if is_postgres_url(db or os.environ.get("LEDGER_DB") or DEFAULT_DB):
        raise ConfigError(
            "LEDGER_SEAL_KEY is not set: a PostgreSQL ledger signs its checkpoints with a secret "
            "key (create one with `ledger seal-key --generate`)"
        )
    return SealKey(DEVELOPMENT_SEAL_SEED, True)


def load_seal_public_key(given: str | None = None) -> bytes | None:
    """The public key checkpoints must be signed by: `--public-key`, else LEDGER_SEAL_PUBLIC_KEY."""
    if given:
        return _hex32(given, "--public-key")
    raw = os.environ.get("LEDGER_SEAL_PUBLIC_KEY", "")
    return _hex32(raw, "LEDGER_SEAL_PUBLIC_KEY") if raw else None


def warn_development_seal_key(key: SealKey) -> None:
    if key.development:
        print(
            "WARNING: signing checkpoints with the built-in DEVELOPMENT seal key, which is public: its "
            "signatures prove nothing. Set LEDGER_SEAL_KEY (from `ledger seal-key --generate`) for real data.",
            file=sys.stderr,
        )

"""Configuration from the command line and the environment; the only place that reads it."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlparse, urlsplit, urlunsplit

from eventsourcing.utils import get_topic

from infra.eventstore.backend import MEMORY_URL, Backend, backend_of_url, is_postgres_url
from infra.eventstore.mapper import CanonicalJSONTranscoder, PydanticMapper

DEFAULT_DB = "./ledger.db"
CLOCK_SKEW_MAX_S_DEFAULT = 300  # senders' clocks differ a little; a command may be this far ahead
CLOCK_SKEW_MAX_S_LIMIT = 86_400
KEY_CACHE_S_DEFAULT = 1.0  # `ledger serve --key-cache-seconds`: how late another process's revocation may take hold
KEY_CACHE_S_LIMIT = 60.0
DEVELOPMENT_KEY = b"family-ledger-DEVELOPMENT-key-not-for-production"
# The seal key of SQLite ledgers that configure none: public, so its signatures prove nothing.
DEVELOPMENT_SEAL_SEED = hashlib.sha256(b"family-ledger-DEVELOPMENT-seal-key-not-for-production").digest()


@dataclass(frozen=True)
class Settings:
    db: str
    pseudonym_key: bytes
    using_development_key: bool
    rules_dir: str | None = None
    clock_skew_max_s: int = CLOCK_SKEW_MAX_S_DEFAULT  # how far `at` may run ahead of the ledger's clock
    read_only: bool = False  # a replica: never create tables, prefer a standby

    @property
    def backend(self) -> Backend:
        return backend_of_url(self.db)

    @property
    def is_postgres(self) -> bool:
        return is_postgres_url(self.db)

    def eventsourcing_env(self) -> dict[str, str]:
        env = {
            "MAPPER_TOPIC": get_topic(PydanticMapper),
            "TRANSCODER_TOPIC": get_topic(CanonicalJSONTranscoder),
            "CREATE_TABLE": "n" if self.read_only else "y",
        }
        if self.is_postgres:
            env.update(postgres_env(self.db))
        elif self.db == MEMORY_URL:
            env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
        else:
            env.update(
                {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": self.db, "SQLITE_LOCK_TIMEOUT": "30"}
            )
        return env

    def connect_params(self) -> dict[str, str]:
        """libpq parameters of the URL that the library's environment cannot carry."""
        if not self.is_postgres:
            return {}
        params = postgres_connect_params(self.db)
        if self.read_only:
            params.setdefault("target_session_attrs", "prefer-standby")
        return params


# --- PostgreSQL URLs: one host or several (libpq's multi-host form) ---------------------------
# `postgresql://user@h1:5441,h2:5442/ledger?target_session_attrs=read-write&schema=s` names a
# primary and its standby: libpq (psycopg) tries the hosts in turn and keeps the one that is
# read-write, so after a failover new connections find the new primary. The library takes host
# and port as strings and hands them to psycopg unchanged, so comma-separated lists pass through;
# the other query parameters (target_session_attrs, sslmode, ...) are added to its pool's
# connection parameters by `apply_connect_params` before the first connection.


def postgres_hosts(url: str) -> tuple[str, str]:
    """('h1,h2', 'p1,p2') of a PostgreSQL URL; a host without a port gets 5432."""
    netloc = urlsplit(url).netloc.rpartition("@")[2]
    hosts, ports = [], []
    for part in netloc.split(","):
        if part.startswith("["):  # [ipv6]:port
            host, _, rest = part[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = part.partition(":")
        hosts.append(unquote(host) or "127.0.0.1")
        ports.append(port or "5432")
    return ",".join(hosts), ",".join(ports)


def postgres_connect_params(url: str) -> dict[str, str]:
    """The URL's query parameters for libpq: all but our own `schema`."""
    return {k: v for k, v in parse_qsl(urlsplit(url).query) if k != "schema"}


def apply_connect_params(factory: object, settings: Settings) -> None:
    """Give the library's connection pool the URL's libpq parameters; call before it connects."""
    params = settings.connect_params()
    datastore = getattr(factory, "datastore", None)
    if params and datastore is not None:
        datastore.pool.kwargs.update(params)


# Bounded waits on every PostgreSQL connection (seconds; a count for KEEPALIVE_COUNT_N). With the
# defaults a dead server or network is noticed within about 30 s: keepalives on an idle or waiting
# connection after 10 + 3 x 5 s, unacknowledged data after 30 s (tcp_user_timeout), a statement
# the server cannot finish after 60 s, a connection attempt after 10 s. A lost COMMIT reply is
# resolved for up to LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S (infra.eventstore.pg_recorder).
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


def libpq_kwargs(waits: dict[str, int]) -> dict[str, Any]:
    """The libpq connection parameters that bound every wait on a PostgreSQL connection."""
    return {
        "connect_timeout": max(2, waits["LEDGER_PG_CONNECT_TIMEOUT_S"]),  # libpq's minimum is 2
        "keepalives": 1,
        "keepalives_idle": waits["LEDGER_PG_KEEPALIVE_IDLE_S"],
        "keepalives_interval": waits["LEDGER_PG_KEEPALIVE_INTERVAL_S"],
        "keepalives_count": waits["LEDGER_PG_KEEPALIVE_COUNT_N"],
        "tcp_user_timeout": waits["LEDGER_PG_TCP_USER_TIMEOUT_S"] * 1000,
        # JIT off: the ledger's queries are short index probes; compiling them cost more than
        # running them once the planner's estimates (no statistics) switched JIT on
        "options": f"-c statement_timeout={waits['LEDGER_PG_STATEMENT_TIMEOUT_S'] * 1000} -c jit=off",
    }


def postgres_env(url: str) -> dict[str, str]:
    parsed = urlparse(url)
    waits = postgres_waits()
    schema = postgres_schema(url)
    hosts, ports = postgres_hosts(url)
    env = {"POSTGRES_SCHEMA": schema} if schema else {}
    return env | {
        "POSTGRES_DBNAME": (parsed.path or "/postgres").lstrip("/") or "postgres",
        "POSTGRES_HOST": hosts,
        "POSTGRES_PORT": ports,
        "POSTGRES_USER": unquote(parsed.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parsed.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": str(waits["LEDGER_PG_CONNECT_TIMEOUT_S"]),  # the pool's wait
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "10",
        # Same table, lock and order as the library's recorder; sends batches as plain arrays.
        "APPLICATION_RECORDER_TOPIC": "infra.eventstore.pg_recorder:ArrayInsertApplicationRecorder",
        # The library's factory, plus the bounded waits on every connection of its one datastore.
        "PERSISTENCE_MODULE": "infra.eventstore.pg_recorder:LedgerPostgresFactory",
        "LEDGER_PG_LIBPQ_KWARGS": json.dumps(libpq_kwargs(waits)),
        "LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S": str(waits["LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S"]),
    }


def split_schema(url: str) -> tuple[str, str]:
    """('postgresql://...' without the `schema` parameter, the schema or '')."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), "")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def postgres_schema(url: str) -> str:
    return split_schema(url)[1]


def ensure_postgres_schema(url: str) -> None:
    """Create the URL's `?schema=` on first use, as the tables are (a no-op when it exists)."""
    schema = postgres_schema(url)
    if not schema:
        return
    import psycopg
    from psycopg.sql import SQL, Identifier

    base = split_schema(url)[0]  # keeps target_session_attrs: the schema is made on the primary
    with psycopg.connect(base, autocommit=True, **libpq_kwargs(postgres_waits())) as conn:
        conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))


class ConfigError(Exception):
    pass


def _clock_skew_max_s() -> int:
    raw = os.environ.get("LEDGER_CLOCK_SKEW_MAX_S", "")
    if not raw:
        return CLOCK_SKEW_MAX_S_DEFAULT
    if not raw.isdigit() or int(raw) > CLOCK_SKEW_MAX_S_LIMIT:
        raise ConfigError(f"LEDGER_CLOCK_SKEW_MAX_S: must be a whole number of seconds, 0..{CLOCK_SKEW_MAX_S_LIMIT}")
    return int(raw)


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


def warn_development_key(settings: Settings) -> None:
    if settings.using_development_key:
        print(
            "WARNING: using the built-in DEVELOPMENT pseudonym key. ID numbers are protected only "
            "against casual reading; set LEDGER_PSEUDONYM_KEY to a secret for real data.",
            file=sys.stderr,
        )


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

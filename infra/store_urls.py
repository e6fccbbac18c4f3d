"""What a `--db` / LEDGER_DB value names: the in-memory store, a SQLite file or a PostgreSQL
database (`postgresql://` or `postgres://`, optionally several hosts and a `?schema=`).

Pure parsing of the text; opening the store is `infra.storage`'s job.

Multi-host URLs: `postgresql://user@h1:5441,h2:5442/ledger?target_session_attrs=read-write&schema=s`
names a primary and its standby: libpq (psycopg) tries the hosts in turn and keeps the one that is
read-write, so after a failover new connections find the new primary. The library takes host and
port as strings and hands them to psycopg unchanged, so comma-separated lists pass through; the
other query parameters (target_session_attrs, sslmode, ...) are libpq connection parameters.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

Backend = Literal["memory", "sqlite", "postgres"]

MEMORY_URL = "memory://"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_PREFIXES)


def backend_of_url(url: str) -> Backend:
    """The backend a `--db` / LEDGER_DB value names (anything else is a SQLite path)."""
    if is_postgres_url(url):
        return "postgres"
    return "memory" if url == MEMORY_URL else "sqlite"


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


def split_schema(url: str) -> tuple[str, str]:
    """('postgresql://...' without the `schema` parameter, the schema or '')."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), "")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def postgres_schema(url: str) -> str:
    return split_schema(url)[1]


def describe_db(db: str) -> str:
    """The store for a message: a URL without its password."""
    if "@" in db:
        scheme, rest = db.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return db

"""Paged access to the event log, and the audit's own tables.

The log is read only through bounded pages in global order (infra.eventstore.log).
The audit keeps two tables of its own beside the event store, in the same database (and, on
PostgreSQL, the same `?schema=`):

    audit_chain_links(position PK, originator_id, originator_version,
                      record_sha256, state_sha256, link_sha256)     one row per sealed record
    audit_checkpoints(sequence PK, first_position, position, record_count, head_sha256,
                      merkle_root_sha256, sealed_at, previous_sha256, checkpoint_sha256,
                      public_key, signature)                           Ed25519, hex (see signing)

`public_key`/`signature` were added later: an older table gains them (empty for the checkpoints
sealed before, which a verifier given a public key reports as unsigned).
On the in-memory store (tests, demos) the same rows live on the recorder object.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from infra.eventstore.backend import backend_of
from infra.eventstore.log import paged

PAGE_SIZE = 500  # records per read of the log or of the links table

LINK_COLUMNS = ("position", "originator_id", "originator_version", "record_sha256", "state_sha256", "link_sha256")
CHECKPOINT_COLUMNS = (
    "sequence",
    "first_position",
    "position",
    "record_count",
    "head_sha256",
    "merkle_root_sha256",
    "sealed_at",
    "previous_sha256",
    "checkpoint_sha256",
    "public_key",
    "signature",
)
SIGNATURE_COLUMNS = ("public_key", "signature")


@dataclass(frozen=True)
class LinkRow:
    position: int
    originator_id: str
    originator_version: int
    record_sha256: str
    state_sha256: str
    link_sha256: str


class AuditStore:
    def __init__(self, app: Any):
        self.app = app
        self.recorder = app.recorder
        self.kind = backend_of(self.recorder)
        self._ready = False
        # On a read-only replica (`--read-db`) the audit tables are read, never created: a
        # ledger never sealed on the primary has none, which reads as no links and no checkpoints.
        self.read_only = bool(getattr(getattr(app, "settings", None), "read_only", False))
        self._absent = False

    # --- the event log --------------------------------------------------------------------
    def log_page(self, after: int, limit: int = PAGE_SIZE, stop: int | None = None) -> list[Notification]:
        page = self.recorder.select_notifications(after, limit, stop=stop, inclusive_of_start=False)
        return [n if isinstance(n.state, bytes) else _with_bytes(n) for n in page]

    def iter_log(self, after: int = 0, stop: int | None = None) -> Iterator[Notification]:
        return paged(lambda start: self.log_page(start, PAGE_SIZE, stop), lambda n: n.id, after, PAGE_SIZE)

    def positions_below_start(self) -> list[int]:
        """Rows the notification log never shows (position < 1), yet aggregates would load."""
        table = getattr(self.recorder, "events_table_name", "")
        if self.kind == "sqlite":
            rows = self._sqlite(
                f"SELECT rowid AS position FROM {table} WHERE rowid < 1 ORDER BY rowid LIMIT ?", (PAGE_SIZE,)
            )
        elif self.kind == "postgres":
            from psycopg.sql import SQL, Identifier

            statement = SQL(
                "SELECT notification_id AS position FROM {}.{} WHERE notification_id < 1 "
                "ORDER BY notification_id LIMIT %s"
            ).format(Identifier(self.recorder.datastore.schema), Identifier(table))
            rows = self._postgres(statement, (PAGE_SIZE,))
        else:
            rows = []
        return [row["position"] for row in rows]

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def events_of(self, originator_id: UUID) -> list[tuple[int, Any]]:
        """(position, stored event) of one aggregate, in version order."""
        table = getattr(self.recorder, "events_table_name", "")
        if self.kind == "sqlite":
            rows = self._sqlite(
                f"SELECT rowid AS position, originator_version, topic, state FROM {table} "
                "WHERE originator_id=? ORDER BY originator_version",
                (originator_id.hex,),
            )
        elif self.kind == "postgres":
            from psycopg.sql import SQL, Identifier

            statement = SQL(
                "SELECT notification_id AS position, originator_version, topic, state FROM {}.{} "
                "WHERE originator_id=%s ORDER BY originator_version"
            ).format(Identifier(self.recorder.datastore.schema), Identifier(table))
            rows = self._postgres(statement, (originator_id,))
        else:
            rows = [
                {"position": n.id, "originator_version": n.originator_version, "topic": n.topic, "state": n.state}
                for n in self.iter_log()
                if n.originator_id == originator_id
            ]
        return [
            (
                row["position"],
                Notification(
                    id=row["position"],
                    originator_id=originator_id,
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=as_bytes(row["state"]),
                ),
            )
            for row in rows
        ]

    # --- the audit tables -----------------------------------------------------------------
    def ensure_tables(self) -> None:
        if self._ready:
            return
        if self.read_only and self.kind == "postgres":
            found = self._postgres(
                self._pg_sql(
                    "SELECT count(*) = 2 AS present FROM pg_tables WHERE schemaname = %s "
                    "AND tablename IN ('audit_checkpoints', 'audit_chain_links')"
                ),
                (self.recorder.datastore.schema,),
            )
            self._absent = not found[0]["present"]
            self._ready = True
            return
        if self.kind == "sqlite":
            with self.recorder.datastore.transaction(commit=True) as c:
                c.execute(
                    "CREATE TABLE IF NOT EXISTS audit_chain_links (position INTEGER PRIMARY KEY, "
                    "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, record_sha256 TEXT NOT NULL, "
                    "state_sha256 TEXT NOT NULL, link_sha256 TEXT NOT NULL)"
                )
                c.execute(
                    "CREATE TABLE IF NOT EXISTS audit_checkpoints (sequence INTEGER PRIMARY KEY, "
                    "first_position INTEGER NOT NULL, position INTEGER NOT NULL, record_count INTEGER NOT NULL, "
                    "head_sha256 TEXT NOT NULL, merkle_root_sha256 TEXT NOT NULL, sealed_at TEXT NOT NULL, "
                    "previous_sha256 TEXT NOT NULL, checkpoint_sha256 TEXT NOT NULL, public_key TEXT, signature TEXT)"
                )
                c.execute("PRAGMA table_info(audit_checkpoints)")
                present = {row[1] for row in c.fetchall()}
                for column in SIGNATURE_COLUMNS:
                    if column not in present:
                        c.execute(f"ALTER TABLE audit_checkpoints ADD COLUMN {column} TEXT")
        elif self.kind == "postgres":
            from psycopg.sql import SQL, Identifier

            schema = Identifier(self.recorder.datastore.schema)
            with self.recorder.datastore.transaction(commit=True) as c:
                c.execute(
                    SQL(
                        "CREATE TABLE IF NOT EXISTS {}.audit_chain_links (position bigint PRIMARY KEY, "
                        "originator_id text NOT NULL, originator_version bigint NOT NULL, record_sha256 text NOT NULL, "
                        "state_sha256 text NOT NULL, link_sha256 text NOT NULL)"
                    ).format(schema)
                )
                c.execute(
                    SQL(
                        "CREATE TABLE IF NOT EXISTS {}.audit_checkpoints (sequence bigint PRIMARY KEY, "
                        "first_position bigint NOT NULL, position bigint NOT NULL, record_count bigint NOT NULL, "
                        "head_sha256 text NOT NULL, merkle_root_sha256 text NOT NULL, sealed_at text NOT NULL, "
                        "previous_sha256 text NOT NULL, checkpoint_sha256 text NOT NULL, public_key text, "
                        "signature text)"
                    ).format(schema)
                )
                for column in SIGNATURE_COLUMNS:
                    c.execute(
                        SQL("ALTER TABLE {}.audit_checkpoints ADD COLUMN IF NOT EXISTS {} text").format(
                            schema, Identifier(column)
                        )
                    )
        else:
            if not hasattr(self.recorder, "_audit_links"):
                self.recorder._audit_links = {}
                self.recorder._audit_checkpoints = []
        self._ready = True

    def checkpoints(self) -> list[dict[str, Any]]:
        self.ensure_tables()
        if self._absent:
            return []
        if self.kind == "memory":
            return [dict(c) for c in self.recorder._audit_checkpoints]
        columns = ", ".join(CHECKPOINT_COLUMNS)
        if self.kind == "sqlite":
            rows = self._sqlite(f"SELECT {columns} FROM audit_checkpoints ORDER BY sequence", ())
        else:
            rows = self._postgres(self._pg_sql(f"SELECT {columns} FROM {{}}.audit_checkpoints ORDER BY sequence"), ())
        return [{k: row[k] for k in CHECKPOINT_COLUMNS} for row in rows]

    def has_audit_tables(self) -> bool:
        """Whether the audit tables exist (before `ensure_tables` would create them)."""
        if self.kind == "memory":
            return hasattr(self.recorder, "_audit_checkpoints")
        if self.kind == "sqlite":
            return bool(
                self._sqlite("SELECT name FROM sqlite_master WHERE type='table' AND name='audit_checkpoints'", ())
            )
        return bool(
            self._postgres(self._pg_sql("SELECT to_regclass('{}.audit_checkpoints') IS NOT NULL AS present"), ())[0][
                "present"
            ]
        )

    def links_page(self, after: int, limit: int = PAGE_SIZE, stop: int | None = None) -> list[LinkRow]:
        self.ensure_tables()
        if self._absent:
            return []
        stop = stop if stop is not None else 2**62
        if self.kind == "memory":
            keys = sorted(p for p in self.recorder._audit_links if after < p <= stop)[:limit]
            return [self.recorder._audit_links[p] for p in keys]
        columns = ", ".join(LINK_COLUMNS)
        if self.kind == "sqlite":
            rows = self._sqlite(
                f"SELECT {columns} FROM audit_chain_links WHERE position>? AND position<=? ORDER BY position LIMIT ?",
                (after, stop, limit),
            )
        else:
            rows = self._postgres(
                self._pg_sql(
                    f"SELECT {columns} FROM {{}}.audit_chain_links WHERE position>%s AND position<=%s "
                    "ORDER BY position LIMIT %s"
                ),
                (after, stop, limit),
            )
        return [LinkRow(**{k: row[k] for k in LINK_COLUMNS}) for row in rows]

    def iter_links(self, after: int = 0, stop: int | None = None) -> Iterator[LinkRow]:
        return paged(lambda start: self.links_page(start, PAGE_SIZE, stop), lambda row: row.position, after, PAGE_SIZE)

    def link_at(self, position: int) -> LinkRow | None:
        page = self.links_page(position - 1, 1, position)
        return page[0] if page else None

    def write_segment(self, links: list[LinkRow], checkpoint: dict[str, Any]) -> None:
        """One transaction: the segment's link rows and its checkpoint, or nothing."""
        self.ensure_tables()
        link_rows = [tuple(getattr(row, k) for k in LINK_COLUMNS) for row in links]
        checkpoint_row = tuple(checkpoint.get(k) for k in CHECKPOINT_COLUMNS)
        if self.kind == "memory":
            if any(row.position in self.recorder._audit_links for row in links):
                raise SealConflictError("a link for this segment already exists")
            self.recorder._audit_links.update({row.position: row for row in links})
            self.recorder._audit_checkpoints.append(dict(checkpoint))
            return
        marks = ",".join(["?"] * len(LINK_COLUMNS)), ",".join(["?"] * len(CHECKPOINT_COLUMNS))
        names = ", ".join(CHECKPOINT_COLUMNS)
        if self.kind == "sqlite":
            import sqlite3

            try:
                with self.recorder.datastore.transaction(commit=True) as c:
                    c.executemany(f"INSERT INTO audit_chain_links VALUES ({marks[0]})", link_rows)
                    c.execute(f"INSERT INTO audit_checkpoints ({names}) VALUES ({marks[1]})", checkpoint_row)
            except sqlite3.IntegrityError as error:
                raise SealConflictError(str(error)) from None
            return
        import psycopg

        try:
            with self.recorder.datastore.transaction(commit=True) as c:
                c.executemany(self._pg_sql("INSERT INTO {}.audit_chain_links VALUES (%s,%s,%s,%s,%s,%s)"), link_rows)
                c.execute(
                    self._pg_sql(
                        f"INSERT INTO {{}}.audit_checkpoints ({names}) VALUES ({marks[1].replace('?', '%s')})"
                    ),
                    checkpoint_row,
                )
        except psycopg.errors.UniqueViolation as error:
            raise SealConflictError(str(error).splitlines()[0]) from None

    # --- plumbing -------------------------------------------------------------------------
    def _sqlite(self, statement: str, params: tuple) -> list[dict[str, Any]]:
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [dict(row) for row in c.fetchall()]

    def _pg_sql(self, template: str) -> Any:
        from psycopg.sql import SQL, Identifier

        return SQL(template).format(Identifier(self.recorder.datastore.schema))

    def _postgres(self, statement: Any, params: tuple) -> list[dict[str, Any]]:
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return list(c.fetchall())


def as_bytes(state: Any) -> bytes:
    """Stored state as bytes, whatever the column now holds (an edit may turn a BLOB into TEXT)."""
    return state.encode("utf-8") if isinstance(state, str) else bytes(state)


def _with_bytes(n: Notification) -> Notification:
    return Notification(
        id=n.id,
        originator_id=n.originator_id,
        originator_version=n.originator_version,
        topic=n.topic,
        state=as_bytes(n.state),
    )


class SealConflictError(Exception):
    """Another `seal` wrote the same positions first."""

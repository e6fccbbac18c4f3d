"""How the PostgreSQL adapter writes: the library's insert, with a cheaper way to send a batch
of rows, and knowing whether its own commit landed.

The stock recorder sends a batch as one array of a composite type; psycopg dumps composites
in Python, value by value with regular expressions, and in the group-commit profile that
dumping cost more than the database's own work. Here the same rows go as four plain arrays
(uuid[], bigint[], text[], bytea[]), each written in PostgreSQL's binary array format at once
(infra.storage.pg_arrays). Everything else is the library's: the same table, the `LOCK TABLE
... IN EXCLUSIVE MODE` that keeps the notification order gap-free, the NOTIFY, and notification
ids in the order of the events given (`WITH ORDINALITY ... ORDER BY` makes that order explicit).

Knowing whether our own commit landed. The library retries `insert_events` blindly on
OperationalError/InterfaceError; when only the COMMIT's reply was lost (connection dropped,
server restarted) the retry hits the unique key, and the application would take that
IntegrityError for another writer and decide the batch again on top of its own commit. Here
`insert_events` does not retry blindly: after an ambiguous failure it asks the store, on a fresh
connection from the pool, whether the batch's events are stored (`stored_outcome`, by
(originator_id, originator_version), comparing topic and state bytes):
- all stored with our content: the batch landed; its notification ids are returned, nothing is sent again;
- none stored: it did not land; the insert is sent again (safe: nothing of it is stored). If that
  insert hits the unique key, the lost transaction may have been still committing when we looked:
  we look again before calling it a conflict;
- stored with other content: another writer got there first, a genuine IntegrityError.
While the server cannot be asked (unreachable, restarting) the question is asked again with
backoff for up to `commit_outcome_timeout_s` (LEDGER_PG_COMMIT_OUTCOME_TIMEOUT_S, default 30 s);
then `CommitOutcomeUnknownError` is raised, an OperationalError (so it is a STORAGE_ERROR) whose
message says that the outcome is unknown: the caller must report those commands' outcome as
unknown, not as failed, and must not decide them again blindly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from infra.storage.errors import one_line
from infra.storage.pg_arrays import BigintArray, ByteaArray, TextArray, UuidArray

log = logging.getLogger(__name__)
COMMIT_OUTCOME_TIMEOUT_S = 30.0
_LIBRARY_INSERT_EVENTS = PostgresApplicationRecorder.insert_events.__wrapped__  # without its blind retry


class CommitOutcomeUnknownError(OperationalError):
    """The insert transaction failed ambiguously and the store could not be asked in time
    whether it was stored: it may or may not have landed."""


class ArrayInserts(PostgresApplicationRecorder):
    """The insert half of `infra.storage.postgres.PostgresLedgerRecorder`."""

    commit_outcome_timeout_s: float = COMMIT_OUTCOME_TIMEOUT_S

    def __init__(self, datastore: Any, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self.select_batch_statement = SQL(
            "SELECT originator_id, originator_version, topic, state, notification_id FROM {schema}.{table} "
            "WHERE (originator_id, originator_version) IN (SELECT * FROM unnest(%b::uuid[], %b::bigint[]))"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        # the arrays go in binary (%b): in text, every element of them is checked for quoting with
        # a regular expression and the bytea escaped, here, and parsed again on the server
        self.insert_arrays_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT i, v, t, s FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "WITH ORDINALITY AS rows(i, v, t, s, n) ORDER BY n "
            "RETURNING notification_id"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self.insert_arrays_statement,
            (
                UuidArray([e.originator_id for e in stored_events]),
                BigintArray([e.originator_version for e in stored_events]),
                TextArray([e.topic for e in stored_events]),
                ByteaArray([bytes(e.state) for e in stored_events]),
            ),
        )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        try:
            return _LIBRARY_INSERT_EVENTS(self, stored_events, **kwargs)
        except (InterfaceError, OperationalError) as error:
            if not stored_events:
                raise
            log.info("insert failed ambiguously (%s); asking the store whether it landed", error)
            return self.resolve_commit_outcome(stored_events, error, **kwargs)

    def resolve_commit_outcome(
        self, stored_events: Sequence[StoredEvent], error: Exception, **kwargs: Any
    ) -> Sequence[int] | None:
        """After an ambiguous failure: the notification ids if the batch is stored (ours), else
        send it again; IntegrityError if another writer's events hold its places;
        CommitOutcomeUnknownError if the store cannot tell within `commit_outcome_timeout_s`."""
        deadline = time.monotonic() + self.commit_outcome_timeout_s
        wait, last = 0.05, error
        while True:
            try:
                ids = self.stored_outcome(stored_events)
                if ids is not None:
                    return ids  # it landed: nothing is sent again
                try:
                    return _LIBRARY_INSERT_EVENTS(self, stored_events, **kwargs)
                except IntegrityError:
                    ids = self.stored_outcome(stored_events)  # was the lost one still committing?
                    if ids is not None:
                        return ids
                    raise
            except (InterfaceError, OperationalError) as again:
                last = again
            if time.monotonic() + wait > deadline:
                raise CommitOutcomeUnknownError(
                    f"commit outcome unknown: the connection failed during the insert ({one_line(error)}) "
                    f"and the store could not be asked within {self.commit_outcome_timeout_s:g} s "
                    f"({one_line(last)})"
                ) from None
            time.sleep(wait)
            wait = min(wait * 2, 2.0)

    def stored_outcome(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The batch's notification ids, in order, if all its events are stored with our topic
        and state; None if not all of them are stored; IntegrityError if any is stored with
        other content (another writer). Asks on a fresh connection from the pool."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self.select_batch_statement,
                (
                    UuidArray([e.originator_id for e in stored_events]),
                    BigintArray([e.originator_version for e in stored_events]),
                ),
            )
            rows = {(str(r["originator_id"]), r["originator_version"]): r for r in curs.fetchall()}
        ids = []
        for event in stored_events:
            row = rows.get((str(event.originator_id), event.originator_version))
            if row is None:
                continue
            if row["topic"] != event.topic or bytes(row["state"]) != bytes(event.state):
                raise IntegrityError(
                    f"another writer stored version {event.originator_version} of {event.originator_id} first"
                )
            ids.append(row["notification_id"])
        return ids if len(ids) == len(stored_events) else None

"""The library's PostgreSQL application recorder, with a cheaper way to send a batch of rows.

The stock recorder sends a batch as one array of a composite type; psycopg dumps composites
in Python, value by value with regular expressions, and in the group-commit profile that
dumping cost more than the database's own work. Here the same rows go as four plain arrays
(uuid[], bigint[], text[], bytea[]), which psycopg dumps in bulk. Everything else is the
library's: the same table, the `LOCK TABLE ... IN EXCLUSIVE MODE` that keeps the notification
order gap-free, the NOTIFY, and notification ids in the order of the events given
(`WITH ORDINALITY ... ORDER BY` makes that order explicit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier


class ArrayInsertApplicationRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.insert_arrays_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT i, v, t, s FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[]) "
            "WITH ORDINALITY AS rows(i, v, t, s, n) ORDER BY n "
            "RETURNING notification_id"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_arrays_statement, (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [bytes(e.state) for e in stored_events],
        ))

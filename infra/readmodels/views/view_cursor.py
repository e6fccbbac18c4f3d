"""A cursor on one generation of a view, as queries and projections use it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from infra.readmodels.views.generations import physical_name
from projections.tables import Table


class Dialect(Protocol):
    """What a cursor needs of the view recorder (infra.readmodels.views.base)."""

    def qualify(self, name: str) -> str: ...

    def paramstyle(self, sql: str) -> str: ...

    def as_tuple(self, row: Any) -> tuple: ...


class ViewCursor:
    """A cursor on one generation of a view, for queries: compiles `{table}` names for the
    generation and `?` parameters for the dialect; rows come back as tuples."""

    def __init__(self, recorder: Dialect, cursor: Any, tables: Sequence[Table], generation: int):
        self._recorder = recorder
        self._cursor = self.cursor = cursor
        self.generation = generation
        self._names = {t.name: recorder.qualify(physical_name(t, generation)) for t in tables}
        self._compiled: dict[str, str] = {}

    def compile(self, sql: str) -> str:
        return self._compile(sql)

    def _compile(self, sql: str) -> str:
        compiled = self._compiled.get(sql)
        if compiled is None:
            compiled = self._recorder.paramstyle(sql.format(**self._names))
            self._compiled[sql] = compiled
        return compiled

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(self._compile(sql), tuple(params))

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        self.execute(sql, params)
        row = self._cursor.fetchone()
        return None if row is None else self._recorder.as_tuple(row)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self.execute(sql, params)
        return [self._recorder.as_tuple(row) for row in self._cursor.fetchall()]

"""A page's row changes, gathered in memory and written in bulk.

Projections do not send one statement per event: they describe each event's effect on rows to a
`PageChanges`, and the view recorder writes the page's net effect at the end, in the same
transaction as the page's tracking position (see infra.readmodels.views). Two kinds of table:

- additive tables (`Table.additive`): rows of counters keyed by the key columns; every change is
  "add these amounts", so the page keeps one sum per key and writes it with one
  `INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x` per table, without reading first;
- state tables: `upsert` (insert, or overwrite some columns), `update` (overwrite columns of an
  existing row only) and `delete`. The page keeps each key's operations in order, reads the
  keys' current rows once (one query per table), replays the operations on them exactly as the
  statements would have run one by one, and writes only the rows that end different: deletes,
  and full-row upserts.

So the result is the same as running every event's statements in order, whatever the mix of
operations on one key within a page. `get` reads a column as it stands at that point of the page.

Pure: no I/O here. The recorder passes `load(table, keys) -> {key: row}` to read current rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from projections.tables import Table

Key = tuple[Any, ...]
Row = tuple[Any, ...]
Loader = Callable[[Table, list[Key]], dict[Key, Row]]

_UPSERT, _UPDATE, _DELETE = 0, 1, 2


@dataclass(frozen=True)
class TableWrites:
    """The net writes of one table for a page: keys to delete, then rows to put (full rows,
    insert or overwrite), and for additive tables rows of (key..., amounts...) to add."""

    table: Table
    deletes: list[Key]
    puts: list[Row]
    adds: list[Row]


class PageChanges:
    def __init__(self, tables: Iterable[Table], load: Loader):
        self._tables = {table.name: table for table in tables}
        self._load = load
        self._sums: dict[str, dict[Key, list[int]]] = {}
        self._ops: dict[str, dict[Key, list[tuple[int, dict[str, Any]]]]] = {}
        self._base: dict[str, dict[Key, Row | None]] = {}

    def _table(self, name: str, additive: bool) -> Table:
        table = self._tables[name]
        if table.additive != additive:
            raise TypeError(f"view table {name!r} is {'' if table.additive else 'not '}additive")
        return table

    # --- what projections call ------------------------------------------------------------
    def add(self, table: str, key: Key, amounts: Iterable[int]) -> None:
        """Add `amounts` (in the order of the table's non-key columns) to the row `key`."""
        self._table(table, additive=True)
        sums = self._sums.setdefault(table, {})
        current = sums.get(key)
        if current is None:
            sums[key] = list(amounts)
        else:
            for index, amount in enumerate(amounts):
                current[index] += amount

    def upsert(self, table: str, key: Key, values: dict[str, Any]) -> None:
        """Insert the row (other columns NULL) or overwrite these columns of the existing one."""
        self._op(table, key, _UPSERT, values)

    def update(self, table: str, key: Key, values: dict[str, Any]) -> None:
        """Overwrite these columns of the row if it exists."""
        self._op(table, key, _UPDATE, values)

    def delete(self, table: str, key: Key) -> None:
        self._op(table, key, _DELETE, {})

    def get(self, table: str, key: Key, column: str) -> Any:
        """The column's value as it stands now in the page (None when the row is absent)."""
        table_def = self._table(table, additive=False)
        self.preload(table, [key])
        row = self._replay(table_def, key, self._base[table][key], self._ops.get(table, {}).get(key, ()))
        return None if row is None else row[table_def.column_names.index(column)]

    def preload(self, table: str, keys: Iterable[Key]) -> None:
        """Read these keys' current rows now, in one query (e.g. before handling a page)."""
        table_def = self._table(table, additive=False)
        base = self._base.setdefault(table, {})
        missing = [key for key in dict.fromkeys(keys) if key not in base]
        if missing:
            found = self._load(table_def, missing)
            for key in missing:
                base[key] = found.get(key)

    # --- what the recorder calls ------------------------------------------------------------
    def writes(self) -> list[TableWrites]:
        """The page's net writes, table by table in declaration order."""
        result = []
        for table in self._tables.values():
            if table.additive:
                sums = self._sums.get(table.name, {})
                adds = [(*key, *amounts) for key, amounts in sums.items()]
                result.append(TableWrites(table, [], [], adds))
                continue
            ops = self._ops.get(table.name, {})
            self.preload(table.name, ops)
            base = self._base.get(table.name, {})
            deletes, puts = [], []
            for key, key_ops in ops.items():
                before = base[key]
                after = self._replay(table, key, before, key_ops)
                if after is None:
                    if before is not None:
                        deletes.append(key)
                elif after != before:
                    puts.append(after)
            result.append(TableWrites(table, deletes, puts, []))
        return result

    # --- internals ------------------------------------------------------------------------
    def _op(self, table: str, key: Key, kind: int, values: dict[str, Any]) -> None:
        self._table(table, additive=False)
        self._ops.setdefault(table, {}).setdefault(key, []).append((kind, values))

    @staticmethod
    def _replay(table: Table, key: Key, row: Row | None, ops: Iterable[tuple[int, dict[str, Any]]]) -> Row | None:
        """Run a key's operations, in order, on its row as the database holds it."""
        columns = table.column_names
        current: dict[str, Any] | None = None if row is None else dict(zip(columns, row, strict=False))
        for kind, values in ops:
            if kind == _DELETE:
                current = None
            elif kind == _UPSERT:
                if current is None:
                    current = dict.fromkeys(columns)
                    current.update(zip(table.key, key, strict=False))
                current.update(values)
            elif current is not None:
                current.update(values)
        return None if current is None else tuple(current[c] for c in columns)

"""A view's tables: their logical names, portable column types, keys and indexes.

Described here, created and named per generation by the view recorder (infra.readmodels.views);
`projections.changes` gathers row changes against them and `projections.base` holds the views.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Table:
    """A view table. Column types are portable: 'text' or 'int' (64-bit)."""

    name: str  # logical name; the physical name adds a prefix and the generation
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    additive: bool = False  # rows of 'int' counters after the key, only ever added to

    def __post_init__(self) -> None:
        if self.column_names[: len(self.key)] != self.key:
            raise ValueError(f"view table {self.name!r}: the key columns must come first, in key order")
        if self.additive and any(kind != "int" for _, kind in self.columns[len(self.key) :]):
            raise ValueError(f"view table {self.name!r}: an additive table holds only 'int' counters")

    @cached_property
    def value_columns(self) -> tuple[str, ...]:
        return self.column_names[len(self.key) :]

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @cached_property
    def text_columns(self) -> frozenset[str]:
        return frozenset(name for name, kind in self.columns if kind == "text")

"""Where each generation of a view lives, and how far it got: the tables' physical names, the
pointer that says which generation serves queries and which one a rebuild is filling, the
tracking key of a generation's position, and the part of a page a view has not seen yet
(the package doc, infra.readmodels.views, lists the tables)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from projections.tables import Table

TABLE_PREFIX = "lv_"
POINTER_TABLE = "ledger_view_pointer"
GENERATIONS_TABLE = "ledger_view_generations"

BeforeCommit = Callable[[str, int, int], None]  # (view, generation, last notification id)


class RebuildSupersededError(Exception):
    """Another rebuild finished or replaced the generation this one was filling."""


def tracking_key(view: str, generation: int) -> str:
    return f"{view}/g{generation}"


def physical_name(table: Table | str, generation: int) -> str:
    name = table.name if isinstance(table, Table) else table
    return f"{TABLE_PREFIX}{name}_g{generation}"


@dataclass(frozen=True)
class Pointer:
    active: int
    building: int | None
    last: int


def assert_pointer(pointer: Pointer | None, view: str) -> Pointer:
    if pointer is None:
        raise LookupError(f"view {view} has no generation pointer")
    return pointer


def fresh_pairs(pairs: Sequence[tuple[Any, Tracking]], position: int) -> Sequence[tuple[Any, Tracking]]:
    """The pairs after `position` (pairs are in notification order)."""
    if not pairs or pairs[0][1].notification_id > position:
        return pairs
    return [(event, tracking) for event, tracking in pairs if tracking.notification_id > position]

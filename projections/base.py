"""What every read model shares: its tables, its event dispatch, and a transaction to write in.

A view is a `Projection` in the `eventsourcing` library's sense: `process_event(event, tracking)`
writes the view's rows and the tracking position in one transaction of its tracking recorder.
For throughput the runner hands the view a whole page of events instead (`apply_page`): the
rows of every event in the page and the tracking position of the page's last notification are
still written in one transaction, so a crash at any point neither loses nor double-counts.

This package holds the *logic* (which rows an event changes); it does no I/O of its own. The
writer it is given (`ViewWriter`) belongs to `infra.views`, which knows the database dialect, the
table generation in service, and the tracking recorder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class Table:
    """A view table. Column types are portable: 'text' or 'int' (64-bit)."""

    name: str  # logical name; the physical name adds a prefix and the generation
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def text_columns(self) -> frozenset[str]:
        return frozenset(name for name, kind in self.columns if kind == "text")


class ViewWriter(Protocol):
    """A cursor inside the view's transaction. SQL names tables as `{logical_name}` and takes
    `?` parameters; the writer substitutes the generation's physical names and the dialect."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple | None: ...


class ViewRecorder(Protocol):
    """The tracking recorder a projection writes through (see infra.views)."""

    def apply_events(self, projection: LedgerProjection, pairs: Sequence[tuple[Any, Tracking]]) -> int: ...


class LedgerProjection(Projection[Any]):
    """Base of the ledger's views: dispatch on event type; ignored events do nothing (but the
    runner still records their tracking position, so the view's position always advances)."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    tables: ClassVar[tuple[Table, ...]] = ()

    def __init__(self, view: ViewRecorder | None = None):
        super().__init__(view)  # type: ignore[arg-type]

    handlers: ClassVar[dict[type, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.handlers = {
            event_class: attribute
            for attribute, member in vars(cls).items()
            for event_class in getattr(member, "handles_events", ())
        }

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:  # type: ignore[override]
        """The library's one-event entry point: rows and tracking in one transaction."""
        self.view.apply_events(self, [(domain_event, tracking)])

    def handle(self, event: Any, w: ViewWriter) -> None:
        """Write the rows `event` changes; an event type the view does not handle is ignored."""
        attribute = self.handlers.get(type(event))
        if attribute is not None:
            getattr(self, attribute)(event, w)


def handles(*event_classes: type) -> Any:
    """Mark a projection method as the handler of these event classes (exact types)."""

    def mark(method: Any) -> Any:
        method.handles_events = event_classes
        return method

    return mark


def upsert_add(table: str, key: Sequence[str], amounts: Sequence[str]) -> str:
    """INSERT a row of counters or add to the existing one (portable SQLite/PostgreSQL)."""
    columns = [*key, *amounts]
    placeholders = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{a} = cur.{a} + excluded.{a}" for a in amounts)
    return (
        f"INSERT INTO {{{table}}} AS cur ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def upsert_set(table: str, key: Sequence[str], values: Sequence[str]) -> str:
    """INSERT a row or overwrite the given columns of the existing one."""
    columns = [*key, *values]
    placeholders = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{v} = excluded.{v}" for v in values)
    return (
        f"INSERT INTO {{{table}}} AS cur ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )

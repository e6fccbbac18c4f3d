"""Human output: rich tables for the terminal, amounts in yuan with thousands separators as on
every page (domain.money.format_fen, grouped); machine output stays JSON, in fen."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from domain.money import format_fen

# On a terminal rich uses its width; piped into a file or pager, 80 columns would fold the
# masked ID numbers and timestamps, so tables get room for them.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)


# Facts about how an answer was obtained, added to every JSON object printed (e.g.
# `replica_lag_bytes` when the command read a replica given by --read-db).
answer_notes: dict[str, Any] = {}  # fields every JSON answer of this run carries (e.g. replica lag)


def annotate(value: Any) -> Any:
    return {**value, **answer_notes} if isinstance(value, dict) and answer_notes else value


def emit_json(value: Any) -> None:
    """One JSON line on stdout; never fails on a value's content. Readable UTF-8 when stdout can
    take it; otherwise (a lone surrogate, an ASCII-only stdout) all-ASCII JSON with \\u escapes,
    which any encoding can carry. Values JSON does not know are written as their str()."""
    value = annotate(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeError, LookupError):
        text = json.dumps(value, ensure_ascii=True, default=str)
    sys.stdout.write(text + "\n")


def key_value_table(title: str, data: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in data.items():
        if isinstance(value, (list, dict)):
            continue
        is_fen = key.endswith("_fen") and isinstance(value, int)
        shown = f"{format_fen(value, grouped=True)} yuan ({value} fen)" if is_fen else str(value)
        table.add_row(key, shown)
    return table


def rows_table(title: str, rows: list[dict[str, Any]], empty: str = "(none)") -> Table:
    table = Table(title=title)
    if not rows:
        table.add_column(empty)
        return table
    for column in rows[0]:
        header = column[:-4] + " (yuan)" if column.endswith("_fen") else column  # values shown in yuan
        table.add_column(header, no_wrap=column in ("person", "since", "at"))
    for row in rows:
        table.add_row(*[format_fen(v, grouped=True) if k.endswith("_fen") else str(v) for k, v in row.items()])
    return table

"""What people read, formatted once for every page (the console's and the offline files):
money (`yuan`: ¥4,300.00), moments (`when`: UTC+8 with its offset, UTC on hover) and codes
(`term`: the bilingual label of infra.pages.vocabulary, the code beside it in a small tag or on
hover). The templates use them as filters (infra.pages.templating); JSON and CSV never do: they
keep fen, ISO-8601 and the codes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from domain.clock import CST
from domain.money import format_fen
from infra.pages.vocabulary import term as lookup_term

NOTHING = "—"


def yuan(fen: int | None) -> str:
    """Money as people read it: ¥ and yuan with thousands separators (stored and sent as fen)."""
    return NOTHING if fen is None else f"¥{format_fen(fen, grouped=True)}"


def shown(value: Any) -> str:
    if isinstance(value, Markup):
        return value
    if value is None or value == "":
        return NOTHING
    if isinstance(value, bool):
        return "yes 是" if value else "no 否"
    return str(value)


def moment_of(value: datetime | str) -> datetime | None:
    """A moment from a datetime or the ISO-8601 text the ledger's answers carry; None when it
    has no offset (it could not be placed in time) or is not a time at all."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo is not None else None


def when(value: datetime | str | None) -> Markup:
    """A moment as people here read it, in UTC+8 with its offset, to the second; the same moment
    in UTC (to the microsecond) on hover and in the element's `datetime`. Stored times are UTC
    (seals, the access log) or carry the sender's offset; every page shows them the same way."""
    if value is None or value == "":
        return Markup(NOTHING)
    moment = moment_of(value)
    if moment is None:
        return escape(str(value))  # shown as recorded: no offset to convert from
    try:
        local, utc = moment.astimezone(CST), moment.astimezone(UTC)
    except OverflowError:
        return escape(str(value))
    utc_text = utc.isoformat().replace("+00:00", "Z")
    return Markup('<time datetime="{}" title="UTC {}"><span>{}</span> <span>{} +08:00</span></time>').format(
        utc_text, utc_text, local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")
    )


def term(code: str | None, kind: str, tag: bool = True) -> Markup:
    """A code as its bilingual label. `tag`: the code beside it in a small tag (searchable on
    the page); else on hover only (inside sentences)."""
    if code is None or code == "":
        return Markup(NOTHING)
    found = lookup_term(kind, str(code))
    if not tag:
        hover = f"{found.code} — {found.description}" if found.description else found.code
        return Markup('<span class="term" title="{}">{}</span>').format(hover, found.label)
    hover = Markup(' title="{}"').format(found.description) if found.description else Markup("")
    return Markup('<span class="term"{}>{} <code class="tag">{}</code></span>').format(hover, found.label, found.code)

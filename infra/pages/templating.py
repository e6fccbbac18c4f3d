"""One set of Jinja2 templates for every HTML page of the ledger: the console's pages and the
offline files (`ledger audit deduction --html`, `ledger report compliance --format html`).

Autoescaping is on for every template. Offline pages inline their CSS and SVG (no scripts, no
network asset); the console's pages use the same stylesheet, inlined too, so that its
Content-Security-Policy can forbid every external load and every script.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from domain.money import format_fen

TEMPLATES = Path(__file__).parent / "templates"


def yuan(fen: int | None) -> str:
    return "—" if fen is None else f"¥{format_fen(fen)}"


def shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes 是" if value else "no 否"
    return str(value)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yuan"] = yuan
    env.filters["shown"] = shown
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)

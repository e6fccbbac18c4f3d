"""One set of Jinja2 templates for every HTML page of the ledger: the console's pages and the
offline files (`ledger audit deduction --html`, `ledger report compliance --format html`).

Autoescaping is on for every template. Offline pages inline their CSS and SVG (no scripts, no
network asset); the console's pages use the same stylesheet, inlined too, so that its
Content-Security-Policy can forbid every external load and every script. Values are formatted by
the filters of infra.pages.formatting (`yuan`, `when`, `term`, `shown`) and described by
infra.pages.describing, the same for every page.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from domain.clock import MONTH_PATTERN
from infra.pages import describing
from infra.pages.formatting import shown, term, when, yuan

TEMPLATES = Path(__file__).parent / "templates"


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
    env.filters["when"] = when
    env.filters["term"] = term
    env.globals.update(
        event_facts=describing.event_facts,
        refusal=describing.refusal,
        placement=describing.placement,
        month_pattern=MONTH_PATTERN,
    )
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)

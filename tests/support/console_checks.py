"""What the console's browser test checks on every page, at every width (tests/e2e/test_console_browser.py).

- Width: the document is no wider than the viewport (`scrollWidth == clientWidth`); a wide table
  scrolls inside its own box.
- Navigation: every item of the top navigation (links, who is signed in, "Sign out 退出") on one
  line: all their boxes share a horizontal band.
- Codes: no code of the vocabulary (infra.pages.vocabulary.all_codes) is shown raw. A code may
  stand only inside a code tag (`<code>`, `.tag`), a quoted recorded text (`.verbatim`: what a
  sender or the ledger wrote, in its own words) or a title (hover). Outside those, a compound
  code (with `_`, `.` or a capital: UPPER_SNAKE codes, CamelCase event types, dotted rule
  names, snake_case values) appears nowhere on the page, and a one-word code (`active`,
  `child`, `alipay`...) appears in no table cell, card value or chart label, except inside a
  label (`.term`, the vocabulary's own words): prose may use the English word, a value may not.
- Times: every `<time>` reads `YYYY-MM-DD HH:MM:SS +08:00`, with its UTC moment in `datetime`
  and on hover; any other date-time on the page is inside a quoted recorded text and carries an
  offset.
- Accessibility: axe-core reports no violation (installed by scripts/axe-core, run in the page).
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from tests.support.backends import unavailable

ROOT = Path(__file__).resolve().parents[2]
WIDTHS_PX = (1280, 1024)

OVERFLOW_JS = """() => {
  const e = document.documentElement;
  return {scroll: e.scrollWidth, client: e.clientWidth};
}"""

NAV_ON_ONE_LINE_JS = """() => {
  const items = [...document.querySelectorAll('nav.top > *')].map(e => e.getBoundingClientRect())
    .filter(r => r.width > 0);
  if (!items.length) return true;
  return Math.max(...items.map(r => r.top)) < Math.min(...items.map(r => r.bottom));
}"""

RAW_CODES_JS = """(codes) => {
  const hidden = 'code, .tag, .verbatim, title, style, script';
  const compound = new Set(codes.filter(c => /[_.A-Z]/.test(c)));
  const plain = new Set(codes.filter(c => !/[_.A-Z]/.test(c)));
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const element = walker.currentNode.parentElement;
    if (!element || element.closest(hidden)) continue;
    const value = !!element.closest('td, .card b, svg text') && !element.closest('.term');
    for (const raw of walker.currentNode.textContent.split(/[^A-Za-z0-9_.]+/)) {
      const word = raw.replace(/^[.]+|[.]+$/g, '');
      if (compound.has(word) || (value && plain.has(word))) {
        const where = element.tagName.toLowerCase();
        found.push(word + ' in <' + where + '> "' + element.textContent.trim().slice(0, 80) + '"');
      }
    }
  }
  return found;
}"""

TIMES_JS = """() => {
  const bad = [];
  const shown = /^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} \\+08:00$/;
  for (const t of document.querySelectorAll('time')) {
    const text = t.textContent.trim();
    if (!shown.test(text) || !/Z$/.test(t.getAttribute('datetime') || '') || !(t.title || '').startsWith('UTC '))
      bad.push('<time> ' + text + ' datetime=' + t.getAttribute('datetime') + ' title=' + t.title);
  }
  const moment = /\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})?/g;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const element = walker.currentNode.parentElement;
    if (!element || element.closest('time, style, script, title')) continue;
    for (const m of walker.currentNode.textContent.match(moment) || []) {
      if (!element.closest('.verbatim') || !/(Z|[+-]\\d{2}:\\d{2})$/.test(m)) bad.push('outside <time>: ' + m);
    }
  }
  return bad;
}"""


@lru_cache(maxsize=1)
def axe_source() -> str:
    """axe-core's script, installed with npm by scripts/axe-core on first use."""
    try:
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "axe-core")], capture_output=True, text=True, timeout=300, check=True
        )
    except (OSError, subprocess.SubprocessError) as error:
        unavailable(
            f"axe-core could not be installed with npm ({type(error).__name__})",
            "LEDGER_REQUIRE_CHROMIUM",
            "install npm (apt-get install -y npm), or set LEDGER_REQUIRE_CHROMIUM=1 to make this a failure",
        )
    return Path(done.stdout.strip().splitlines()[-1]).read_text()


def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the page as it stands (run through the DevTools protocol, which
    the console's Content-Security-Policy, forbidding every script, does not govern)."""
    page.evaluate(axe_source())
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})" for v in result["violations"]
    ]


def page_problems(page: Any, codes: list[str]) -> list[str]:
    """Everything the checks above find wrong with the page, at each of WIDTHS_PX."""
    problems: list[str] = []
    height = page.viewport_size["height"] if page.viewport_size else 900
    for width in WIDTHS_PX:
        page.set_viewport_size({"width": width, "height": height})
        sizes = page.evaluate(OVERFLOW_JS)
        if sizes["scroll"] != sizes["client"]:
            problems.append(f"{width} px: the document is {sizes['scroll']} px wide in a {sizes['client']} px viewport")
        if not page.evaluate(NAV_ON_ONE_LINE_JS):
            problems.append(f"{width} px: the navigation takes more than one line")
    page.set_viewport_size({"width": WIDTHS_PX[0], "height": height})
    problems += [f"raw code: {found}" for found in page.evaluate(RAW_CODES_JS, codes)]
    problems += [f"time: {found}" for found in page.evaluate(TIMES_JS)]
    problems += [f"axe: {found}" for found in axe_violations(page)]
    return problems

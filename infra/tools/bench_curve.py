"""`ledger bench --curve`: what the ledger's costs do as its log grows, measured in one run.

One store is filled with one generated workload (group commit in large batches, the existing
bulk way: the fill is itself a figure) up to each point of 10k, 100k and 1M stored events (only
the points up to `max_events`; below 10k, a tenth of it and itself). At each point:
- commands_per_s: a probe (new people, a fortieth of the first point's events in number, at most
  PROBE_PERSONS, PROBE_MONTHS months, its own seed so nobody is shared with the fill or another
  probe) applied with group commit; its first month (mostly enrolments) is applied untimed and
  the rest, every kind of command in the mix, is timed. Each point
  has its own probe of the same shape, so the points differ only in what the store holds;
- seal_s, then verify_s: `ledger seal` (extending the chain to the end of the log) and
  `ledger verify` (recomputing all of it, every event's MAC and every snapshot's), as the
  evidence service runs them;
- rebuild_s, rebuild_events_per_s, rebuild_peak_rss_mb: the rebuild of every view in a child
  process (bench.rebuild_in_child), and rebuild_ratio to raw_scan_rows_per_s, a plain sequential
  scan of as many rows shaped like the stored events (bench_raw), measured just before it.
Then the audit curve: one person each with 100, 10k and 100k events (up to `max_events` / 10),
loaded at sampled versions just before one of their deductions, from a fresh application.

Figures of different points are measured at different moments of a noisy machine: compare their
shape (flat, linear), not single values. On PostgreSQL `seal` needs LEDGER_SEAL_KEY; without one,
the run signs its scratch checkpoints with a random key of its own (`seal_key: "ephemeral"`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from itertools import islice
from typing import Any

from infra.core.bootstrap import open_ledger
from infra.core.ledger import Ledger
from infra.settings import Settings
from infra.tools.bench import audit_replay, rebuild_in_child
from infra.tools.bench_raw import raw_reference
from infra.tools.bench_stores import backend_name, timed_batches
from infra.tools.simulate import simulate
from infra.tools.svg_plot import Chart, Series, render

CURVE_POINTS = (10_000, 100_000, 1_000_000)
AUDIT_POINTS = (100, 10_000, 100_000)
CURVE_MAX_DEFAULT = 1_000_000
FILL_BATCH = 2_000
FILL_EVENTS_PER_PERSON = 45  # a year of the workload stores about 53 events per person: headroom
PROBE_PERSONS, PROBE_MONTHS, PROBE_SEED = 1_000, 3, 7_000
PROBE_PERSONS_MIN = 20


def curve_points(max_events: int) -> list[int]:
    points = [p for p in CURVE_POINTS if p <= max_events]
    return points if len(points) >= 2 else sorted({max(1, max_events // 10), max_events})


def audit_points(max_events: int) -> list[int]:
    return [p for p in AUDIT_POINTS if p <= max(AUDIT_POINTS[0], max_events // 10)]


def run_curve(settings: Settings, max_events: int = CURVE_MAX_DEFAULT, seed: int = 1, log: Any = None) -> dict:
    say = log or (lambda message: None)
    points = curve_points(max_events)
    probe_persons = max(PROBE_PERSONS_MIN, min(PROBE_PERSONS, points[0] // 40))
    rows = []
    with seal_key_for(settings) as seal_key:
        ledger = open_ledger(settings)
        fill = iter(simulate(max(100, points[-1] // FILL_EVENTS_PER_PERSON), 12, seed))
        fill_commands, fill_s = 0, 0.0
        for n, target in enumerate(points):
            commands, seconds = fill_to(ledger, fill, target)
            fill_commands, fill_s = fill_commands + commands, fill_s + seconds
            rate = f" ({commands / seconds:.0f} commands/s filling)" if seconds else ""
            say(f"curve: {ledger.commands.position():,} events stored{rate}")
            rows.append(measure_point(ledger, settings, probe_persons, PROBE_SEED + n, say))
        audit = [
            {"person_events": events, **audit_replay(ledger, settings, FILL_BATCH, events, serial=700 + n)}
            for n, events in enumerate(audit_points(max_events))
        ]
        ledger.close()
    say(f"curve: audit replay p99 {', '.join(str(a['audit_replay_ms_p99']) for a in audit)} ms")
    return {
        "backend": backend_name(settings),
        "curve_max": max_events,
        "seal_key": seal_key,
        "fill_commands_per_s": round(fill_commands / fill_s, 1) if fill_s else 0.0,
        "probe": {"persons": probe_persons, "months": PROBE_MONTHS, "timed": "after its first month"},
        "points": rows,
        "audit": audit,
    }


def fill_to(ledger: Ledger, fill: Iterator[str], target: int) -> tuple[int, float]:
    """Apply the fill workload in chunks until the store holds at least `target` events (or the
    workload ends); (commands applied, seconds)."""
    commands, seconds = 0, 0.0
    while (position := ledger.commands.position()) < target:
        chunk = list(islice(fill, min(50_000, max(100, (target - position) // 3))))
        if not chunk:
            break
        seconds += timed_batches(ledger, chunk, FILL_BATCH)
        commands += len(chunk)
    return commands, seconds


def measure_point(ledger: Ledger, settings: Settings, persons: int, seed: int, say: Any) -> dict[str, Any]:
    events = ledger.commands.position()
    probe = list(simulate(persons, PROBE_MONTHS, seed))
    start = first_month_end(probe)
    timed_batches(ledger, probe[:start], FILL_BATCH)
    probe_s = timed_batches(ledger, probe[start:], FILL_BATCH)
    started = time.perf_counter()
    ledger.evidence.seal()
    seal_s = time.perf_counter() - started
    started = time.perf_counter()
    verdict = ledger.evidence.verify()
    verify_s = time.perf_counter() - started
    stored = ledger.commands.position()
    raw = raw_reference(settings, ledger.app, stored)
    rebuild = rebuild_in_child(settings)
    rebuild_per_s = rebuild["rebuild_events_per_s"]
    rate = (len(probe) - start) / probe_s
    say(f"  probe {rate:.0f} commands/s; verify {verify_s:.1f} s; rebuild {rebuild_per_s:.0f} events/s")
    return {
        "events_before_probe": events,
        "events": stored,
        "probe_commands": len(probe) - start,
        "commands_per_s": round(rate, 1),
        "seal_s": round(seal_s, 3),
        "verify_s": round(verify_s, 3),
        "verify_ok": bool(verdict["ok"]),
        "raw_scan_rows_per_s": round(raw["raw_scan_rows_per_s"], 1),
        "rebuild_s": round(stored / rebuild_per_s, 3) if rebuild_per_s else float("nan"),
        "rebuild_events_per_s": round(rebuild_per_s, 1),
        "rebuild_ratio": round(rebuild_per_s / raw["raw_scan_rows_per_s"], 3),
        "rebuild_peak_rss_mb": round(rebuild["rebuild_peak_rss_mb"], 1),
    }


def first_month_end(lines: list[str]) -> int:
    """Index of the first command after the workload's first month (commands are in time order)."""
    if not lines:
        return 0
    month = json.loads(lines[0])["at"][:7]
    return next((n for n, text in enumerate(lines) if json.loads(text)["at"][:7] != month), len(lines))


@contextlib.contextmanager
def seal_key_for(settings: Settings) -> Iterator[str]:
    """LEDGER_SEAL_KEY as configured; else, on PostgreSQL (which refuses the development key),
    a random one for this run's scratch checkpoints only."""
    if os.environ.get("LEDGER_SEAL_KEY") or not settings.is_postgres:
        yield "configured" if os.environ.get("LEDGER_SEAL_KEY") else "development"
        return
    os.environ["LEDGER_SEAL_KEY"] = secrets.token_hex(32)
    try:
        yield "ephemeral"
    finally:
        del os.environ["LEDGER_SEAL_KEY"]


# --- the plot ------------------------------------------------------------------------------
def curve_svg(curve: dict[str, Any]) -> str:
    """The four curves as one SVG image (svg_plot)."""
    points = curve["points"]
    events = [p["events"] for p in points]
    first = points[0]
    linear = [(e, first["rebuild_s"] * e / first["events"]) for e in events]  # slope 1 through the first point
    charts = [
        Chart(
            "Write path (group commit)",
            "events stored",
            "commands/s",
            [Series("commands/s", list(zip(events, (p["commands_per_s"] for p in points), strict=True)))],
            log_x=True,
        ),
        Chart(
            "Audit replay of one person",
            "events of that person",
            "ms",
            [
                Series(f"p{q}", [(a["person_events"], a[f"audit_replay_ms_p{q}"]) for a in curve["audit"]])
                for q in (50, 99)
            ],
            log_x=True,
        ),
        Chart(
            "Rebuild, seal and verify",
            "events stored",
            "seconds",
            [
                Series("rebuild (all views)", [(p["events"], p["rebuild_s"]) for p in points]),
                Series("verify", [(p["events"], p["verify_s"]) for p in points]),
                Series("seal (new events)", [(p["events"], p["seal_s"]) for p in points]),
                Series("linear in the log", linear, dashed=True),
            ],
            log_x=True,
            log_y=True,
        ),
        Chart(
            "Rebuild worker's peak memory",
            "events stored",
            "MB (peak RSS)",
            [Series("peak RSS", [(p["events"], p["rebuild_peak_rss_mb"]) for p in points])],
            log_x=True,
        ),
    ]
    caption = f"ledger bench --curve --curve-max {curve['curve_max']:,} on {curve['backend']}"
    return render(charts, columns=2, caption=caption)

"""`ledger bench`: the write path, the physical reference, rebuilds and audit replay, in one run.

Figures (all measured within the run, on the given database):
- The write path is measured in steady state, on a populated store: the generated workload's
  last simulated month (the "measured slice", every kind of command in the workload's mix) is
  held back, everything before it is applied with group commit, and then
  commands_per_s: the measured slice applied with group commit (infra.writing) by the same
  process that loaded the history, so its prefetch cache is as warm as a long-running writer's;
  baseline_commands_per_s: the same slice, one transaction per command (the plain
  application), on a sibling store holding an identical copy of the history before the slice
  (a sibling schema on PostgreSQL, a sibling file or in-memory store otherwise); speedup is
  their ratio. commands_per_s_whole_workload: every command, from an empty store, with group
  commit (the history and the slice together).
- evidence_throughput_ratio (and commands_per_s_with/without_evidence): the workload (its first
  40,000 commands) on two more fresh stores, with and without the write path's evidence work
  (event and snapshot MACs), in interleaved rounds; the ratio is the median of the rounds'
  (infra.tools.bench_evidence).
- raw_insert_rows_per_s / raw_scan_rows_per_s: plain psycopg (sqlite3 for SQLite) COPY/insert
  and sequential scan of rows shaped like the stored events (same sizes), in a scratch table.
- rebuild_events_per_s, rebuild_ratio (= rebuild / raw scan), rebuild_peak_rss_mb: a full
  rebuild of the views (projections' ViewRunner.rebuild, all views, checksums included) in a
  child process, whose peak RSS is its own.
- audit_replay_ms_p50/p99: loading a person with 10,000 events at the version just before one
  of their deductions (what an auditor replays), from a fresh application (no cache).
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.clock import CST
from domain.ids import check_character, person_id, pseudonym
from infra.core.bootstrap import open_ledger
from infra.core.ledger import Ledger
from infra.eventstore.application import LedgerApp
from infra.readmodels.runner import REBUILD_PAGE_SIZE_DEFAULT, ViewRunner
from infra.settings import Settings
from infra.tools.bench_evidence import evidence_cost
from infra.tools.bench_raw import raw_reference
from infra.tools.bench_stores import backend_name, copy_history, sibling_store, timed_batches
from infra.tools.simulate import simulate

AUDIT_EVENTS = 10_000
AUDIT_SAMPLES = 200
FOLD_PAGE_SIZE = 2_000


@dataclass(frozen=True)
class Scale:
    persons: int
    months: int
    batch_size: int = 1000


SCALES = {
    "tiny": Scale(persons=60, months=2, batch_size=100),  # for the tests of the report's shape
    "small": Scale(persons=1500, months=3),
    "full": Scale(persons=20000, months=12),
}


def run_bench(settings: Settings, scale_name: str = "small", seed: int = 1, log: Any = None) -> dict[str, Any]:
    scale = SCALES[scale_name]
    say = log or (lambda message: None)
    lines = list(simulate(scale.persons, scale.months, seed))
    start = last_month_start(lines)
    history, measured = lines[:start], lines[start:]
    say(
        f"workload: {len(lines)} commands ({scale.persons} persons, {scale.months} months); "
        f"measured slice: the last month, {len(measured)} commands after {len(history)}"
    )
    ledger = open_ledger(settings)
    history_s = timed_batches(ledger, history, scale.batch_size)
    history_events = ledger.commands.position()
    say(f"history: {len(history) / history_s:.0f} commands/s, {history_events} events")
    with sibling_store(settings, "baseline") as baseline_settings:
        baseline = open_ledger(baseline_settings)
        copy_history(ledger, baseline, history, scale.batch_size)
        baseline_s = timed_one_by_one(baseline, measured)
    say(f"baseline (measured slice, one transaction per command): {len(measured) / baseline_s:.0f} commands/s")
    evidence = evidence_cost(settings, lines, scale.batch_size)
    say(f"evidence checks (A/B): throughput ratio {evidence['evidence_throughput_ratio']}")
    grouped_s = timed_batches(ledger, measured, scale.batch_size)
    say(f"group commit (measured slice): {len(measured) / grouped_s:.0f} commands/s")
    audit = audit_replay(ledger, settings, scale.batch_size)
    say(f"audit replay: p99 {audit['audit_replay_ms_p99']:.1f} ms")
    events = ledger.commands.position()
    raw = raw_reference(settings, ledger.app, events)
    say(f"raw: insert {raw['raw_insert_rows_per_s']:.0f} rows/s, scan {raw['raw_scan_rows_per_s']:.0f} rows/s")
    ledger.close()
    rebuild = rebuild_in_child(settings)
    say(f"rebuild ({rebuild['rebuild_source']}): {rebuild['rebuild_events_per_s']:.0f} events/s")
    return {
        "scale": scale_name,
        "backend": backend_name(settings),
        "workload_commands": len(lines),
        "baseline_commands": len(measured),
        "measured_from_command": start + 1,
        "events_before_measured_slice": history_events,
        "batch_size": scale.batch_size,
        "commands_per_s": round(len(measured) / grouped_s, 1),
        "baseline_commands_per_s": round(len(measured) / baseline_s, 1),
        "speedup": round(baseline_s / grouped_s, 2),
        "commands_per_s_whole_workload": round(len(lines) / (history_s + grouped_s), 1),
        **evidence,
        **{key: round(value, 1) for key, value in raw.items()},
        "rebuild_events_per_s": round(rebuild["rebuild_events_per_s"], 1),
        "rebuild_ratio": round(rebuild["rebuild_events_per_s"] / raw["raw_scan_rows_per_s"], 3),
        "rebuild_peak_rss_mb": round(rebuild["rebuild_peak_rss_mb"], 1),
        "rebuild_source": rebuild["rebuild_source"],
        **audit,
        "events": events,
    }


# --- the write path ------------------------------------------------------------------------
def timed_one_by_one(ledger: Ledger, lines: list[str]) -> float:
    start = time.perf_counter()
    for text in lines:
        ledger.commands.apply_line(text)
    elapsed = time.perf_counter() - start
    ledger.close()
    return elapsed


def last_month_start(lines: list[str]) -> int:
    """Index of the first command of the workload's last month (commands are in time order)."""
    if not lines:
        return 0
    month = json.loads(lines[-1])["at"][:7]
    start = len(lines)
    while start > 0 and json.loads(lines[start - 1])["at"][:7] == month:
        start -= 1
    return start


# --- audit replay --------------------------------------------------------------------------
def audit_lines(number: str, events: int, settlements: str = "AUDIT") -> Iterator[str]:
    """An employee with `events` events: enrolment, then credits and deductions alternating
    (settlement ids `settlements`-NNNNNN: one prefix per person, as settlement ids are global)."""
    at = datetime(2025, 1, 1, 8, 0, tzinfo=CST)
    yield json.dumps({"type": "enroll", "person": number, "insurance": "employee", "at": at.isoformat()})
    for n in range(1, events):
        at += timedelta(minutes=7)
        if n % 2:
            yield json.dumps(
                {"type": "credit", "person": number, "amount": "20.00", "source": "adjustment", "at": at.isoformat()}
            )
        else:
            yield json.dumps(
                {
                    "type": "deduct",
                    "settlement_id": f"{settlements}-{n:06d}",
                    "patient": number,
                    "amount": "12.50",
                    "category": "pharmacy",
                    "institution": "PH-AUDIT",
                    "at": at.isoformat(),
                }
            )


def audit_replay(
    ledger: Ledger, settings: Settings, batch_size: int, events: int = AUDIT_EVENTS, serial: int = 777
) -> dict[str, float]:
    """Give one new person (`serial` picks their ID number) `events` events, then time loads of
    them at sampled versions just before one of their deductions."""
    first17 = f"42010619700101{serial:03d}"
    number = first17 + check_character(first17)
    prefix = "AUDIT" if serial == 777 else f"AUDIT{serial}"
    for _ in ledger.commands.stream(audit_lines(number, events, prefix), batch_size=batch_size):
        pass
    pid = person_id(pseudonym(number, settings.pseudonym_key))
    reader = LedgerApp(settings)  # no cache: every load is a replay from the store
    deduction_versions = list(range(3, events + 1, 2))
    sample = random.Random(7).sample(deduction_versions, min(AUDIT_SAMPLES, len(deduction_versions)))
    timings = []
    for version in sample:
        start = time.perf_counter()
        person: Any = reader.repository.get(pid, version=version - 1)  # the state just before it
        timings.append((time.perf_counter() - start) * 1000)
        if person.version != version - 1:
            raise RuntimeError("audit replay loaded the wrong version")
    reader.close()
    timings.sort()
    return {
        "audit_replay_ms_p50": round(statistics.median(timings), 2),
        "audit_replay_ms_p99": round(timings[max(0, int(len(timings) * 0.99) - 1)], 2),
    }


# --- rebuild -------------------------------------------------------------------------------
def streaming_fold(app: LedgerApp, page_size: int = FOLD_PAGE_SIZE) -> dict[str, Any]:
    """Read the whole log in bounded pages, decode every event and fold it into small
    aggregates (events by type and month, money moved). Memory holds one page."""
    by_type: dict[str, int] = {}
    by_month: dict[str, int] = {}
    credited_fen = debited_fen = 0
    events = 0
    for notification in app.recorder.iter_log(page_size=page_size):
        event: Any = app.mapper.to_domain_event(notification)
        name = type(event).__name__
        by_type[name] = by_type.get(name, 0) + 1
        month = event.timestamp.astimezone(CST).strftime("%Y-%m")
        by_month[month] = by_month.get(month, 0) + 1
        credited_fen += getattr(event, "amount_fen", 0) if name == "AccountCredited" else 0
        debited_fen += getattr(event, "amount_fen", 0) if name in ("AidDebited", "DeductionSettled") else 0
        events += 1
    return {
        "events": events,
        "by_type": by_type,
        "by_month": by_month,
        "credited_fen": credited_fen,
        "debited_fen": debited_fen,
    }


def peak_rss_kb() -> int:
    """This process's own peak resident set. On Linux that is VmHWM of /proc/self/status: the
    high-water mark of this process image. `ru_maxrss` is not: Linux carries it across exec, so a
    child started from a large parent reports at least the parent's size at the fork (a bench
    that holds a 400,000-command workload made a 100 MB rebuild look like 300 MB)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for text in status:
                if text.startswith("VmHWM:"):
                    return int(text.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rebuild_worker(settings: Settings) -> dict[str, Any]:
    """Runs in the child process: the projections' rebuild of every view."""
    app = LedgerApp(settings)
    events = app.recorder.max_notification_id() or 0
    source = f"projections: ViewRunner.rebuild (all views), pages of {REBUILD_PAGE_SIZE_DEFAULT:,} events"
    start = time.perf_counter()
    ViewRunner(app).rebuild()  # the default rebuild page size, as `ledger rebuild` uses it
    elapsed = time.perf_counter() - start
    app.close()
    return {
        "rebuild_events_per_s": events / elapsed if elapsed else 0.0,
        "rebuild_peak_rss_mb": peak_rss_kb() / 1024,
        "rebuild_source": source,
        "rebuild_events": events,
    }


def rebuild_in_child(settings: Settings) -> dict[str, Any]:
    if settings.backend == "memory":
        return {
            "rebuild_events_per_s": float("nan"),
            "rebuild_peak_rss_mb": float("nan"),
            "rebuild_source": "not measured on the in-memory store (needs a shared database)",
        }
    env = dict(os.environ, LEDGER_BENCH_DB=settings.db, LEDGER_BENCH_KEY=settings.pseudonym_key.decode())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    completed = subprocess.run(
        [sys.executable, "-m", "infra.tools.bench"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        cwd=root,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"rebuild worker failed: {completed.stderr.strip()[-500:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def human_table(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key, f"{value:,}" if isinstance(value, (int, float)) else str(value)) for key, value in result.items()]


if __name__ == "__main__":  # the rebuild worker (see rebuild_in_child)
    worker_settings = Settings(
        db=os.environ["LEDGER_BENCH_DB"],
        pseudonym_key=os.environ["LEDGER_BENCH_KEY"].encode(),
        using_development_key=False,
    )
    print(json.dumps(rebuild_worker(worker_settings)))

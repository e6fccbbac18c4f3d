"""`ledger --federation F bench`: what one ledger per province buys, measured in one run.

- aggregate commands/s: the same workload per ledger (families of one province each: enrolments,
  credits, an authorization, deductions), applied to one ledger alone, then to two and three
  ledgers at once, one writer process per ledger (each ledger commits alone: no shared lock);
- the relay: cross-province families whose quotas and draws make steps; steps/s of a relay
  round over a backlog, and the lag (recorded on one ledger -> committed on the other) p50/p99
  while a relay follows a stream of deductions.
Figures are printed, never asserted; the ratios compare runs of the same machine and moment.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import statistics
import threading
import time
from typing import Any

from domain.errors import StorageError
from domain.ids import numbered_id
from infra.core.bootstrap import open_ledger
from infra.federation.ledgers import FederatedLedgers
from infra.federation.relay import Relay
from infra.federation.routing import route_stream
from infra.provinces.federation_file import Federation
from infra.settings import load_settings

REGION_OF = {"11": "110105", "42": "420102", "44": "440103", "31": "310101", "32": "320102"}
EARLY, WHEN = "2025-06-01T09:00:00+08:00", "2026-02-02T09:00:00+08:00"
BATCH_SIZE = 500
DEDUCTIONS = 4


def _region(province: str) -> str:
    return REGION_OF.get(province, f"{province}0101")


def _line(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def family_lines(donor_province: str, beneficiary_province: str, index: int, tag: str) -> list[str]:
    """One family: an employee authorizer and a resident beneficiary, and their deductions."""
    donor = numbered_id(_region(donor_province), 2 * index)
    beneficiary = numbered_id(_region(beneficiary_province), 2 * index + 1)
    quota = {"quota": "300.00"} if donor_province != beneficiary_province else {}
    lines = [
        _line("enroll", person=donor, insurance="employee", at=EARLY),
        _line("credit", person=donor, amount="1000.00", source="adjustment", at=EARLY),
        _line("enroll", person=beneficiary, insurance="resident", at=EARLY),
        _line("authorize", authorizer=donor, beneficiary=beneficiary, relationship="child", at=WHEN,
              command_id=f"{tag}-a-{index}", **quota),
    ]  # fmt: skip
    return lines + deduction_lines(beneficiary, index, tag)


def deduction_lines(beneficiary: str, index: int, tag: str) -> list[str]:
    return [
        _line("deduct", settlement_id=f"{tag}-{index}-{k}", patient=beneficiary, amount=f"{10 + k}.00",
              category="pharmacy", institution="H-1", at=f"2026-03-{k + 1:02d}T09:00:00+08:00",
              command_id=f"{tag}-d-{index}-{k}")
        for k in range(DEDUCTIONS)
    ]  # fmt: skip


def _writer(federation: Federation, rules_dir: str | None, province: str, lines: list[str], start: Any,
            out: Any) -> None:  # fmt: skip
    """A writer process of one provincial ledger (opened alone: every line is its province's),
    which waits for the others, then reports (refused lines, began, ended)."""
    ledger = open_ledger(dataclasses.replace(load_settings(federation.ledgers[province], rules_dir), province=province))
    try:
        start.wait()
        began = time.time()
        refused = sum(not answer["ok"] for answer in ledger.commands.stream(lines, batch_size=BATCH_SIZE, wait_ms=0))
        out.put((refused, began, time.time()))
    except Exception as error:  # noqa: BLE001 - reported to the parent, which stops the bench with it
        start.abort()
        out.put((str(error), 0.0, 0.0))
    finally:
        ledger.close()


def _parallel(federation: Federation, rules_dir: str | None, workloads: dict[str, list[str]]) -> float:
    """Commands/s of the workloads applied at once, one process per ledger, from the first write
    to the last (process start-up and opening the stores are not counted)."""
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(len(workloads)), context.Queue()
    writers = [context.Process(target=_writer, args=(federation, rules_dir, p, w, start, out))
               for p, w in workloads.items()]  # fmt: skip
    for writer in writers:
        writer.start()
    reports = [out.get(timeout=3_600) for _ in writers]
    for writer in writers:
        writer.join()
    failed = [r for r, _, _ in reports if isinstance(r, str)]
    if failed:
        raise StorageError(f"bench: a writer failed: {failed[0]}")
    if any(refused for refused, _, _ in reports):
        raise StorageError(f"bench: {sum(r for r, _, _ in reports)} line(s) refused")
    elapsed = max(end for _, _, end in reports) - min(began for _, began, _ in reports)
    return sum(len(w) for w in workloads.values()) / elapsed


def throughput(federation: Federation, rules_dir: str | None, families: int) -> dict[str, Any]:
    provinces = federation.provinces
    result: dict[str, Any] = {"families_per_ledger": families, "lines_per_ledger": families * (4 + DEDUCTIONS)}
    offset = 0
    for count in range(1, min(3, len(provinces)) + 1):
        workloads = {p: [line for n in range(families) for line in family_lines(p, p, offset + n, f"t{count}")]
                     for p in provinces[:count]}  # fmt: skip
        offset += families
        result[f"commands_per_s_{count}_ledgers"] = round(_parallel(federation, rules_dir, workloads), 1)
    one = result["commands_per_s_1_ledgers"]
    for count in (2, 3):
        if f"commands_per_s_{count}_ledgers" in result:
            result[f"ratio_{count}_to_1"] = round(result[f"commands_per_s_{count}_ledgers"] / one, 2)
    return result


def relay_figures(federation: Federation, rules_dir: str | None, families: int) -> dict[str, Any]:
    """Steps/s over a backlog, then the lag of steps while a relay follows the writes."""
    beneficiaries, donors = federation.provinces[0], federation.provinces[1]
    ledgers = FederatedLedgers(federation, rules_dir)
    try:
        base = 10 * families  # fresh people, after the throughput's
        ties = [line for n in range(families) for line in family_lines(donors, beneficiaries, base + n, "r")[:4]]
        list(route_stream(ledgers, ties, batch_size=BATCH_SIZE, wait_ms=0))
        relay = Relay(ledgers)
        relay.run_once()  # the quotas reach the beneficiaries' ledger before anything draws on them
        draws = [line for n in range(families) for line in family_lines(donors, beneficiaries, base + n, "r")[4:]]
        list(route_stream(ledgers, draws[: len(draws) // 2], batch_size=BATCH_SIZE, wait_ms=0))
        started = time.perf_counter()
        backlog = relay.run_once()
        steps_per_s = backlog.delivered / (time.perf_counter() - started)
        lags: list[float] = []
        stop = threading.Event()
        follower = threading.Thread(target=relay.follow, args=(0.05, stop, lambda done: lags.extend(done.lag_ms)))
        follower.start()
        list(route_stream(ledgers, draws[len(draws) // 2 :], batch_size=50, wait_ms=0))
        while relay.pending():
            time.sleep(0.05)
        stop.set()
        follower.join()
    finally:
        ledgers.close()
    quantiles = statistics.quantiles(lags, n=100) if len(lags) >= 2 else [0.0] * 99
    return {"relay_backlog_steps": backlog.delivered, "relay_steps_per_s": round(steps_per_s, 1),
            "relay_followed_steps": len(lags), "relay_lag_p50_ms": round(quantiles[49], 1),
            "relay_lag_p99_ms": round(quantiles[98], 1)}  # fmt: skip


def run_bench(federation: Federation, rules_dir: str | None = None, families: int = 500) -> dict[str, Any]:
    if len(federation.provinces) < 2:
        raise StorageError("bench --federation needs at least two ledgers")
    return (
        {"ledgers": list(federation.provinces)}
        | throughput(federation, rules_dir, families)
        | relay_figures(federation, rules_dir, families)
    )

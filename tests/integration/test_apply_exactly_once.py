"""Money moves once under retries and failures of the process that applies it.

- kill -9: `ledger apply` of a simulated file (every command with an id) is killed several
  times part-way; after each kill the whole file is applied again. The final state and the view
  checksums equal those of one clean run: what was stored is answered from its command record,
  and a refusal that stored nothing, re-sent after later commands were stored, is refused
  OUT_OF_ORDER instead of being decided on a state it never saw.
- contention: six `ledger apply` processes with group commit apply interleaved parts of one
  simulated workload to one PostgreSQL schema (the same families in every part). Every line is
  answered, none with CONCURRENCY_CONFLICT, and the money adds up: the sum of all balances equals
  the credits minus what deductions took plus what reversals refunded, as the answers report it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.eventstore.application import LedgerApp
from infra.tools.simulate import simulate
from tests.support import DEV_KEY
from tests.support.backends import settings_for

REPO = Path(__file__).resolve().parents[2]
LEDGER = [sys.executable, "-m", "infra.cli.main"]


def ledger_env(db: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "LEDGER_DB": db, "LEDGER_PSEUDONYM_KEY": DEV_KEY.decode()}


def apply(db: str, path: Path, batch_size: int) -> list[dict]:
    done = subprocess.run(
        [*LEDGER, "apply", "--batch-size", str(batch_size), str(path)],
        env=ledger_env(db),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return [json.loads(text) for text in done.stdout.splitlines()]


def apply_killed(db: str, path: Path, batch_size: int, answers_before_kill: int) -> int:
    """Start `ledger apply`, kill -9 it once it has answered this many lines; how many it answered."""
    process = subprocess.Popen(
        [*LEDGER, "apply", "--batch-size", str(batch_size), str(path)],
        env=ledger_env(db),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    answered = 0
    assert process.stdout is not None
    for _ in process.stdout:
        answered += 1
        if answered >= answers_before_kill:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    return answered


def final_state(db: str, numbers: list[str]) -> tuple[dict, dict]:
    app = LedgerApp(settings_for(db))
    try:
        people = {}
        for number in numbers:
            try:
                person = app.get_person(number)
            except Exception:  # noqa: BLE001 - never enrolled in this workload
                continue
            people[number] = {k: v for k, v in vars(person).items() if k != "_pending_events"}
    finally:
        app.close()
    done = subprocess.run(
        [*LEDGER, "checksum", "--json"], env=ledger_env(db), capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    return people, json.loads(done.stdout)


def people_of(lines: list[str]) -> list[str]:
    fields = ("person", "binder", "member", "authorizer", "beneficiary", "patient")
    return sorted({value for text in lines for name, value in json.loads(text).items() if name in fields})


def killed_and_rerun(db: str, path: Path, lines: list[str]) -> tuple[list[int], list[dict]]:
    kills = [len(lines) * share // 10 for share in (1, 4, 8)]
    for answers_before_kill in kills:  # each run starts from the top of the file again
        answered = apply_killed(db, path, 50, answers_before_kill)
        assert answered >= answers_before_kill
    rerun = apply(db, path, batch_size=50)
    assert len(rerun) == len(lines) and all(a["line"] == n for n, a in enumerate(rerun, start=1))
    return kills, rerun


@pytest.mark.slow
def test_apply_killed_again_and_again_moves_each_command_s_money_once(durable_url, tmp_path):
    """What a killed run stored is answered from its record on the re-run, never decided
    again; so the balances add up to exactly what the re-run's answers (originals included)
    say moved, and no command id is stored twice."""
    lines = list(simulate(120, 2, seed=17))
    path = tmp_path / "workload.jsonl"
    path.write_text("\n".join(lines) + "\n")
    _, rerun = killed_and_rerun(durable_url, path, lines)
    assert any(a.get("duplicate") and a.get("command_id") for a in rerun)
    records = stored_records(durable_url)
    stored = {record.command_id: record.result for record in records}
    assert len(stored) == len(records)  # no command id stored twice
    assert len(stored) == sum(1 for a in rerun if a["ok"] or a["error"].get("recorded"))
    for answer in rerun:
        if answer["command_id"] in stored:
            assert {**answer, "duplicate": None} == {
                **stored[answer["command_id"]],
                "line": answer["line"],
                "duplicate": None,
            }
    people, _ = final_state(durable_url, people_of(lines))
    assert sum(state["balance_fen"] for state in people.values()) == money_moved(list(stored.values()))


def stored_records(db: str) -> list:
    """Every command record in the store (each holds the answer its command was given)."""
    app = LedgerApp(settings_for(db))
    try:
        records = [
            app.mapper.to_domain_event(n) for n in app.recorder.iter_log() if n.topic.endswith(":CommandRecorded")
        ]
    finally:
        app.close()
    return records


@pytest.mark.slow
def test_apply_killed_again_and_again_then_rerun_equals_one_clean_run(durable_url, tmp_path):
    lines = list(simulate(120, 2, seed=17))
    path = tmp_path / "workload.jsonl"
    path.write_text("\n".join(lines) + "\n")
    clean_db = str(tmp_path / "clean.db")
    clean = apply(clean_db, path, batch_size=50)
    kills, rerun = killed_and_rerun(durable_url, path, lines)
    stored = [a["ok"] or a["error"].get("recorded", False) for a in clean]
    replayed = [bool(a.get("duplicate")) and "command_id" in a for a in rerun]
    assert sum(replayed[: kills[-1]]) >= sum(stored[: kills[-1]])  # what the killed runs stored was not decided again
    numbers = people_of(lines)
    assert final_state(durable_url, numbers) == final_state(clean_db, numbers)


def money_moved(answers: list[dict]) -> int:
    """Credits minus what deductions took from accounts plus what reversals refunded (fen), as
    the answers report it (a duplicate moved nothing)."""
    total = 0
    for a in answers:
        if not a["ok"] or a.get("duplicate"):
            continue
        if a["command"] == "credit":
            total += a["amount_fen"]
        elif a["command"] == "deduct":
            total -= sum(line["amount_fen"] for line in a["lines"])
        elif a["command"] == "reverse":
            total += a["refunded_fen"]
    return total


@pytest.mark.postgres
@pytest.mark.slow
def test_six_group_commit_writers_on_shared_families_answer_every_line_without_giving_up(pg_url, tmp_path):
    lines = list(simulate(150, 2, seed=23))
    writers = 6
    paths = []
    for k in range(writers):
        path = tmp_path / f"part-{k}.jsonl"
        path.write_text("\n".join(lines[k::writers]) + "\n")
        paths.append(path)
    LedgerApp(settings_for(pg_url)).close()  # create the schema's tables once, before the race
    processes = [
        subprocess.Popen(
            [*LEDGER, "apply", "--batch-size", "50", str(p)],
            env=ledger_env(pg_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for p in paths
    ]
    deadline = time.monotonic() + 600
    outputs = [p.communicate(timeout=max(1.0, deadline - time.monotonic())) for p in processes]
    answers: list[dict] = []
    for k, (process, (out, err)) in enumerate(zip(processes, outputs, strict=True)):
        assert process.returncode == 0, err
        assert "Traceback" not in err
        got = [json.loads(text) for text in out.splitlines()]
        assert [a["line"] for a in got] == list(range(1, len(lines[k::writers]) + 1))
        answers += got
    codes = [a["error"]["code"] for a in answers if not a["ok"]]
    assert "CONCURRENCY_CONFLICT" not in codes and "STORAGE_ERROR" not in codes
    people, _ = final_state(pg_url, people_of(lines))
    assert all(state["balance_fen"] >= 0 for state in people.values())
    assert sum(state["balance_fen"] for state in people.values()) == money_moved(answers)

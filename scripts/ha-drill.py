"""The failover drill behind scripts/ha-drill: lose the primary under load, lose no answer.

1. scripts/ha-up: a pg_auto_failover formation (monitor, two synchronous nodes); a fresh schema.
2. `ledger simulate --out` writes a workload whose every command carries a command_id; it is dealt
   round-robin to WRITERS parts, each applied by its own `ledger apply` (group commit).
3. When a share of the workload is acknowledged, the primary's node (its pg_autoctl supervisor and
   its postgres) is killed with SIGKILL: the server is lost. pg_auto_failover promotes the standby.
4. A writer that fails (exit 2, STORAGE_ERROR) is simply run again on its whole part: every
   command has an id, so a command already stored answers with its original answer.
5. Checks: every acknowledged command id has exactly one CommandRecorded event (aggregate id uuid5 of the
   command line's tenant and the id) in the store of the new primary; `ledger seal` + `ledger verify` intact; the views
   caught up (`project`) equal the views rebuilt from the log (`rebuild`); failover_s is from the
   kill to the first acknowledged command from a writer started after it. The old primary then
   rejoins as a standby, and `verify` is read from it through --read-db.

Prints a summary (or JSON with --json) and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain.command_record import command_aggregate_id  # noqa: E402
from infra.roles import LOCAL_TENANT  # noqa: E402

HA_DIR = Path(os.environ.get("LEDGER_HA_DIR", "/tmp/ledger-ha"))
PORT = int(os.environ.get("LEDGER_HA_PORT", "5440"))
WRITERS = 3
ATTEMPT_TIMEOUT_S = 180
WRITE_DEADLINE_S = 420


def log(message: str) -> None:
    print(f"ha-drill: {message}", file=sys.stderr, flush=True)


def ledger(*args: str, db: str, check: bool = True, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "infra.cli.main", "--db", db, *args], cwd=ROOT, text=True,
                            capture_output=True, timeout=timeout, env=ENV, **kw)
    if check and result.returncode != 0:
        raise SystemExit(f"ha-drill: `ledger {' '.join(args)}` exited {result.returncode}: {result.stderr.strip()}")
    return result


def monitor_sql(sql: str) -> str:
    return subprocess.run(["psql", "-qAtX", "-h", "127.0.0.1", "-p", str(PORT), "-U", "autoctl_node",
                           "pg_auto_failover", "-c", sql], text=True, capture_output=True, timeout=10).stdout.strip()


def node_sql(port: int, sql: str, db: str = "ledger") -> str:
    return subprocess.run(["psql", "-qAtX", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", db, "-c", sql],
                          text=True, capture_output=True, timeout=10, check=True).stdout.strip()


def primary_node() -> tuple[str, int]:
    # a dead primary keeps its last reported state: the one that has reached its goal leads
    name, port = monitor_sql("select nodename, nodeport from pgautofailover.node where reportedstate "
                             "in ('primary', 'wait_primary') and goalstate = reportedstate").split("|")
    return name, int(port)


class Writer:
    """One part of the workload, applied by `ledger apply` until it completes; every answer timed."""

    def __init__(self, index: int, part: Path, db: str, batch_size: int):
        self.index, self.part, self.db, self.batch_size = index, part, db, batch_size
        self.answers: list[tuple[float, int, dict]] = []  # (arrival, attempt, answer)
        self.attempt_starts: list[float] = []
        self.exit_codes: list[int] = []
        self.errors: list[str] = []
        self.done = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        deadline = time.monotonic() + WRITE_DEADLINE_S
        while time.monotonic() < deadline:
            attempt = len(self.attempt_starts)
            self.attempt_starts.append(time.monotonic())
            process = subprocess.Popen(
                [sys.executable, "-m", "infra.cli.main", "--db", self.db, "apply", str(self.part),
                 "--batch-size", str(self.batch_size)],
                cwd=ROOT, env=ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            timer = threading.Timer(ATTEMPT_TIMEOUT_S, process.kill)
            timer.start()
            for line in process.stdout:
                if line.startswith("{"):
                    self.answers.append((time.monotonic(), attempt, json.loads(line)))
            stderr = process.stderr.read()
            code = process.wait()
            timer.cancel()
            self.exit_codes.append(code)
            if code == 0:
                self.done = True
                return
            self.errors.append(stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {code}")
            time.sleep(0.5)  # the primary is gone: try again (the new primary accepts once promoted)


def processes_of(pgdata: Path) -> list[int]:
    """The pids of the node's pg_autoctl supervisor and workers, its postgres and its backends."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            table[int(entry.name)] = (ppid, [a.decode(errors="replace") for a in args])
    roots = {pid for pid, (_, args) in table.items()
             if (args[:2] == ["pg_autoctl", "run"] or args[0].endswith("/postgres"))
             and str(pgdata) in args}
    found, grew = set(roots), True
    while grew:  # and their descendants
        more = {pid for pid, (ppid, _) in table.items() if ppid in found} - found
        found |= more
        grew = bool(more)
    return sorted(found)


def kill_server(pgdata: Path) -> None:
    """SIGKILL to everything of one node at once, as if its machine had died."""
    for pid in processes_of(pgdata):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def count_records(port: int, schema: str, command_ids: list[str]) -> dict[str, int]:
    """command id -> how many events its command record has, in the store on `port`."""
    import psycopg
    from psycopg.sql import SQL, Identifier

    # `ledger apply` sends as the operator's command line: its ids are recorded under that tenant
    by_aggregate = {command_aggregate_id(cid, LOCAL_TENANT): cid for cid in command_ids}
    counts = dict.fromkeys(command_ids, 0)
    with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=ledger", connect_timeout=5) as conn:
        rows = conn.execute(SQL("SELECT originator_id, count(*) FROM {}.familyledger_events "
                                "WHERE originator_id = ANY(%s) GROUP BY 1").format(Identifier(schema)),
                            (list(by_aggregate),)).fetchall()
    for aggregate, n in rows:
        counts[by_aggregate[aggregate]] = n
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")
    parser.add_argument("--persons", type=int, default=int(os.environ.get("LEDGER_HA_DRILL_PERSONS", "1500")))
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--kill-at", type=float, default=0.3, help="Share of answers acknowledged at the kill.")
    parser.add_argument("--keep", action="store_true", help="Leave the formation up afterwards.")
    args = parser.parse_args()
    started = time.monotonic()

    try:
        url = subprocess.run([str(ROOT / "scripts/ha-up")], text=True, stdout=subprocess.PIPE,
                             check=True).stdout.strip()
        return drill(args, url, started)
    finally:
        if not args.keep:
            subprocess.run([str(ROOT / "scripts/ha-down")], check=False)


def drill(args: argparse.Namespace, base_url: str, started: float) -> int:
    work = HA_DIR / "drill"
    work.mkdir(parents=True, exist_ok=True)
    _, first_port = primary_node()
    if node_sql(first_port, "select 1 from pg_database where datname = 'ledger'", db="postgres") != "1":
        node_sql(first_port, "create database ledger", db="postgres")
    schema = f"drill_{uuid.uuid4().hex[:8]}"
    db = f"{base_url}&schema={schema}"
    workload = work / "workload.jsonl"
    ledger("simulate", "--persons", str(args.persons), "--months", str(args.months), "--out", str(workload), db=db)
    lines = workload.read_text(encoding="utf-8").splitlines()
    command_ids = [json.loads(line)["command_id"] for line in lines]
    ledger("seal", "--json", db=db)  # creates the schema and tables before the writers race to

    parts = []
    for k in range(WRITERS):
        part = work / f"part-{k}.jsonl"
        part.write_text("".join(line + "\n" for line in lines[k::WRITERS]), encoding="utf-8")
        parts.append(part)
    writers = [Writer(k, part, db, args.batch_size) for k, part in enumerate(parts)]
    log(f"{len(lines)} commands, {WRITERS} writers, schema {schema}; primary on port {first_port}")
    write_start = time.monotonic()
    for writer in writers:
        writer.thread.start()

    # Wait for a share of the workload to be acknowledged, then lose the primary's server.
    while sum(len(w.answers) for w in writers) < args.kill_at * len(lines):
        if all(w.done for w in writers):
            raise SystemExit("ha-drill: the workload finished before the kill: raise --persons")
        time.sleep(0.05)
    before = sum(len(w.answers) for w in writers)
    pre_kill_rate = before / (time.monotonic() - write_start)
    old_name, old_port = primary_node()
    killed_at = time.monotonic()
    kill_server(HA_DIR / old_name)
    log(f"SIGKILL to {old_name} (port {old_port}) after {before} answers ({pre_kill_rate:.0f} commands/s)")

    promoted_s = None
    while promoted_s is None and time.monotonic() - killed_at < 120:
        row = monitor_sql("select nodeport from pgautofailover.node where reportedstate in "
                          "('wait_primary', 'primary') and goalstate in ('wait_primary', 'primary')")
        if row and int(row) != old_port:
            promoted_s = time.monotonic() - killed_at
        time.sleep(0.2)
    log(f"standby promoted after {promoted_s:.1f} s" if promoted_s else "no promotion within 120 s")

    for writer in writers:
        writer.thread.join(WRITE_DEADLINE_S)
    write_s = time.monotonic() - write_start
    new_name, new_port = primary_node()

    # Acknowledged: an accepted answer, or a retry's answer to a recorded refusal.
    acknowledged: set[str] = set()
    refused: set[str] = set()
    answered_twice_anew: set[str] = set()
    seen_new: set[str] = set()
    after_kill = []
    for writer in writers:
        for arrival, attempt, answer in writer.answers:
            cid = answer.get("command_id")
            if answer.get("ok") or _is_retry_answer(answer):  # a retry's answer: the record exists
                acknowledged.add(cid)
                if writer.attempt_starts[attempt] > killed_at:
                    after_kill.append(arrival)
            else:
                refused.add(cid)
            if answer.get("ok") and not _is_retry_answer(answer):
                if cid in seen_new:
                    answered_twice_anew.add(cid)  # decided anew a second time: would be a duplicate
                seen_new.add(cid)
    refused -= acknowledged
    counts = count_records(new_port, schema, command_ids)
    stored_once = sum(1 for cid in acknowledged if counts[cid] == 1)
    lost = sum(1 for cid in acknowledged if counts[cid] == 0)
    duplicated = sum(1 for cid in command_ids if counts[cid] > 1) + len(answered_twice_anew)
    failover_s = round(min(after_kill) - killed_at, 2) if after_kill else None

    # The old primary rejoins as a standby (ha-up restarts its keeper; pg_rewind if needed).
    rejoin_start = time.monotonic()
    rejoined = subprocess.run([str(ROOT / "scripts/ha-up")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True).returncode == 0
    rejoin_s = round(time.monotonic() - rejoin_start, 1)

    seal = ledger("seal", "--json", db=db, check=False)
    verify = ledger("verify", "--json", db=db, check=False)
    verify_ok = seal.returncode == 0 and verify.returncode == 0 and json.loads(verify.stdout)["ok"]
    replica_url = f"postgresql://postgres@127.0.0.1:{old_port}/ledger?target_session_attrs=standby&schema={schema}"
    replica = ledger("--read-db", replica_url, "verify", "--json", db=db, check=False) if rejoined else None
    replica_verify = json.loads(replica.stdout) if replica is not None and replica.stdout.startswith("{") else {}
    ledger("project", db=db)
    caught_up = json.loads(ledger("checksum", "--json", db=db).stdout)
    ledger("rebuild", db=db)
    rebuilt = json.loads(ledger("checksum", "--json", db=db).stdout)

    result = {
        "acknowledged": len(acknowledged),
        "stored_once": stored_once,
        "lost": lost,
        "duplicated": duplicated,
        "failover_s": failover_s,
        "verify_ok": bool(verify_ok),
        "checksums_equal": caught_up == rebuilt,
        "commands": len(lines),
        "refused": len(refused),
        "unanswered": len(lines) - len(acknowledged) - len(refused),
        "writers": WRITERS,
        "writer_runs": sum(len(w.attempt_starts) for w in writers),
        "writers_completed": all(w.done for w in writers),
        "promoted_s": round(promoted_s, 2) if promoted_s else None,
        "commands_per_s_before_kill": round(pre_kill_rate),
        "write_s": round(write_s, 1),
        "old_primary_port": old_port,
        "new_primary_port": new_port,
        "old_primary_rejoined_as_standby": rejoined,
        "rejoin_s": rejoin_s,
        "replica_verify_ok": replica_verify.get("ok"),
        "replica_lag_bytes": replica_verify.get("replica_lag_bytes"),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    if not rejoined:
        log(f"the old primary did not rejoin: ... {seal.stderr[-300:]}")
    for writer in writers:
        for error in sorted(set(writer.errors)):
            log(f"writer {writer.index}, {writer.errors.count(error)} run(s): {error}")
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    good = lost == 0 and duplicated == 0 and verify_ok and result["checksums_equal"] and result["writers_completed"]
    return 0 if good else 1


def _is_retry_answer(answer: dict) -> bool:
    """A retry's answer: the original answer plus "duplicate": true (a deduct answer's own
    "duplicate" says whether the settlement was already deducted, and is false in a new answer)."""
    return answer.get("duplicate") is True


def drill_seal_keys() -> dict[str, str]:
    """The drill's own seal key (a fresh one unless LEDGER_SEAL_KEY is given), and its public key
    for `verify`, so the drill checks signed checkpoints as an operator's verifier would."""
    sys.path.insert(0, str(ROOT))
    from infra.audit.signing import public_key_of

    seed = os.environ.get("LEDGER_SEAL_KEY") or secrets.token_hex(32)
    return {"LEDGER_SEAL_KEY": seed, "LEDGER_SEAL_PUBLIC_KEY": public_key_of(bytes.fromhex(seed)).hex()}


ENV = {**os.environ, "LEDGER_ALLOW_DEVELOPMENT_KEY": os.environ.get("LEDGER_ALLOW_DEVELOPMENT_KEY", "1"),
       "PYTHONPATH": str(ROOT), **drill_seal_keys()}
ENV.pop("LEDGER_DB", None)
ENV.pop("LEDGER_READ_DB", None)

if __name__ == "__main__":
    sys.exit(main())

"""`ledger import/export/reconcile national` end to end, as a user runs them: real subprocesses
on a SQLite file, in a directory laid out like the repository root.

Goal: docs/national.md's worked example runs as written, with the exit statuses it states, and
prints what it shows; the exit statuses of `apply` hold (refused lines are answered, not fatal;
operating errors are one line on stderr, exit 2); the HTML report links to the console."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEDGER = str(Path(sys.executable).with_name("ledger"))
DOC = (ROOT / "docs" / "national.md").read_text(encoding="utf-8")
WORKED = DOC[DOC.index("## A worked example") : DOC.index("## Choices the issue left open")]


def run(argv: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return subprocess.run(
        [LEDGER, *argv], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120, env=environment
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    return tmp_path


def worked_commands() -> list[tuple[list[str], int]]:
    block = re.search(r"```sh\n(.*?)```", WORKED, flags=re.S)
    assert block, "the worked example has no sh block"
    commands = []
    for line in block.group(1).splitlines():
        text, _, comment = line.partition("#")
        expected = int(comment.split("exit")[1]) if "exit" in comment else 0
        commands.append((shlex.split(text)[1:], expected))
    return commands


def test_the_worked_example_runs_as_written_and_prints_what_it_shows(root):
    commands = worked_commands()
    assert len(commands) == 5
    shown = {}
    for argv, expected in commands:
        result = run(argv, root)
        assert result.returncode == expected, (argv, result.stdout[-1500:], result.stderr[-1500:])
        assert "Traceback" not in result.stderr
        shown[argv[2] if argv[2] != "reconcile" else " ".join(argv[2:6] + argv[-2:])] = result.stdout
    for name in ("import", "export"):
        for line in shown[name].splitlines():
            assert line in WORKED, f"{name} prints a line the page does not show: {line}"
    csv = next(out for key, out in shown.items() if key.endswith("--format csv"))
    assert f"```csv\n{csv}```" in WORKED
    balanced = next(out for key, out in shown.items() if key.startswith("reconcile") and "csv" not in key)
    assert json.loads(balanced)["balanced"] is True


def test_import_reads_stdin_and_answers_every_line_even_a_refused_one(root):
    assert run(["--db", "n.db", "apply", "docs/examples/commands.jsonl"], root).returncode == 0
    lines = (root / "docs/examples/national-records.jsonl").read_text().splitlines()
    result = run(["--db", "n.db", "import", "national", "-"], root, stdin="\n".join([lines[0], "{", lines[1]]) + "\n")
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["ok"] for a in answers] == [True, False, True] and answers[1]["error"]["field"] == "line"
    assert "1 line(s) refused" in result.stderr
    assert "420102202009090623" not in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "national", "--from", "2025-4-1", "--to", "2025-04-30"], "INVALID_INPUT: from: not a date"),
        (["export", "national", "--from", "2025-04-30", "--to", "2025-04-01"], "INVALID_INPUT: to: must not be before"),
        (["reconcile", "national", "--statement", "docs/examples/national-detail.jsonl"],
         "INVALID_INPUT: statement line 1: infno: required"),
    ],
)  # fmt: skip
def test_an_operating_error_is_one_line_on_stderr_and_exit_2(root, argv, message):
    result = run(["--db", "n.db", *argv], root)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2


def test_the_html_report_carries_the_attestation_and_links_each_difference_to_its_replay(root):
    steps = (["apply", "docs/examples/commands.jsonl"], ["import", "national", "docs/examples/national-records.jsonl"])
    for argv in (*steps, ["seal"]):
        assert run(["--db", "n.db", *argv], root).returncode == 0
    result = run(["--db", "n.db", "reconcile", "national", "--statement", "docs/examples/national-statement.jsonl",
                  "--detail", "docs/examples/national-detail.jsonl", "--format", "html", "--out", "april.html",
                  "--console-url", "https://ledger.example/"], root)  # fmt: skip
    assert result.returncode == 1 and "wrote april.html" in result.stderr
    page = (root / "april.html").read_text(encoding="utf-8")
    assert 'href="https://ledger.example/console/settlements/42010000000422000001"' in page
    assert 'id="integrity-verdict">History integrity 历史完整性: ✔ verified' in page
    assert "<script" not in page and "420102202009090623" not in page

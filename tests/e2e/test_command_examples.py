"""Every command example in docs/commands.md runs as written.

Convention: under its "## Examples" heading, each row of the commands table has the
example in its second column, in backticks, starting with `ledger `. The examples run in the
order shown, in a fresh directory that looks like the repository root after `./scripts/demo`
(the demo's `ledger-demo.db`, plus a copy of `docs/examples/`), with the venv's `ledger`.
Each must exit 0. A row whose text mentions LEDGER_README_SLOW is run only when that variable
is set to 1 (the row says so).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "commands.md"
LEDGER = Path(sys.executable).with_name("ledger")
SLOW_MARK = "LEDGER_README_SLOW"


def commands_section(text: str) -> str:
    match = re.search(r"^## Examples\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert match, "docs/commands.md has no '## Examples' section"
    return match.group(1)


def examples(text: str) -> list[tuple[str, bool]]:
    """(example, slow) for every row of the commands table, in order."""
    found = []
    for line in commands_section(text).splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3:
            continue
        example = re.fullmatch(r"`(ledger [^`]+)`", cells[1])
        if example:
            found.append((example.group(1), SLOW_MARK in line))
    return found


def test_every_command_has_an_example() -> None:
    found = examples(EXAMPLES.read_text(encoding="utf-8"))
    assert len(found) >= 15
    from infra.cli.main import main  # the same click group the `ledger` command runs

    commands = set(main.commands)
    shown = {
        shlex.split(example)[3] if example.startswith("ledger --db") else shlex.split(example)[1]
        for example, _ in found
    }
    assert commands <= shown, f"commands without an example: {sorted(commands - shown)}"


def test_the_examples_run(tmp_path: Path) -> None:
    assert LEDGER.exists(), f"no ledger command beside {sys.executable}"
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_DB", "LEDGER_PSEUDONYM_KEY", "LEDGER_RULES_DIR")}
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    prepared = subprocess.run([str(LEDGER), "demo"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stderr

    run_slow = os.environ.get(SLOW_MARK) == "1"
    for example, slow in examples(EXAMPLES.read_text(encoding="utf-8")):
        if slow and not run_slow:
            continue
        argv = shlex.split(example)
        result = subprocess.run(
            [str(LEDGER), *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, (
            f"{example}\nexit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
        assert "Traceback" not in result.stderr, example

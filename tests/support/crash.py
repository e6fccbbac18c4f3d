"""Crashes on purpose: an exception inside a view's transaction, or kill -9 in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


class Crash(Exception):
    """Stands for a process dying between processing and commit."""


def crash_when(predicate: Any) -> Any:
    """A before-commit hook that raises `Crash` the first time `predicate(view, gen, last)` holds."""
    fired: list[tuple[str, int, int]] = []

    def hook(view: str, generation: int, last: int) -> None:
        if not fired and predicate(view, generation, last):
            fired.append((view, generation, last))
            raise Crash(f"crash before commit: {view} g{generation} at {last}")

    hook.fired = fired  # type: ignore[attr-defined]
    return hook


def run_killed(script: str, *args: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, env=env, capture_output=True, timeout=300)
    return done.returncode

"""Loads the rule catalogue once at start-up (the shipped files, or a directory)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from domain.rules import Catalogue, parse_catalogue


def load_catalogue(directory: str | Path | None = None) -> Catalogue:
    if directory is None:
        root = resources.files("domain.rules") / "catalogue"
        files = {p.name: p.read_text(encoding="utf-8") for p in root.iterdir() if p.name.endswith(".toml")}
    else:
        files = {p.name: p.read_text(encoding="utf-8") for p in Path(directory).glob("*.toml")}
    return parse_catalogue(files)

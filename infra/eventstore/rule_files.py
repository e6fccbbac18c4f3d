"""Loads the rule catalogue once at start-up (the shipped files, or a directory)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from domain.rules import Catalogue, parse_catalogue


def catalogue_files(directory: str | Path | None = None) -> dict[str, str]:
    """{file name: TOML text} of the catalogue: the shipped files, or a directory's `*.toml`."""
    if directory is None:
        root = resources.files("domain.rules") / "catalogue"
        return {p.name: p.read_text(encoding="utf-8") for p in root.iterdir() if p.name.endswith(".toml")}
    return {p.name: p.read_text(encoding="utf-8") for p in Path(directory).glob("*.toml")}


def load_catalogue(directory: str | Path | None = None) -> Catalogue:
    return parse_catalogue(catalogue_files(directory))

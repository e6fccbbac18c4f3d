"""Canonical JSON: the one byte form of a value that is hashed, signed or MAC'd (stored events,
rule sets, command fingerprints, checkpoints, bundles): keys sorted, no whitespace, non-ASCII
written as UTF-8 (docs/evidence-format.md, "Canonical JSON")."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

"""Canonical JSON: the one byte form of a value that is hashed, signed or MAC'd (stored events,
rule sets, command fingerprints, checkpoints, bundles): keys sorted, no whitespace, non-ASCII
written as UTF-8 (docs/evidence-format.md, "Canonical JSON").

Two encoders give the same bytes. `canonical_json` takes any value (Python's json module).
`canonical_json_of_typed` is the fast one (orjson, about fifteen times faster on an event's
state), for the JSON dumps of the ledger's typed models, whose fields admit no float: the two
differ only on floats (exponents, non-finite values), which canonical JSON does not contain
(numbers are integers). tests/unit/test_canonical_json.py checks the bytes on generated values,
that no event, domain model or command has a field that admits a float, and that the free-form
content refuses one."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, Union

import orjson
from pydantic import PlainSerializer, StrictBool, StrictInt, StrictStr
from typing_extensions import TypeAliasType

_SORTED = orjson.OPT_SORT_KEYS

# A JSON value as canonical JSON has them: no float anywhere. The type of an event's free-form
# content (a command record's answer), so that it holds no float. (A snapshot's state is checked
# as it is encoded, value by value: infra.eventstore.snapshots.encode_value.)
# (The named alias is how pydantic takes a recursive type; mypy reads the plain one.)
if TYPE_CHECKING:
    IntegerJson: TypeAlias = Union[str, bool, int, list["IntegerJson"], dict[str, "IntegerJson"], None]  # noqa: UP007
else:
    IntegerJson = TypeAliasType(
        "IntegerJson",
        Union[StrictStr, StrictBool, StrictInt, list["IntegerJson"], dict[str, "IntegerJson"], None],  # noqa: UP007
    )


def _as_is(value: dict[str, Any]) -> dict[str, Any]:
    return value


# An object of such values, as an event holds it: validated as IntegerJson, and dumped to JSON by
# inference (each value is already a JSON value, so the dump is the same as through IntegerJson's
# union, value by value, which cost about 3 µs a command record). Only the JSON dump: a Python
# dump still copies it as IntegerJson does.
IntegerJsonObject = Annotated[
    dict[str, IntegerJson], PlainSerializer(_as_is, return_type=dict[str, Any], when_used="json")
]


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical_json_of_typed(value: Any) -> bytes:
    """`canonical_json(value)` for a value holding no float. What orjson refuses (an integer
    beyond 64 bits, a lone surrogate, a key that is not a string) goes to canonical_json, which
    encodes or refuses it as it always has."""
    try:
        return orjson.dumps(value, option=_SORTED)
    except orjson.JSONEncodeError:
        return canonical_json(value)

"""The two canonical-JSON encoders give the same bytes (domain.canonical): the fast one on every
value that holds no float, generated; and nothing it encodes holds a float: no event, no model of
the domain (an aggregate's state, dumped into its snapshot) nor command has a field that admits
one, and a snapshot's encoding of an aggregate refuses one."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

import domain
from domain.canonical import IntegerJson, IntegerJsonObject, canonical_json, canonical_json_of_typed
from domain.errors import LedgerInvariantError
from domain.event_base import DomainEvent
from infra.audit.bundle_check import EVENT_MODULES
from infra.commands.base import CommandModel
from infra.eventstore.snapshots import encode_value

TEXT = st.text(st.characters(codec="utf-8"))  # controls, quotes, backslashes, U+2028, astral planes
SCALARS = st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**80), max_value=2**80) | TEXT
AN_ID = "00000000-0000-4000-8000-000000000000"
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner) | st.dictionaries(TEXT, inner), max_leaves=40)


@given(VALUES)
def test_the_fast_encoder_gives_the_bytes_of_the_general_one(value: Any) -> None:
    assert canonical_json_of_typed(value) == canonical_json(value)


@pytest.mark.parametrize("value", [{"a": "\ud800"}, {1: "key not a string"}, {"big": 2**64}, {"t": (1, 2)}])
def test_what_orjson_refuses_is_encoded_or_refused_as_the_general_encoder_does(value: Any) -> None:
    try:
        expected: bytes | type = canonical_json(value)
    except UnicodeEncodeError:
        expected = UnicodeEncodeError
    if expected is UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            canonical_json_of_typed(value)
    else:
        assert canonical_json_of_typed(value) == expected


OBJECTS = st.dictionaries(TEXT, VALUES, max_size=8)


@given(OBJECTS)
def test_an_integer_json_object_dumps_as_its_union_does(value: dict[str, Any]) -> None:
    """A command record's answer (IntegerJsonObject) is dumped by inference: the same JSON
    value, and the same stored bytes, as the IntegerJson union gives it value by value."""
    plain, fast = TypeAdapter(dict[str, IntegerJson]), TypeAdapter(IntegerJsonObject)
    expected = plain.dump_python(plain.validate_python(value), mode="json")
    dumped = fast.dump_python(fast.validate_python(value), mode="json")
    assert dumped == expected
    assert canonical_json_of_typed(dumped) == canonical_json_of_typed(expected)


def subclasses(root: type) -> set[type]:
    found, todo = set(), [root]
    while todo:
        for cls in todo.pop().__subclasses__():
            if cls not in found:
                found.add(cls)
                todo.append(cls)
    return found


def stored_models() -> set[type[BaseModel]]:
    """Events, commands, and every pydantic model of the domain (what aggregates hold)."""
    for name in (*EVENT_MODULES, "infra.commands.table", "infra.commands.transfers"):
        importlib.import_module(name)
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(module.name)
    in_domain = {m for m in subclasses(BaseModel) if m.__module__.startswith("domain.")}
    return in_domain | subclasses(DomainEvent) | subclasses(CommandModel)


def float_admitting(schema: Any, path: str = "") -> list[str]:
    """Where a JSON schema admits a float: a number type, or any value at all (an open schema)."""
    if isinstance(schema, list):
        return [p for i, item in enumerate(schema) for p in float_admitting(item, f"{path}[{i}]")]
    if not isinstance(schema, dict):
        return []
    found = [path] if schema.get("type") == "number" or schema.get("additionalProperties") is True else []
    for key, value in schema.items():
        if key in ("properties", "$defs") and isinstance(value, dict):
            for name, sub in value.items():
                found += [path + "/" + name] if sub == {} else float_admitting(sub, f"{path}/{name}")
        elif key in ("items", "anyOf", "allOf", "oneOf", "additionalProperties", "prefixItems"):
            found += [f"{path}/{key}"] if value == {} else float_admitting(value, f"{path}/{key}")
    return found


def test_no_stored_model_nor_command_admits_a_float() -> None:
    models = stored_models()
    assert len(models) > 40  # the events, the domain's models and the commands were all found
    admitting = {m.__name__: p for m in models if (p := float_admitting(m.model_json_schema(mode="validation")))}
    assert admitting == {}


def test_the_free_form_content_refuses_a_float() -> None:
    """A command record's answer is free-form JSON, and an aggregate's state is encoded for its
    snapshot value by value: neither takes a float."""
    from domain.events import CommandRecorded

    assert encode_value({"held": [1, "x", None, True]}) == {"held": [1, "x", None, True]}
    with pytest.raises(LedgerInvariantError, match="float"):
        encode_value({"held": [1, 1.5]})
    with pytest.raises(ValidationError):
        CommandRecorded.model_validate(
            {"originator_id": AN_ID, "originator_version": 1, "timestamp": "2025-01-01T00:00:00Z",
             "originator_topic": "t", "command_id": "c", "command_type": "enroll", "fingerprint": "f",
             "result": {"ok": True, "ratio": 0.5}}
        )  # fmt: skip

"""The views' rebuild decodes stored events with orjson, the rest of the ledger with json: for
canonical JSON (what the ledger stores) both must give the same values. And the event MAC's fast
reading of a PostgreSQL uuid text gives the same hex as `uuid.UUID`."""

from __future__ import annotations

import json
import uuid

import orjson
from hypothesis import given
from hypothesis import strategies as st

from domain.canonical import canonical_json
from infra.storage.event_macs import _hex_of

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=30)


@given(VALUES)
def test_orjson_reads_canonical_json_as_json_does(value):
    data = canonical_json(value)
    assert orjson.loads(data) == json.loads(data)


@given(st.uuids())
def test_a_uuid_text_gives_the_hex_uuid_gives(value):
    text = str(value)
    assert _hex_of(text) == value.hex == _hex_of(text.upper()) == _hex_of(value.hex)


def test_a_malformed_uuid_text_is_refused_as_uuid_refuses_it():
    for text in ("0" * 35 + "g", "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"):
        try:
            expected = uuid.UUID(text).hex
        except ValueError:
            expected = None
        try:
            found = _hex_of(text)
        except ValueError:
            found = None
        assert found == expected

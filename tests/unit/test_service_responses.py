"""The command route's answers are rendered by orjson (infra.service.responses): the same bytes
as starlette's JSONResponse for any answer-like value, and what orjson refuses is rendered as
JSONResponse renders it (or refused as it refuses it)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.responses import JSONResponse
from hypothesis import given
from hypothesis import strategies as st

from infra.service.responses import AnswerResponse

TEXT = st.text(st.characters(codec="utf-8"))  # controls, quotes, U+2028, astral planes
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner) | st.dictionaries(TEXT, inner), max_leaves=30)


@given(st.dictionaries(TEXT, VALUES))
def test_an_answer_renders_as_json_response_renders_it(answer: dict[str, Any]) -> None:
    assert AnswerResponse(answer).body == JSONResponse(answer).body


@pytest.mark.parametrize("answer", [{"big": 2**64}, {1: "a key that is not a string"}, {"n": -(2**70)}])
def test_what_orjson_refuses_is_rendered_by_json_response(answer: dict[Any, Any]) -> None:
    assert AnswerResponse(answer).body == JSONResponse(answer).body


def test_a_lone_surrogate_is_refused_as_json_response_refuses_it() -> None:
    with pytest.raises(UnicodeEncodeError):
        JSONResponse({"a": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        AnswerResponse({"a": "\ud800"})

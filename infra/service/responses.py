"""The JSON body of the busiest answer (`POST /v1/commands`), rendered by orjson: the same bytes
as starlette's JSONResponse (compact, UTF-8, keys in their order) for every answer, about a
tenth of its time (json.dumps was about 3% of the server's event loop under bench-http). What
orjson does not take (an integer beyond 64 bits, a key that is not a string) is rendered by
JSONResponse as before; tests/unit/test_service_responses.py compares the bytes."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class AnswerResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            return super().render(content)

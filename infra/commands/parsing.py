"""From bytes at the edge to a typed command, parsed once: every front end (a file or stdin, an
HTTP body, an NDJSON batch line) reads its lines here.

Whatever a line holds, it gets one answer: lines are split on LF only (`read_lines`), at most
LINE_BYTES_MAX bytes, valid UTF-8 (`screen`), JSON nested at most NESTING_MAX deep, strings free
of lone surrogates and control characters, `at` within [AT_MIN, AT_MAX) (`load`, `validate`).
Messages name the field and never echo the raw value (it may be anything, an ID number
included); the echoed command type is one of COMMAND_TYPES or None.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import IO, Any

from pydantic import ValidationError

from domain.command_record import COMMAND_ID_PATTERN
from domain.errors import InvalidInputError, LedgerError
from domain.masking import holds_id_number
from infra.commands.answers import Answer, answer
from infra.commands.base import CommandModel
from infra.commands.table import ADAPTER, COMMAND_TYPES

LINE_BYTES_MAX = 65_536  # one command is a few hundred bytes; a longer line is refused unread
NESTING_MAX = 2  # a command is one flat object (depth 1); one level more is still reported by field
_BAD_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")  # C0 controls, DEL, lone surrogates
_FIELD_NAME = re.compile(r"^[a-z_]{1,32}$")  # every real field name; others are not echoed
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)

Parsed = CommandModel | Answer  # a command to decide, or the answer refusing its line


def read_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of a byte stream, split on LF only (a CR inside a line stays in it; the CR of a
    CRLF ending is dropped). A line over LINE_BYTES_MAX bytes is read to its end in pieces and
    given as its first LINE_BYTES_MAX + 2 bytes, which `screen` refuses."""
    while True:
        raw = stream.readline(LINE_BYTES_MAX + 2)
        if not raw:
            return
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        elif len(raw) == LINE_BYTES_MAX + 2:  # no end in sight: skip the rest of the line
            piece = raw
            while piece and not piece.endswith(b"\n"):
                piece = stream.readline(LINE_BYTES_MAX)
        yield raw


def screen(raw: str | bytes) -> str | Answer:
    """A line ready to decide (text, stripped), or the answer refusing it before it is parsed:
    empty, too long or not UTF-8."""
    text = screen_text(raw)
    if isinstance(text, str):
        return text
    return {"ok": False, "command": None, "error": text.to_dict()}


def screen_text(raw: str | bytes) -> str | InvalidInputError:
    """What `screen` decides, for a front end whose lines are not commands (the national
    platform's records): the text, stripped, or INVALID_INPUT naming why it is not a line."""
    text = _as_text(raw)
    if text == "":
        return InvalidInputError("line: empty", field="line")
    return text


def _as_text(raw: str | bytes) -> str | InvalidInputError:
    if isinstance(raw, bytes):
        if len(raw) > LINE_BYTES_MAX:
            return _too_long()
        try:
            return raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            field = _non_utf8_field(raw)
            return InvalidInputError(f"{field}: not valid UTF-8", field=field)
    if len(raw) > LINE_BYTES_MAX:  # characters, not bytes: checked again by `load`
        return _too_long()
    return raw.strip()


def _non_utf8_field(raw: bytes) -> str:
    """The field whose string value holds the invalid bytes, when the line is otherwise a JSON
    object with a field of a plausible name; else "line"."""
    data = _safe_load(raw.decode("utf-8", "surrogateescape"))
    for key, value in data.items() if isinstance(data, dict) else ():
        if isinstance(value, str) and re.search("[\udc80-\udcff]", value):
            return key if _FIELD_NAME.match(key) else "line"
    return "line"


def _too_long() -> InvalidInputError:
    return InvalidInputError(f"line: longer than {LINE_BYTES_MAX} bytes", field="line")


def load(text: str, *, nesting_max: int = NESTING_MAX, decode: Callable[[str], object] = json.loads) -> object:
    """The JSON value of a line, only if it is small and shallow enough to be a command (or, with
    `nesting_max`, a record of that depth; `decode`: json.loads with the caller's hooks, which
    may raise INVALID_INPUT themselves)."""
    if len(text.encode("utf-8", "surrogatepass")) > LINE_BYTES_MAX:
        raise _too_long()
    if text.count("{") + text.count("[") > nesting_max and _depth(text) > nesting_max:
        raise InvalidInputError(f"line: JSON nested deeper than {nesting_max} levels", field="line")
    try:
        return decode(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"line: not valid JSON ({error.msg})", field="line") from None
    except (ValueError, RecursionError):
        raise InvalidInputError("line: not valid JSON", field="line") from None


def _depth(text: str) -> int:
    """How deep brackets nest outside strings (an upper bound for invalid JSON). `load` asks
    only when the line holds more opening brackets than the limit (their count, strings
    included, bounds the depth), which a command, one flat object, never does."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", _STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _safe_load(text: str) -> object:
    try:
        return load(text)
    except InvalidInputError:
        return None


def validate(data: object) -> CommandModel:
    """The typed command a line's JSON value is, or INVALID_INPUT naming the field."""
    if not isinstance(data, dict):
        raise InvalidInputError("line: must be a JSON object", field="line")
    for key, value in data.items():
        if not _FIELD_NAME.match(key):
            raise InvalidInputError("line: a field name that is not one of the command's fields", field="line")
        if isinstance(value, str) and _BAD_CHARACTERS.search(value):
            raise InvalidInputError(f"{key}: control character or lone surrogate in text", field=key)
    if data.get("type") not in COMMAND_TYPES:
        raise InvalidInputError(f"type: must be one of {', '.join(COMMAND_TYPES)}", field="type")
    try:
        command: CommandModel = ADAPTER.validate_python(data)
    except ValidationError as error:
        raise invalid_input(error) from None
    return command


def parse_line(text: str) -> Parsed:
    """The typed command of a screened line, or the answer refusing the line as a whole."""
    data: object = None
    try:
        data = load(text)
        return validate(data)
    except LedgerError as error:
        return refused(data, error)


def refused(data: object, error: LedgerError) -> Answer:
    """The answer to a line refused as a whole (bad input, or given up on), echoing its type and
    command id only when they are well formed."""
    return answer(command_type(data), raw_command_id(data), error=error)


def command_type(data: object) -> str | None:
    value = data.get("type") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value in COMMAND_TYPES else None


def raw_command_id(data: object) -> str | None:
    value = data.get("command_id") if isinstance(data, dict) else None
    well_formed = isinstance(value, str) and re.fullmatch(COMMAND_ID_PATTERN, value) and not holds_id_number(value)
    return value if well_formed else None


def invalid_input(error: ValidationError, drop: int = 1) -> InvalidInputError:
    """A pydantic error as INVALID_INPUT naming the field's path, never its value. `drop`: how
    many leading path elements are not fields (1 for a command: the union's tag; 0 for a model
    validated directly, such as a national record, whose path is all fields)."""
    first = error.errors()[0]
    loc = [str(p) for p in first["loc"][drop:]] or ["line"]
    field = ".".join(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        message = f"{field}: unknown field"
    elif kind == "missing":
        message = f"{field}: required"
    elif kind == "timezone_aware":
        message = f"{field}: timestamp must carry an offset (e.g. +08:00 or Z)"
    else:
        message = f"{field}: {first['msg']}"
    return InvalidInputError(message, field=field)


def command_schema() -> dict[str, Any]:
    """The commands' JSON schema (the OpenAPI component `Command` and its definitions)."""
    return ADAPTER.json_schema(ref_template="#/components/schemas/{model}")

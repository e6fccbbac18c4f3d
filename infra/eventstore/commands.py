"""Commands at the edge: strict pydantic models of one JSON line each.

Shape errors (unknown fields, unknown enum values, timestamps without an offset, wrong types)
become INVALID_INPUT naming the field. Meaning (ID numbers, amounts) is checked by the
domain's parsers when the application resolves the command.

Whatever a line holds, it gets one answer: lines are split on LF only (`read_lines`), at most
LINE_BYTES_MAX bytes, valid UTF-8, JSON nested at most NESTING_MAX deep, strings free of lone
surrogates and control characters, `at` within [AT_MIN, AT_MAX). Messages name the field and
never echo the raw value (it may be anything, an ID number included); the echoed command type
is one of COMMAND_TYPES or None.

Personal data: free text (`reason`, `institution`) is limited in length and stored with every
ID-number-like substring masked (`domain.ids.mask_id_numbers`); identifiers that are stored and
echoed as given (`command_id`, `settlement_id`) may not contain one at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Annotated, Any, Literal, cast

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from domain.command_record import COMMAND_ID_PATTERN
from domain.errors import InvalidInputError
from domain.masking import holds_id_number, mask_id_numbers
from domain.vocabulary import (
    AidRelationship,
    BindingRelationship,
    Category,
    Channel,
    CreditSource,
    Insurance,
    RevokeInitiator,
    UnbindInitiator,
    UnbindReason,
    Verification,
)

LINE_BYTES_MAX = 65_536  # one command is a few hundred bytes; a longer line is refused unread
NESTING_MAX = 2  # a command is one flat object (depth 1); one level more is still reported by field
AT_MIN = datetime(2000, 1, 1, tzinfo=UTC)  # `at` lies in [AT_MIN, AT_MAX): local dates,
AT_MAX = datetime(2100, 1, 1, tzinfo=UTC)  # months and epoch microseconds all exist
_BAD_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")  # C0 controls, DEL, lone surrogates
_FIELD_NAME = re.compile(r"^[a-z_]{1,32}$")  # every real field name; others are not echoed


def _no_id_number(value: str) -> str:
    if holds_id_number(value):
        raise PydanticCustomError("id_number_like", "must not contain an ID number")
    return value


CommandId = Annotated[str, Field(pattern=COMMAND_ID_PATTERN), AfterValidator(_no_id_number)]


def _within_bounds(at: datetime) -> datetime:
    if not AT_MIN <= at < AT_MAX:
        raise PydanticCustomError("at_range", "must lie in [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z)")
    return at


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    at: Annotated[AwareDatetime, AfterValidator(_within_bounds)]
    command_id: CommandId | None = None  # chosen by the sender, kept for retries

    def content(self) -> dict:
        """What the command says, for comparing a retry with the original: every field but
        `command_id`, with `at` as one instant (an offset is only a way of writing it)."""
        content = self.model_dump(mode="json", exclude={"command_id"})
        content["at"] = self.at.astimezone(UTC).isoformat()
        return content


Region = Annotated[str, Field(pattern=r"^[0-9]{6}$")]  # ASCII digits only
Text = Annotated[str, Field(max_length=200), AfterValidator(mask_id_numbers)]  # free text, stored
IdText = Annotated[str, Field(min_length=1, max_length=32)]


class Enroll(_Command):
    type: Literal["enroll"]
    person: IdText
    insurance: Insurance
    region: Region | None = None


class Suspend(_Command):
    type: Literal["suspend"]
    person: IdText
    reason: Text = ""


class Resume(_Command):
    type: Literal["resume"]
    person: IdText


class Cancel(_Command):
    type: Literal["cancel"]
    person: IdText
    reason: Text = ""


class Expire(_Command):
    type: Literal["expire"]
    person: IdText
    reason: Text = ""


class Transfer(_Command):
    type: Literal["transfer"]
    person: IdText
    region: Region


class Credit(_Command):
    type: Literal["credit"]
    person: IdText
    amount: str
    source: CreditSource


class Bind(_Command):
    type: Literal["bind"]
    binder: IdText
    member: IdText
    relationship: BindingRelationship
    channel: Channel
    verification: Verification


class Unbind(_Command):
    type: Literal["unbind"]
    binder: IdText
    member: IdText
    reason: UnbindReason
    initiated_by: UnbindInitiator | None = None
    channel: Channel | None = None  # the channel a party used (seed 000: unbinds happen in the apps too)


class Authorize(_Command):
    type: Literal["authorize"]
    authorizer: IdText
    beneficiary: IdText
    relationship: AidRelationship
    channel: Channel | None = None


class Revoke(_Command):
    type: Literal["revoke"]
    authorizer: IdText
    beneficiary: IdText
    initiated_by: RevokeInitiator = "authorizer"
    channel: Channel | None = None


class Deduct(_Command):
    type: Literal["deduct"]
    settlement_id: Annotated[
        str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$"), AfterValidator(_no_id_number)
    ]
    patient: IdText
    amount: str
    category: Category
    institution: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(mask_id_numbers)]
    presented_by: IdText | None = None


class Reverse(_Command):
    type: Literal["reverse"]
    settlement_id: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_id_number)]
    reason: Text = ""


Command = Annotated[
    Enroll
    | Suspend
    | Resume
    | Cancel
    | Expire
    | Transfer
    | Credit
    | Bind
    | Unbind
    | Authorize
    | Revoke
    | Deduct
    | Reverse,
    Field(discriminator="type"),
]
COMMAND_TYPES = (
    "enroll",
    "suspend",
    "resume",
    "cancel",
    "expire",
    "transfer",
    "credit",
    "bind",
    "unbind",
    "authorize",
    "revoke",
    "deduct",
    "reverse",
)
_ADAPTER: TypeAdapter = TypeAdapter(cast(Any, Command))  # an Annotated union: a valid target mypy cannot type

# Who initiates an unbind, when the line does not say: the reason implies it.
UNBIND_INITIATOR = {"binder_request": "binder", "member_request": "member"}


def read_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of a byte stream, split on LF only (a CR inside a line stays in it; the CR of a
    CRLF ending is dropped). A line over LINE_BYTES_MAX bytes is read to its end in pieces and
    given as its first LINE_BYTES_MAX + 2 bytes, which `screen_line` refuses."""
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


def screen_line(raw: str | bytes) -> str | InvalidInputError:
    """A line as text, stripped, or why it cannot be a command at all (too long, not UTF-8)."""
    if isinstance(raw, bytes):
        if len(raw) > LINE_BYTES_MAX:
            return _too_long()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            field = _non_utf8_field(raw)
            return InvalidInputError(f"{field}: not valid UTF-8", field=field)
        return text.strip()
    if len(raw) > LINE_BYTES_MAX:  # characters, not bytes: checked again by parse_command
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


def _load(text: str) -> object:
    """The JSON value of a line, only if it is small and shallow enough to be a command."""
    if len(text.encode("utf-8", "surrogatepass")) > LINE_BYTES_MAX:
        raise _too_long()
    if _depth(text) > NESTING_MAX:
        raise InvalidInputError(f"line: JSON nested deeper than {NESTING_MAX} levels", field="line")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"line: not valid JSON ({error.msg})", field="line") from None
    except (ValueError, RecursionError):
        raise InvalidInputError("line: not valid JSON", field="line") from None


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)


def _depth(text: str) -> int:
    """How deep brackets nest outside strings (an upper bound for invalid JSON)."""
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
        return _load(text)
    except InvalidInputError:
        return None


def command_type(text: str) -> str | None:
    """The command's `type`, for reporting, even when the rest of the line is bad: only ever
    one of COMMAND_TYPES, else None."""
    data = _safe_load(text)
    value = data.get("type") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value in COMMAND_TYPES else None


def raw_command_id(text: str) -> str | None:
    """The line's `command_id`, for echoing, even when the rest of the line is bad (only a
    well-formed id is echoed)."""
    data = _safe_load(text)
    value = data.get("command_id") if isinstance(data, dict) else None
    well_formed = isinstance(value, str) and re.fullmatch(COMMAND_ID_PATTERN, value) and not holds_id_number(value)
    return value if well_formed else None


def parse_command(text: str) -> BaseModel:
    data = _load(text)
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
        return _ADAPTER.validate_json(text)
    except ValidationError as error:
        raise _invalid(error) from None


def _invalid(error: ValidationError) -> InvalidInputError:
    first = error.errors()[0]
    loc = [str(p) for p in first["loc"][1:]] or ["line"]
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

"""Commands at the edge: strict pydantic models of one JSON line each.

Shape errors (unknown fields, unknown enum values, timestamps without an offset, wrong types)
become INVALID_INPUT naming the field. Meaning (ID numbers, amounts) is checked by the
domain's parsers when the application resolves the command.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from domain.command_record import COMMAND_ID_PATTERN
from domain.errors import InvalidInputError
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

CommandId = Annotated[str, Field(pattern=COMMAND_ID_PATTERN)]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    at: AwareDatetime
    command_id: CommandId | None = None  # chosen by the sender, kept for retries

    def content(self) -> dict:
        """What the command says, for comparing a retry with the original: every field but
        `command_id`, with `at` as one instant (an offset is only a way of writing it)."""
        content = self.model_dump(mode="json", exclude={"command_id"})
        content["at"] = self.at.astimezone(UTC).isoformat()
        return content


Region = Annotated[str, Field(pattern=r"^[0-9]{6}$")]  # ASCII digits only
Text = Annotated[str, Field(max_length=200)]
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


class Authorize(_Command):
    type: Literal["authorize"]
    authorizer: IdText
    beneficiary: IdText
    relationship: AidRelationship


class Revoke(_Command):
    type: Literal["revoke"]
    authorizer: IdText
    beneficiary: IdText
    initiated_by: RevokeInitiator = "authorizer"


class Deduct(_Command):
    type: Literal["deduct"]
    settlement_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
    patient: IdText
    amount: str
    category: Category
    institution: Annotated[str, Field(min_length=1, max_length=100)]
    presented_by: IdText | None = None


class Reverse(_Command):
    type: Literal["reverse"]
    settlement_id: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Text = ""


Command = Annotated[
    Enroll | Suspend | Resume | Cancel | Expire | Transfer | Credit | Bind | Unbind | Authorize | Revoke | Deduct
    | Reverse,
    Field(discriminator="type"),
]
COMMAND_TYPES = ("enroll", "suspend", "resume", "cancel", "expire", "transfer", "credit", "bind", "unbind",
                 "authorize", "revoke", "deduct", "reverse")
_ADAPTER: TypeAdapter = TypeAdapter(Command)

# Who initiates an unbind, when the line does not say: the reason implies it.
UNBIND_INITIATOR = {"binder_request": "binder", "member_request": "member"}


def command_type(text: str) -> str | None:
    """The command's `type`, for reporting, even when the rest of the line is bad."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    value = data.get("type") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def raw_command_id(text: str) -> str | None:
    """The line's `command_id`, for echoing, even when the rest of the line is bad (only a
    well-formed id is echoed)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    value = data.get("command_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and re.fullmatch(COMMAND_ID_PATTERN, value) else None


def parse_command(text: str) -> BaseModel:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise InvalidInputError(f"line: not valid JSON ({error})", field="line") from None
    if not isinstance(data, dict):
        raise InvalidInputError("line: must be a JSON object", field="line")
    if data.get("type") not in COMMAND_TYPES:
        raise InvalidInputError(
            f"type: must be one of {', '.join(COMMAND_TYPES)} (got {data.get('type')!r})", field="type"
        )
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

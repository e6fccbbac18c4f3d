"""What every command shares: the base of its model, the field types of the edge, what its
handler is given, and its spec (the one place a command is declared).

A command is one strict pydantic model of one JSON line. Shape errors (unknown fields, unknown
enum values, timestamps without an offset, wrong types) become INVALID_INPUT naming the field
(infra.commands.parsing). Meaning (ID numbers, amounts) is checked by the domain's parsers when
the handler resolves the command.

Personal data: free text (`reason`, `institution`) is limited in length and stored with every
ID-number-like substring masked (`domain.masking.mask_id_numbers`); identifiers that are stored
and echoed as given (`command_id`, `settlement_id`) may not contain one at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Protocol, TypeVar
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, Strict
from pydantic_core import PydanticCustomError

from domain.command_record import COMMAND_ID_PATTERN
from domain.ids import ID_NUMBER_PATTERN
from domain.masking import holds_id_number, mask_id_numbers
from domain.money import AMOUNT_PATTERN
from domain.person import Person
from domain.settlement import Settlement
from infra.eventstore.application import LedgerApp
from infra.roles import ForbiddenError, Principal, Role

AT_MIN = datetime(2000, 1, 1, tzinfo=UTC)  # `at` lies in [AT_MIN, AT_MAX): local dates,
AT_MAX = datetime(2100, 1, 1, tzinfo=UTC)  # months and epoch microseconds all exist


def no_id_number(value: str) -> str:
    if holds_id_number(value):
        raise PydanticCustomError("id_number_like", "must not contain an ID number")
    return value


def _text_only(value: object) -> object:
    """`at` is parsed from a JSON string only (a number would be read as epoch seconds)."""
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "Input should be a valid datetime")
    return value


def _within_bounds(at: datetime) -> datetime:
    if not AT_MIN <= at < AT_MAX:
        raise PydanticCustomError("at_range", "must lie in [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z)")
    return at


# What the schema states beyond what these types validate (`json_schema_extra`: stated, not
# enforced again; the checks themselves are the parser's and the domain's, with their codes):
# text holds no control character (parsing.validate), `at` is a time of this century with an
# offset, an ID number has its shape and an amount its form (domain.ids, domain.money). What no
# pattern can say (a lone surrogate, which JSON can escape, is refused too) is listed on the
# route's 422 (infra.service.routes.writers, infra.service.problems).
PLAIN_TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
AT_PATTERN = (
    rf"^20[0-9]{{2}}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T{_CLOCK}:[0-5][0-9](?:\.[0-9]{{1,6}})?"
    rf"(?:Z|[+-]{_CLOCK})$"
)
CommandId = Annotated[str, Field(pattern=COMMAND_ID_PATTERN), AfterValidator(no_id_number)]
# Validated from the parsed JSON value (the line is parsed once): a string in ISO-8601 with an
# offset, exactly what strict JSON validation would accept, and nothing else.
At = Annotated[
    AwareDatetime,
    BeforeValidator(_text_only),
    Strict(False),
    AfterValidator(_within_bounds),
    Field(json_schema_extra={"pattern": AT_PATTERN}),
]
Region = Annotated[str, Field(pattern=r"^[0-9]{6}$")]  # ASCII digits only
Text = Annotated[  # free text, stored
    str, Field(max_length=200, json_schema_extra={"pattern": PLAIN_TEXT_PATTERN}), AfterValidator(mask_id_numbers)
]
IdText = Annotated[str, Field(min_length=1, max_length=32, json_schema_extra={"pattern": ID_NUMBER_PATTERN})]
Amount = Annotated[str, Field(json_schema_extra={"pattern": AMOUNT_PATTERN})]  # decimal yuan, parsed by the handler
SettlementId = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(no_id_number)]


class CommandModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    at: At
    command_id: CommandId | None = None  # chosen by the sender, kept for retries
    type: str  # each command narrows it to its own Literal (after the fields above, as in the schema)

    def content(self) -> dict:
        """What the command says, for comparing a retry with the original: every field but
        `command_id`, with `at` as one instant (an offset is only a way of writing it)."""
        content = self.model_dump(mode="json", exclude={"command_id"})
        content["at"] = self.at.astimezone(UTC).isoformat()
        return content


C = TypeVar("C", bound=CommandModel)
C_contra = TypeVar("C_contra", bound=CommandModel, contravariant=True)


class UnitOfWork(Protocol):
    """Where a handler's aggregates come from and go to (implemented by infra.writing.units)."""

    def get(self, aggregate_id: UUID) -> Any:
        """The aggregate's current state (raises the library's AggregateNotFoundError)."""

    def __contains__(self, aggregate_id: UUID) -> bool: ...

    def peek(self, aggregate_id: UUID) -> Any:
        """A load for recognising a duplicate (a settlement id): no decision is made from it,
        so it is exempt from the checks a decision's loads get."""

    def save(self, *objects: Any) -> None:
        """Accept the aggregates' new events, atomically with each other, in the order given."""


class Handler(Protocol[C_contra]):
    """Load, decide (in the domain), one save through the unit of work; the answer's fields."""

    def __call__(self, app: LedgerApp, command: C_contra, uow: UnitOfWork, sender: Principal | None) -> dict: ...


def no_one(person: Person | None, settlement: Settlement | None) -> list[UUID]:
    return []


@dataclass(frozen=True)
class Needs:
    """The aggregates a command's handler loads, so that a batch can load them in bulk first.

    `people`: the command fields naming people, in the order the handler loads them;
    `settlement`: whether it loads the settlement aggregate of `command.settlement_id`;
    `implied`: the further aggregates it loads once it holds the first named person and the
    settlement (a closing account's counterparts, a patient's authorizers, a settlement's payers).
    """

    people: tuple[str, ...] = ()
    settlement: bool = False
    implied: Callable[[Person | None, Settlement | None], list[UUID]] = no_one

    def named_people(self, command: CommandModel) -> list[str | None]:
        """The raw ID numbers of the people the command names, in `people` order."""
        return [getattr(command, name, None) for name in self.people]

    def settlement_id(self, command: CommandModel) -> str | None:
        """The settlement the handler loads, when it loads one."""
        return getattr(command, "settlement_id", None) if self.settlement else None


def attributed(command: C, sender: Principal) -> C:
    """The command as its key sends it: a channel key's command names the key's channel (a body
    naming another is refused by the scope check first; one naming none gets the key's)."""
    if sender.role == "channel" and "channel" in type(command).model_fields and command.channel is None:  # type: ignore[attr-defined]
        return command.model_copy(update={"channel": sender.channel})
    return command


def no_scope(sender: Principal, command: Any) -> None:
    """A command whose role is enough: nothing in it is scoped to the key."""


@dataclass(frozen=True)
class CommandSpec(Generic[C]):
    """One command, declared once: its model (which names its `type`), its handler, what it
    loads, and which role may send it and within which scope. Every other list of commands
    (the model union, the handler table, the prefetch needs, the roles) is derived from the
    specs (infra.commands.table). `role=None`: no key may send it."""

    model: type[C]
    handler: Handler[C]
    needs: Needs = field(default_factory=Needs)
    role: Role | None = None
    scope: Callable[[Principal, C], None] = no_scope

    @property
    def name(self) -> str:
        literal = self.model.model_fields["type"].annotation
        return literal.__args__[0]  # type: ignore[union-attr]  # Literal["enroll"] -> "enroll"

    def check(self, sender: Principal, command: C) -> None:
        """The sender's role and the command's static scope (what can be judged from the
        command alone; what depends on ledger state is judged by the handler, in the batch)."""
        if self.role is None:
            raise ForbiddenError(f"{self.name} cannot be sent through the service")
        if sender.role != self.role:
            raise ForbiddenError(f"a {sender.role} key may not send {self.name} (a {self.role} command)")
        self.scope(sender, command)

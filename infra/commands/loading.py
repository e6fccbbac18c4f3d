"""How handlers load the people a command names: by ID number, through the unit of work, with
UNKNOWN_PERSON naming the field when nobody is enrolled under it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.errors import InvalidInputError, UnknownPersonError
from domain.ids import IdFacts
from domain.person import Person
from domain.settlement import Settlement
from infra.commands.base import Needs, UnitOfWork
from infra.eventstore.application import LedgerApp


def load_person(uow: UnitOfWork, person_id: UUID, masked: str, field: str) -> Person:
    try:
        return uow.get(person_id)
    except AggregateNotFoundError:
        raise UnknownPersonError(f"{field}: no enrolled person {masked}", field=field) from None


def load_implied(
    uow: UnitOfWork, needs: Needs, person: Person | None = None, settlement: Settlement | None = None
) -> dict[UUID, Any]:
    """The further aggregates the command's `needs` declare, keyed by id (without `person`)."""
    ids = needs.implied(person, settlement)
    return {i: uow.get(i) for i in ids if person is None or i != person.id}


def one_person(app: LedgerApp, uow: UnitOfWork, raw: str) -> tuple[Person, str]:
    """The one person a single-person command names in its `person` field, and the mask."""
    ref = app.person_ref(raw, "person")
    return load_person(uow, ref.id, ref.masked, "person"), ref.masked


def pair(
    app: LedgerApp, uow: UnitOfWork, first_field: str, first_raw: str, second_field: str, second_raw: str
) -> tuple[Person, Person, IdFacts]:
    """Two different people, loaded in the order named; the second's ID facts (age, region)."""
    first = app.person_ref(first_raw, first_field)
    second = app.person_ref(second_raw, second_field)
    if first.id == second.id:
        raise InvalidInputError(f"{second_field}: must be a different person from {first_field}", field=second_field)
    return (
        load_person(uow, first.id, first.masked, first_field),
        load_person(uow, second.id, second.masked, second_field),
        second.facts,
    )

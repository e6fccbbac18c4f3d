"""Reads of one person's data, for every front end.

A key reads only within its region, says why, and every read is an entry in the person's
access log (`read_person`); the operator's CLI reads by ID number, unscoped and unlogged
(`by_id_number`). No ID number is ever put in a URL: the service and the console name a person
by `person_ref`, the aggregate id, obtained from `lookup`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.errors import UnknownPersonError
from domain.person import Person
from infra.access.access_log import AccessLog
from infra.audit.evidence_store import EvidenceStore
from infra.audit.history import person_history
from infra.eventstore import person_reads
from infra.eventstore.application import LedgerApp, PersonRef
from infra.readmodels import view_reads
from infra.readmodels.live_views import LiveViews
from infra.roles import Principal

UNKNOWN_REFERENCE = "person_ref: no enrolled person with this reference"
NOT_FOUND_IN_SCOPE = "id_number: no enrolled person with this ID number within this key's region"


class ReadService:
    def __init__(self, app: LedgerApp, access: Callable[[], AccessLog], views: Callable[[], LiveViews]):
        self.app = app
        self._access = access
        self._views = views

    # --- who is read ----------------------------------------------------------------------
    def by_id_number(self, raw: str) -> Person:
        """The person an ID number names (the operator's CLI; UNKNOWN_PERSON if not enrolled)."""
        return self.app.get_person(raw)

    def ref_of(self, raw: str, field: str = "id_number") -> PersonRef:
        return self.app.person_ref(raw, field)

    def in_scope(self, ref: str, principal: Principal) -> Person:
        """The person a person_ref names, within the key's region (FORBIDDEN outside it);
        UNKNOWN_PERSON when the reference names no enrolled person."""
        try:
            person: Person | None = self.app.repository.get(UUID(ref))
        except (ValueError, AggregateNotFoundError):
            person = None
        if not isinstance(person, Person):
            raise UnknownPersonError(UNKNOWN_REFERENCE, field="person_ref")
        principal.check_region(person.region)
        return person

    def read_person(self, ref: str, principal: Principal, purpose: str, endpoint: str) -> Person:
        """`in_scope`, and the read recorded in the person's access log."""
        person = self.in_scope(ref, principal)
        self.record(principal, person, endpoint, purpose)
        return person

    def lookup(self, raw: str, principal: Principal, purpose: str, endpoint: str) -> PersonRef:
        """ID number (never in a URL) -> person_ref, within the key's region. Every lookup is
        logged, an unanswered one too (under the pseudonym the number would have, so it is in the
        key's trail and, for an enrolled person, in theirs). Outside the key's region and never
        enrolled get one answer, UNKNOWN_PERSON: a lookup is no oracle of who is insured."""
        ref = self.ref_of(raw)
        try:
            person: Person | None = self.app.repository.get(ref.id)
        except AggregateNotFoundError:
            person = None
        if not isinstance(person, Person) or not person.region.startswith(principal.region or ""):
            self._access().record(self._who(principal), str(ref.id), f"{endpoint} (not answered)", purpose)
            raise UnknownPersonError(NOT_FOUND_IN_SCOPE, field="id_number")
        self.record(principal, person, endpoint, purpose)
        return ref

    def record(self, principal: Principal, person: Person, endpoint: str, purpose: str) -> None:
        self._access().record(self._who(principal), str(person.id), endpoint, purpose)

    @staticmethod
    def _who(principal: Principal) -> dict[str, str]:
        return {"key_id": principal.key_id, "role": principal.role}

    # --- what is read ---------------------------------------------------------------------
    def state(self, person: Person) -> dict[str, Any]:
        """The person's state, straight from the aggregate."""
        return person_reads.person_view(person)

    def from_views(self, reader: Callable[..., dict[str, Any]], *args: Any, min_position: int | None = None) -> dict:
        """`reader(views, *args)` (balance, bindings, authorizations, quota), once the views reach
        `min_position` (bounded wait). The person was found in the store, so views that do not
        know them yet are behind, not right: they are caught up to the log's head (the same
        bounded wait, VIEWS_BEHIND past it) and read again, never answered 'no enrolled person'."""
        views = self._views()
        views.wait_for(min_position)
        try:
            return views.read(reader, *args)
        except UnknownPersonError:
            views.wait_for(views.head())
            return views.read(reader, *args)

    def balance(self, person: Person, *, detail: bool = False, min_position: int | None = None) -> dict[str, Any]:
        reader = view_reads.balance_detail if detail else view_reads.balance_view
        return self.from_views(reader, person.id, person.masked, min_position=min_position)

    def bindings(self, person: Person, min_position: int | None = None) -> dict[str, Any]:
        return self.from_views(view_reads.bindings_view, person.id, person.masked, min_position=min_position)

    def authorizations(self, person: Person, min_position: int | None = None) -> dict[str, Any]:
        return self.from_views(view_reads.authorizations_view, person.id, person.masked, min_position=min_position)

    def quota(self, person: Person, month: str, rules_name: str | None = None,
              min_position: int | None = None) -> dict[str, Any]:  # fmt: skip
        view_reads.parse_month(month)
        catalogue = self.app.catalogue
        return self.from_views(
            view_reads.quota_view, catalogue, person.id, person.masked, month, rules_name, min_position=min_position
        )

    def history(self, person_id: UUID, as_of: datetime | None = None, known_at: datetime | None = None) -> dict:
        """The timeline with both times; the state as of a moment, as known at a moment."""
        return person_history(self.app, EvidenceStore(self.app), person_id, as_of, known_at)

    def access_entries(self, person: Person) -> list[dict[str, Any]]:
        """Who read this person's data, when, through which endpoint, and why."""
        return self._access().of_person(str(person.id))

"""The ledgers of a federation, opened on first use, and where each person lives.

`FederatedLedgers` is every ledger's `Directory` (infra.eventstore.application): a handler that
names a person absent from its own ledger asks it for the province the person is enrolled in.
`home_of` answers the router (infra.federation.routing) with the province a command belongs to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from domain.errors import InvalidInputError, UnknownProvinceError
from domain.settlement import settlement_aggregate_id
from infra.commands.base import CommandModel
from infra.commands.table import spec_of
from infra.core.bootstrap import open_ledger
from infra.core.ledger import Ledger
from infra.eventstore.application import PersonRef
from infra.federation.config import Federation
from infra.settings import load_settings

HOMES_MAX = 200_000  # person -> province, kept between commands (people never move between ledgers)


class FederatedLedgers:
    def __init__(
        self,
        federation: Federation,
        rules_dir: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        prefetch: bool = True,
    ):
        self.federation = federation
        self.rules_dir = rules_dir
        self.clock = clock
        self.prefetch = prefetch
        self._open: dict[str, Ledger] = {}
        self._homes: dict[UUID, str] = {}

    @property
    def provinces(self) -> tuple[str, ...]:
        return self.federation.provinces

    def ledger(self, province: str) -> Ledger:
        """The ledger of `province` (UNKNOWN_PROVINCE when the federation has none)."""
        opened = self._open.get(province)
        if opened is None:
            db = self.federation.ledgers.get(province)
            if db is None:
                raise UnknownProvinceError(
                    f"province {province}: the federation has no ledger for it (it has {', '.join(self.provinces)})"
                )
            settings = dataclasses.replace(load_settings(db, self.rules_dir), province=province)
            opened = open_ledger(settings, clock=self.clock, prefetch=self.prefetch)
            opened.app.directory = self
            self._open[province] = opened
        return opened

    def all(self) -> list[tuple[str, Ledger]]:
        return [(p, self.ledger(p)) for p in self.provinces]

    def close(self) -> None:
        for ledger in self._open.values():
            ledger.close()
        self._open.clear()

    # --- the directory ----------------------------------------------------------------------
    def province_of(self, person: UUID) -> str | None:
        """The province of the ledger `person` is enrolled in, or None (asked of each ledger)."""
        known = self._homes.get(person)
        if known is not None:
            return known
        for province, ledger in self.all():
            if ledger.app.recorder.select_events(person, limit=1):
                self.remember(person, province)
                return province
        return None

    def remember(self, person: UUID, province: str) -> None:
        if len(self._homes) >= HOMES_MAX:
            self._homes.clear()
        self._homes[person] = province

    def forget(self, person: UUID) -> None:
        self._homes.pop(person, None)

    def ref(self, raw: str, field: str) -> PersonRef:
        """A person as named by an ID number (the pseudonym key is shared: any ledger's app)."""
        return self.ledger(self.provinces[0]).app.person_ref(raw, field)

    def home_of_person(self, raw: str, field: str) -> str:
        """The home ledger of the person with ID number `raw`: where they are enrolled, else the
        province of their ID number (whose ledger answers UNKNOWN_PERSON)."""
        ref = self.ref(raw, field)
        return self.province_of(ref.id) or self._province_with_ledger(ref.facts.region[:2])

    def _province_with_ledger(self, province: str) -> str:
        if province not in self.federation.ledgers:
            raise UnknownProvinceError(
                f"province {province}: the federation has no ledger for it (it has {', '.join(self.provinces)})"
            )
        return province

    def home_of(self, command: CommandModel) -> str:
        """The province whose ledger decides `command`: an enrolment's region; a reversal's
        settlement; else the first person the command names (binder, authorizer, patient,
        person). UNKNOWN_PROVINCE when the federation has no ledger for it."""
        if command.type == "enroll":
            ref = self.ref(command.person, "person")  # type: ignore[attr-defined]  # an Enroll
            region = command.region or ref.facts.region  # type: ignore[attr-defined]  # an Enroll
            home = self.province_of(ref.id)
            province = self._province_with_ledger(region[:2])
            return home or province  # an enrolled person's ledger answers ALREADY_ENROLLED
        if command.type == "reverse":
            settlement = settlement_aggregate_id(command.settlement_id)  # type: ignore[attr-defined]  # a Reverse
            return self.province_of(settlement) or self.provinces[0]
        people = spec_of(command).needs.people
        if not people:
            raise InvalidInputError(f"type: {command.type} is sent by the relay only", field="type")
        return self.home_of_person(getattr(command, people[0]), people[0])

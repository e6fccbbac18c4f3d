"""Where a federation's people live: the `Directory` every ledger of a federation is given
(infra.eventstore.application). It asks each ledger's event store whether it holds an
aggregate (a person, a settlement), remembers the answer (people never move between ledgers),
and says which province's ledger decides a command (`home_of`). The ledgers' event stores are
opened on first use, read only for these look-ups."""

from __future__ import annotations

import dataclasses
from uuid import UUID

from domain.errors import InvalidInputError, UnknownProvinceError
from domain.settlement import settlement_aggregate_id
from infra.commands.base import CommandModel
from infra.commands.table import spec_of
from infra.eventstore.application import LedgerApp, PersonRef
from infra.provinces.federation_file import Federation
from infra.settings import load_settings

HOMES_MAX = 200_000  # aggregate -> province, kept between commands


class FederationDirectory:
    def __init__(self, federation: Federation, rules_dir: str | None = None):
        self.federation = federation
        self.rules_dir = rules_dir
        self._apps: dict[str, LedgerApp] = {}
        self._homes: dict[UUID, str] = {}

    @property
    def provinces(self) -> tuple[str, ...]:
        return self.federation.provinces

    def app(self, province: str) -> LedgerApp:
        """The event store of `province`'s ledger (UNKNOWN_PROVINCE when the federation has none)."""
        opened = self._apps.get(province)
        if opened is None:
            db = self.federation.ledgers.get(province)
            if db is None:
                raise UnknownProvinceError(
                    f"province {province}: the federation has no ledger for it (it has {', '.join(self.provinces)})"
                )
            opened = LedgerApp(dataclasses.replace(load_settings(db, self.rules_dir), province=province))
            self._apps[province] = opened
        return opened

    def close(self) -> None:
        for app in self._apps.values():
            app.close()
        self._apps.clear()

    # --- the directory ----------------------------------------------------------------------
    def province_of(self, person: UUID) -> str | None:
        """The province of the ledger `person` is enrolled in, or None (asked of each ledger)."""
        known = self._homes.get(person)
        if known is not None:
            return known
        for province in self.provinces:
            if self.app(province).recorder.select_events(person, limit=1):
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
        return self.app(self.provinces[0]).person_ref(raw, field)

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

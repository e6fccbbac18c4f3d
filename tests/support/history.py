"""A deterministic generated history, written fast.

Goal: a realistic mix of every event type (enrolments, credits, binds accepted and rejected,
unbinds, authorizations, revocations, deductions split across authorizers, reversals, status
changes) across several regions and rule sets, in causal order, quickly.
Method: the pure domain functions decide each command on Person objects kept in memory (no
reload per command); each command's new events are collected in command order and written to
the application's event store in batches of many commands per transaction (`app.events.put`),
which keeps the global order exactly the order of the commands.

Used only by the 100,000-event rebuild (performance/test_projections_large_history.py): it
writes that many events in seconds, counts exactly what it wrote and keeps the aggregates in
memory for the comparison. Everything else uses support/workload.py (the product's simulate).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain import binding, deduction, lifecycle, mutual_aid
from domain.clock import CST, local_date
from domain.errors import LedgerError
from domain.ids import age_on, parse_id_number, pseudonym
from domain.masking import mask
from domain.person import Person
from domain.settlement import Settlement
from tests.support import id_number

REGIONS = ("110105", "110108", "140105", "420102", "340102", "310101")
START = datetime(2025, 1, 1, 0, 0, tzinfo=CST)
COMMANDS = (
    ("credit", 22),
    ("bind", 22),
    ("unbind", 6),
    ("authorize", 10),
    ("revoke", 2),
    ("deduct", 26),
    ("reverse", 4),
    ("suspend", 1),
    ("resume", 2),
    ("transfer", 0.3),
    ("cancel", 0.05),
)


@dataclass
class History:
    app: Any
    seed: int = 7
    persons_count: int = 400
    batch_commands: int = 400
    rng: random.Random = field(init=False)
    persons: dict[UUID, Person] = field(default_factory=dict)
    births: dict[UUID, Any] = field(default_factory=dict)
    numbers: dict[UUID, str] = field(default_factory=dict)
    settlements: dict[str, Settlement] = field(default_factory=dict)
    events_written: int = 0
    at: datetime = START
    _pending: list = field(default_factory=list)
    _commands_in_batch: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._ids = list[UUID]()

    # --- writing ------------------------------------------------------------------------
    def _collect(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            self._pending.extend(aggregate.collect_events())
        self._commands_in_batch += 1
        if self._commands_in_batch >= self.batch_commands:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.app.events.put(self._pending)
            self.events_written += len(self._pending)
        self._pending = []
        self._commands_in_batch = 0

    # --- the story ----------------------------------------------------------------------
    def _tick(self) -> datetime:
        self.at += timedelta(seconds=self.rng.randint(1, 900), microseconds=self.rng.choice((0, 0, 250_000)))
        return self.at

    def enroll_all(self) -> None:
        key = self.app.settings.pseudonym_key
        for n in range(self.persons_count):
            region = REGIONS[n % len(REGIONS)]
            birth = f"{self.rng.randint(1940, 2022)}0{self.rng.randint(1, 9)}1{self.rng.randint(0, 9)}"
            number = id_number(region=region, birth=birth, seq=100 + n)
            _, facts = parse_id_number(number)
            insurance = "employee" if self.rng.random() < 0.7 else "resident"
            person = Person.enroll(
                pseudonym=pseudonym(number, key),
                masked=mask(number),
                region=region,
                insurance=insurance,
                at=self._tick(),
            )
            self.persons[person.id] = person
            self.births[person.id] = facts.birth_date
            self.numbers[person.id] = number
            self._ids.append(person.id)
            self._collect(person)

    def _pick(self) -> Person:
        return self.persons[self.rng.choice(self._ids)]

    def _two(self) -> tuple[Person, Person]:
        first = self._pick()
        second = self._pick()
        while second.id == first.id:
            second = self._pick()
        return first, second

    def step(self) -> None:
        kind = self.rng.choices([c for c, _ in COMMANDS], weights=[w for _, w in COMMANDS])[0]
        at = self._tick()
        try:
            getattr(self, "_" + kind)(at)
        except LedgerError:
            for person in self.persons.values():  # a refusal leaves no pending events behind
                if person.pending_events:
                    raise

    def run(self, events_min: int, every: int | None = None, on_progress: Callable[[], None] | None = None) -> None:
        if not self.persons:
            self.enroll_all()
        next_mark = every or 0
        while self.events_written + len(self._pending) < events_min:
            self.step()
            if every and self.events_written >= next_mark:
                next_mark += every
                if on_progress:
                    on_progress()
        self.flush()

    # --- commands (the domain decides; nothing here re-implements a rule) ----------------
    def _rules(self, at: datetime, region: str) -> Any:
        return self.app.catalogue.in_force(local_date(at), region)

    def _credit(self, at: datetime) -> None:
        person = self._pick()
        source = "monthly_contribution" if person.insurance == "employee" else "adjustment"
        person.credit(amount_fen=self.rng.randint(1, 400) * 100 + self.rng.randint(0, 99), source=source, at=at)
        self._collect(person)

    def _bind(self, at: datetime) -> None:
        binder, member = self._two()
        request = binding.BindRequest(
            relationship=self.rng.choice(("parent", "child", "spouse", "other")),
            channel=self.rng.choice(("alipay", "wechat", "nhsa_app", "bank_app", "counter")),
            verification=self.rng.choice(("face", "face", "counter", "documents")),
            member_age_years=age_on(self.births[member.id], local_date(at)),
            at=at,
        )
        binding.bind(binder, member, request, self._rules(at, binder.region))
        self._collect(binder, member)

    def _unbind(self, at: datetime) -> None:
        binder = self._pick()
        if not binder.members:
            return
        member = self.persons[self.rng.choice(sorted(binder.members))]
        reason = self.rng.choice(("binder_request", "member_request", "credential_removed", "system_forced"))
        initiated = {"binder_request": "binder", "member_request": "member"}.get(reason, "system")
        binding.unbind(binder, member, reason=reason, initiated_by=initiated, at=at)
        self._collect(binder, member)

    def _authorize(self, at: datetime) -> None:
        authorizer, beneficiary = self._two()
        relationship = self.rng.choice(("spouse", "parent", "child", "sibling"))
        decision = mutual_aid.authorize(authorizer, beneficiary, relationship, self._rules(at, authorizer.region), at)
        if decision.ok:
            self._collect(authorizer, beneficiary)

    def _revoke(self, at: datetime) -> None:
        authorizer = self._pick()
        if not authorizer.beneficiaries:
            return
        beneficiary = self.persons[self.rng.choice(sorted(authorizer.beneficiaries))]
        mutual_aid.revoke(authorizer, beneficiary, initiated_by="authorizer", at=at)
        self._collect(authorizer, beneficiary)

    def _deduct(self, at: datetime) -> None:
        patient = self._pick()
        presenter = None
        if patient.binders and self.rng.random() < 0.3:
            presenter = self.persons[self.rng.choice(sorted(patient.binders))]
        request = deduction.DeductRequest(
            settlement_id=f"S{len(self.settlements) + 1:07d}",
            amount_fen=self.rng.randint(1, 300) * 100 + self.rng.randint(0, 99),
            category=self.rng.choice(("hospital_self_pay", "pharmacy", "pharmacy", "resident_premium", "wellness")),
            institution=self.rng.choice(("H1", "H2", "P1")),
            presented_by=presenter.id if presenter else None,
            at=at,
        )
        authorizers = {i: self.persons[i] for i in sorted(patient.authorizers)}
        _, settlement, payers = deduction.deduct(
            patient, presenter, authorizers, request, self._rules(at, patient.region)
        )
        self.settlements[request.settlement_id] = settlement
        self._collect(patient, settlement, *payers)

    def _reverse(self, at: datetime) -> None:
        if not self.settlements:
            return
        settlement = self.settlements[self.rng.choice(sorted(self.settlements))]
        if settlement.reversed:
            return
        patient = self.persons[settlement.patient]
        payers = {line.person: self.persons[line.person] for line in settlement.lines if line.person != patient.id}
        deduction.reverse(settlement, patient, payers, reason="disputed", at=at)
        self._collect(patient, settlement, *payers.values())

    def _suspend(self, at: datetime) -> None:
        person = self._pick()
        person.suspend(reason="lapsed", at=at)
        self._collect(person)

    def _resume(self, at: datetime) -> None:
        suspended = [i for i in self._ids if self.persons[i].status == "suspended"]
        if suspended:
            person = self.persons[self.rng.choice(suspended)]
            person.resume(at=at)
            self._collect(person)

    def _transfer(self, at: datetime) -> None:
        person = self._pick()
        others = {i: self.persons[i] for i in lifecycle.counterpart_ids(person, bindings=False)}
        lifecycle.transfer_region(person, others, region=self.rng.choice(REGIONS), at=at)
        self._collect(person, *others.values())

    def _cancel(self, at: datetime) -> None:
        person = self._pick()
        if person.is_closed:
            return
        others = {i: self.persons[i] for i in lifecycle.counterpart_ids(person)}
        lifecycle.close_account(person, others, status=self.rng.choice(("cancelled", "expired")), reason="", at=at)
        self._collect(person, *others.values())

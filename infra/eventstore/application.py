"""The ledger application: commands in, plain values out.

Each command is *load, decide, one save of every aggregate it touched*. The save is atomic
and optimistic: if another writer got there first the event store refuses the whole save
(IntegrityError on an aggregate version), and the command is re-run on fresh state, a bounded
number of times, so that concurrent commands never break a limit or lose money.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any, Callable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, InternalError, OperationalError, PersistenceError

from domain import binding, deduction, lifecycle, mutual_aid
from domain.clock import local_date
from domain.errors import (
    AlreadyEnrolledError,
    ConcurrencyError,
    InvalidInputError,
    LedgerError,
    SettlementConflictError,
    StorageError,
    UnknownPersonError,
    UnknownSettlementError,
)
from domain.ids import age_on, mask, parse_id_number, person_id, pseudonym
from domain.money import parse_yuan
from domain.person import Person
from domain.rules import Catalogue, RuleSet
from domain.settlement import Settlement, settlement_aggregate_id
from infra.eventstore import commands as c
from infra.eventstore.catalogue import load_catalogue
from infra.config import Settings, ensure_postgres_schema
from infra.eventstore.keycheck import verify_pseudonym_key
from infra.eventstore.snapshots import SNAPSHOT_INTERVAL, AggregateSnapshot

ATTEMPTS_MAX = 16
STARTUP_ATTEMPTS_MAX = 5  # schema creation racing another process
RETRY_WAIT_MAX_S = 0.05  # the longest random wait before a retry (the last attempt's)


class LedgerApp(Application[UUID]):
    name = "FamilyLedger"
    snapshotting_intervals = {Person: SNAPSHOT_INTERVAL}  # audit replay reads <= interval events
    snapshot_class = AggregateSnapshot
    # Group commit (infra.groupcommit.batch): while a unit of work is set, loads go through it and saves
    # stage into it; the unit of work commits the whole batch in one save.
    unit_of_work: Any = None

    def __init__(self, settings: Settings, catalogue: Catalogue | None = None, rules_override: str | None = None):
        self.settings = settings
        self.catalogue = catalogue or load_catalogue(settings.rules_dir)
        self.rules_override = rules_override
        if rules_override:
            self.catalogue.named(rules_override, local_date(datetime.now().astimezone()))  # fail fast
        for attempt in range(1, STARTUP_ATTEMPTS_MAX + 1):
            try:
                if settings.is_postgres:
                    ensure_postgres_schema(settings.db)
                super().__init__(env=settings.eventsourcing_env())
                verify_pseudonym_key(self.recorder, settings.pseudonym_key)
                break
            except (InternalError, IntegrityError, *psycopg_race_errors()) as error:
                # Another process is creating the same schema (PostgreSQL: concurrent CREATE OR
                # REPLACE FUNCTION gives "tuple concurrently updated"): its DDL wins; try again.
                if attempt == STARTUP_ATTEMPTS_MAX:
                    raise StorageError(f"database {describe_db(settings.db)}: {one_line(error)}") from None
                time.sleep(0.05 * attempt)
            except (PersistenceError, OSError, *psycopg_errors()) as error:
                raise StorageError(f"database {describe_db(settings.db)}: {one_line(error)}") from None

    # --- plumbing -------------------------------------------------------------------------
    @property
    def repository(self) -> Any:
        return super().repository if self.unit_of_work is None else self.unit_of_work

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        if self.unit_of_work is not None:
            return self.unit_of_work.stage(*objs)
        return super().save(*objs, **kwargs)

    def person_ref(self, raw: str, field: str) -> tuple[UUID, str, Any]:
        number, facts = parse_id_number(raw, field)
        return person_id(pseudonym(number, self.settings.pseudonym_key)), mask(number), facts

    def load_person(self, pid: UUID, masked: str, field: str) -> Person:
        try:
            return self.repository.get(pid)
        except AggregateNotFoundError:
            raise UnknownPersonError(f"{field}: no enrolled person {masked}", field=field) from None

    def load_many(self, ids: list[UUID]) -> dict[UUID, Person]:
        return {i: self.repository.get(i) for i in ids}

    def rules_for(self, at: datetime, region: str) -> RuleSet:
        day = local_date(at)
        if self.rules_override:
            return self.catalogue.named(self.rules_override, day)
        return self.catalogue.in_force(day, region)

    def _retrying(self, attempt: Callable[[], dict]) -> dict:
        for number in range(1, ATTEMPTS_MAX + 1):
            try:
                return attempt()
            except IntegrityError:
                # Another writer saved first: decide again on fresh state, after a short random
                # wait so that writers racing for one aggregate do not collide again in lockstep.
                time.sleep(random.uniform(0, RETRY_WAIT_MAX_S * number / ATTEMPTS_MAX))
            except OperationalError as error:
                raise StorageError(f"database: {one_line(error)}") from None
        raise ConcurrencyError(f"gave up after {ATTEMPTS_MAX} conflicting attempts")

    # --- the front door -------------------------------------------------------------------
    def execute(self, command: Any) -> dict:
        handler = getattr(self, "_" + command.type)
        return self._retrying(lambda: handler(command))

    def apply_line(self, text: str) -> dict:
        """One JSON line in, one result out; errors become results, nothing half-done."""
        kind = c.command_type(text)
        try:
            result = self.execute(c.parse_command(text))
            return {"ok": True, "command": kind, **result}
        except LedgerError as error:
            return {"ok": False, "command": kind, "error": error.to_dict()}

    # --- single-person commands -----------------------------------------------------------
    def _enroll(self, cmd: c.Enroll) -> dict:
        number, facts = parse_id_number(cmd.person, "person")
        key = pseudonym(number, self.settings.pseudonym_key)
        masked = mask(number)
        if person_id(key) in self.repository:
            raise AlreadyEnrolledError(f"person: {masked} is already enrolled", field="person")
        region = cmd.region or facts.region
        person = Person.enroll(pseudonym=key, masked=masked, region=region, insurance=cmd.insurance, at=cmd.at)
        try:
            self.save(person)
        except IntegrityError:
            raise AlreadyEnrolledError(f"person: {masked} is already enrolled", field="person") from None
        return {"person": masked, "insurance": cmd.insurance, "region": region, "status": "active"}

    def _status_change(self, cmd: Any, change: Callable[[Person], None]) -> dict:
        pid, masked, _ = self.person_ref(cmd.person, "person")
        person = self.load_person(pid, masked, "person")
        change(person)
        self.save(person)
        return {"person": masked, "status": person.status}

    def _suspend(self, cmd: c.Suspend) -> dict:
        return self._status_change(cmd, lambda p: p.suspend(reason=cmd.reason, at=cmd.at))

    def _resume(self, cmd: c.Resume) -> dict:
        return self._status_change(cmd, lambda p: p.resume(at=cmd.at))

    def _credit(self, cmd: c.Credit) -> dict:
        amount_fen = parse_yuan(cmd.amount, "amount")
        pid, masked, _ = self.person_ref(cmd.person, "person")
        person = self.load_person(pid, masked, "person")
        person.credit(amount_fen=amount_fen, source=cmd.source, at=cmd.at)
        self.save(person)
        return {"person": masked, "amount_fen": amount_fen, "balance_fen": person.balance_fen}

    def _close(self, cmd: Any, status: str) -> dict:
        pid, masked, _ = self.person_ref(cmd.person, "person")
        person = self.load_person(pid, masked, "person")
        others = self.load_many(lifecycle.counterpart_ids(person))
        ended = {"bindings": len(person.members) + len(person.binders),
                 "authorizations": len(person.beneficiaries) + len(person.authorizers)}
        lifecycle.close_account(person, others, status=status, reason=cmd.reason, at=cmd.at)
        self.save(person, *others.values())
        return {"person": masked, "status": status, "ended": ended}

    def _cancel(self, cmd: c.Cancel) -> dict:
        return self._close(cmd, "cancelled")

    def _expire(self, cmd: c.Expire) -> dict:
        return self._close(cmd, "expired")

    def _transfer(self, cmd: c.Transfer) -> dict:
        pid, masked, _ = self.person_ref(cmd.person, "person")
        person = self.load_person(pid, masked, "person")
        others = self.load_many(lifecycle.counterpart_ids(person, bindings=False))
        ended = len(person.beneficiaries) + len(person.authorizers)
        lifecycle.transfer_region(person, others, region=cmd.region, at=cmd.at)
        self.save(person, *others.values())
        return {"person": masked, "region": cmd.region, "ended": {"authorizations": ended}}

    # --- bindings ---------------------------------------------------------------------------
    def _pair(self, first_raw: str, first_field: str, second_raw: str, second_field: str):
        first_id, first_masked, _ = self.person_ref(first_raw, first_field)
        second_id, second_masked, second_facts = self.person_ref(second_raw, second_field)
        if first_id == second_id:
            raise InvalidInputError(f"{second_field}: must be a different person from {first_field}", field=second_field)
        first = self.load_person(first_id, first_masked, first_field)
        second = self.load_person(second_id, second_masked, second_field)
        return first, second, second_facts

    def _bind(self, cmd: c.Bind) -> dict:
        binder, member, facts = self._pair(cmd.binder, "binder", cmd.member, "member")
        rules = self.rules_for(cmd.at, binder.region)
        request = binding.BindRequest(
            relationship=cmd.relationship,
            channel=cmd.channel,
            verification=cmd.verification,
            member_age_years=age_on(facts.birth_date, local_date(cmd.at)),
            at=cmd.at,
        )
        decision = binding.bind(binder, member, request, rules)
        self.save(binder, member)
        if not decision.ok:
            raise RecordedRejection(decision, rules.version)
        return {"binder": binder.masked, "member": member.masked, "relationship": cmd.relationship,
                "channel": cmd.channel, "rule_version": rules.version}

    def _unbind(self, cmd: c.Unbind) -> dict:
        implied = c.UNBIND_INITIATOR.get(cmd.reason, "system")
        if cmd.initiated_by is not None and cmd.reason in c.UNBIND_INITIATOR and cmd.initiated_by != implied:
            raise InvalidInputError(
                f"initiated_by: reason {cmd.reason} is initiated by the {implied}", field="initiated_by"
            )
        binder, member, _ = self._pair(cmd.binder, "binder", cmd.member, "member")
        initiated_by = cmd.initiated_by or implied
        binding.unbind(binder, member, reason=cmd.reason, initiated_by=initiated_by, at=cmd.at)
        self.save(binder, member)
        return {"binder": binder.masked, "member": member.masked, "reason": cmd.reason, "initiated_by": initiated_by}

    # --- mutual aid -------------------------------------------------------------------------
    def _authorize(self, cmd: c.Authorize) -> dict:
        authorizer, beneficiary, _ = self._pair(cmd.authorizer, "authorizer", cmd.beneficiary, "beneficiary")
        rules = self.rules_for(cmd.at, authorizer.region)
        decision = mutual_aid.authorize(authorizer, beneficiary, cmd.relationship, rules, cmd.at)
        if not decision.ok:
            raise binding.refusal_error(decision, rules.version)
        self.save(authorizer, beneficiary)
        return {"authorizer": authorizer.masked, "beneficiary": beneficiary.masked,
                "relationship": cmd.relationship, "rule_version": rules.version}

    def _revoke(self, cmd: c.Revoke) -> dict:
        authorizer, beneficiary, _ = self._pair(cmd.authorizer, "authorizer", cmd.beneficiary, "beneficiary")
        mutual_aid.revoke(authorizer, beneficiary, initiated_by=cmd.initiated_by, at=cmd.at)
        self.save(authorizer, beneficiary)
        return {"authorizer": authorizer.masked, "beneficiary": beneficiary.masked, "initiated_by": cmd.initiated_by}

    # --- deductions -------------------------------------------------------------------------
    def _deduct(self, cmd: c.Deduct) -> dict:
        amount_fen = parse_yuan(cmd.amount, "amount")
        patient_id, patient_masked, _ = self.person_ref(cmd.patient, "patient")
        presenter_id = self.person_ref(cmd.presented_by, "presented_by")[:2] if cmd.presented_by else None
        request = deduction.DeductRequest(
            settlement_id=cmd.settlement_id,
            amount_fen=amount_fen,
            category=cmd.category,
            institution=cmd.institution,
            presented_by=presenter_id[0] if presenter_id else None,
            at=cmd.at,
        )
        patient = self.load_person(patient_id, patient_masked, "patient")
        presenter = self.load_person(*presenter_id, "presented_by") if presenter_id else None
        duplicate = self._known_settlement(cmd.settlement_id, deduction.fingerprint(patient_id, request))
        if duplicate is not None:
            return duplicate
        rules = self.rules_for(cmd.at, patient.region)
        authorizers = self.load_many(sorted(patient.authorizers))
        _, settlement, payers = deduction.deduct(patient, presenter, authorizers, request, rules)
        self.save(patient, settlement, *payers)
        return deduction_result(settlement, duplicate=False)

    def _known_settlement(self, settlement_id: str, fingerprint: str) -> dict | None:
        try:
            settlement = self.repository.get(settlement_aggregate_id(settlement_id))
        except AggregateNotFoundError:
            return None
        if settlement.fingerprint != fingerprint:
            raise SettlementConflictError(
                f"settlement_id: {settlement_id} was already settled with different content", field="settlement_id"
            )
        return deduction_result(settlement, duplicate=True)

    def _reverse(self, cmd: c.Reverse) -> dict:
        try:
            settlement = self.repository.get(settlement_aggregate_id(cmd.settlement_id))
        except AggregateNotFoundError:
            raise UnknownSettlementError(f"settlement_id: no deduction {cmd.settlement_id}", field="settlement_id") from None
        patient = self.repository.get(settlement.patient)
        payers = self.load_many(sorted({line.person for line in settlement.lines} - {patient.id}))
        deduction.reverse(settlement, patient, payers, reason=cmd.reason, at=cmd.at)
        self.save(patient, settlement, *payers.values())
        return {"settlement_id": cmd.settlement_id, "patient": patient.masked,
                "refunded": [line_dict(line) for line in settlement.lines],
                "refunded_fen": sum(line.amount_fen for line in settlement.lines)}

    # --- queries (straight from the aggregates) --------------------------------------------
    def get_person(self, raw: str) -> Person:
        pid, masked, _ = self.person_ref(raw, "person")
        try:
            return self.load_person(pid, masked, "person")
        except OperationalError as error:
            raise StorageError(f"database: {one_line(error)}") from None


class RecordedRejection(LedgerError):
    """A refused bind: the rejection is saved as events, and reported like any refusal."""

    def __init__(self, decision: Any, rule_version: str):
        super().__init__(decision.message, rule=decision.rule, rule_version=rule_version)
        self.code = decision.code

    def to_dict(self) -> dict:
        return {**super().to_dict(), "recorded": True}


def line_dict(line: Any) -> dict:
    return {"person": line.masked, "amount_fen": line.amount_fen}


def deduction_result(settlement: Settlement, *, duplicate: bool) -> dict:
    return {
        "settlement_id": settlement.settlement_id,
        "patient": settlement.patient_masked,
        "amount_fen": settlement.amount_fen,
        "lines": [line_dict(line) for line in settlement.lines],
        "out_of_pocket_fen": settlement.out_of_pocket_fen,
        "rule_version": settlement.rule_version,
        "duplicate": duplicate,
        "reversed": settlement.reversed,
    }


def psycopg_race_errors() -> tuple[type[BaseException], ...]:
    """What concurrent CREATE TABLE IF NOT EXISTS can raise on PostgreSQL (a catalogue race)."""
    try:
        from psycopg import errors
    except ImportError:
        return ()
    return (errors.UniqueViolation,)


def psycopg_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.Error,)


def describe_db(db: str) -> str:
    if "@" in db:  # hide a password in a URL
        scheme, rest = db.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return db


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

"""The ledger application: commands in, plain values out.

Each command is *load, decide, one save of every aggregate it touched*, through the unit of
work it is given (infra.eventstore.unit_of_work); the handlers live in infra.eventstore.handlers.
With the direct unit of work the save is atomic and optimistic: if another writer got there
first the event store refuses the whole save (IntegrityError on an aggregate version), and the
command is re-run on fresh state for at most CONFLICT_RETRY_MAX_S, so that concurrent commands
never break a limit or lose money.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, project_aggregate
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, InternalError, OperationalError, PersistenceError

from domain.clock import local_date, local_iso
from domain.command_record import CommandRecord, command_aggregate_id, command_fingerprint
from domain.errors import (
    CommandConflictError,
    ConcurrencyError,
    FutureDatedError,
    LedgerError,
    LedgerInvariantError,
    StorageError,
)
from domain.ids import parse_id_number, person_id, pseudonym
from domain.masking import mask
from domain.person import Person
from domain.rules import Catalogue, RuleSet
from infra.config import Settings, apply_connect_params, ensure_postgres_schema
from infra.eventstore import commands as c
from infra.eventstore.backend import one_line
from infra.eventstore.catalogue import load_catalogue
from infra.eventstore.handlers import HANDLERS, RecordedRejection, load_person
from infra.eventstore.keycheck import verify_pseudonym_key
from infra.eventstore.snapshots import SNAPSHOT_INTERVAL, AggregateSnapshot
from infra.eventstore.unit_of_work import DeferredSaves, DirectUnitOfWork, UnitOfWork

log = logging.getLogger(__name__)
PERSON_REFS_MAX = 100_000  # ID number -> (aggregate id, masked, facts), kept between commands
STARTUP_ATTEMPTS_MAX = 5  # schema creation racing another process
# Another writer saved an aggregate first: decide again on fresh state, after a random wait that
# doubles with each conflict (from CONFLICT_WAIT_BASE_S up to CONFLICT_WAIT_CAP_S), so racing
# writers stop colliding in lockstep. A command gives up with CONCURRENCY_CONFLICT only after it
# has met other writers for CONFLICT_RETRY_MAX_S seconds: a bound in time, not in attempts.
CONFLICT_RETRY_MAX_S = 30.0
CONFLICT_WAIT_BASE_S = 0.005
CONFLICT_WAIT_CAP_S = 0.5


class LedgerApp(Application[UUID]):
    name = "FamilyLedger"
    # audit replay reads <= interval events
    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[Any]], int]] = {Person: SNAPSHOT_INTERVAL}
    snapshot_class = AggregateSnapshot

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue | None = None,
        rules_override: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        """`rules_override`: decide every command under this named rule set (what-if). Such an
        app never stores anything (`save` refuses): what-if answers come from `dry_run`."""
        self.settings = settings
        self._refs: dict[str, tuple[UUID, str, Any]] = {}
        self.clock = clock or utc_now  # the ledger's own time: `recorded_at`, and the limit on `at`
        self.catalogue = catalogue or load_catalogue(settings.rules_dir)
        self.rules_override = rules_override
        if rules_override:
            self.catalogue.named(rules_override, local_date(datetime.now().astimezone()))  # fail fast
        race_errors: tuple[type[BaseException], ...] = (InternalError, IntegrityError, *psycopg_race_errors())
        other_errors: tuple[type[BaseException], ...] = (PersistenceError, OSError, *psycopg_errors())
        for attempt in range(1, STARTUP_ATTEMPTS_MAX + 1):
            try:
                if settings.is_postgres and not settings.read_only:
                    ensure_postgres_schema(settings.db)
                private = settings.backend == "sqlite" and create_private_file(settings.db)
                super().__init__(env=settings.eventsourcing_env())
                if private:
                    make_side_files_private(settings.db)
                verify_pseudonym_key(self.recorder, settings.pseudonym_key, read_only=settings.read_only)
                break
            except race_errors as error:
                # Another process is creating the same schema (PostgreSQL: concurrent CREATE OR
                # REPLACE FUNCTION gives "tuple concurrently updated"): its DDL wins; try again.
                if attempt == STARTUP_ATTEMPTS_MAX:
                    raise StorageError(f"database {describe_db(settings.db)}: {one_line(error)}") from None
                time.sleep(0.05 * attempt)
            except other_errors as error:
                raise StorageError(f"database {describe_db(settings.db)}: {one_line(error)}") from None

    def save(self, *objects: Any, **kwargs: Any) -> Any:
        """What-if never writes: an app deciding under a `rules_override` refuses to store
        anything (its decisions would be recorded under rules that are not in force)."""
        self._refuse_writes_under_what_if()
        return super().save(*objects, **kwargs)

    def _refuse_writes_under_what_if(self) -> None:
        if self.rules_override:
            raise LedgerInvariantError(
                f"what-if rules {self.rules_override!r}: this ledger app decides dry runs "
                "only and never stores anything"
            )

    def take_snapshot(
        self, aggregate_id: UUID, version: int | None = None, projector_func: Any = project_aggregate
    ) -> None:
        """Snapshots are a cache: a snapshot already stored (IntegrityError, e.g. the library's
        retry after a lost reply) or not stored (OperationalError) only costs replay time, and
        must never make a command be decided again or fail after its events are stored."""
        self._refuse_writes_under_what_if()
        try:
            super().take_snapshot(aggregate_id, version, projector_func)
        except (IntegrityError, OperationalError) as error:
            log.info("snapshot of %s at version %s not stored: %s", aggregate_id, version, one_line(error))

    def construct_factory(self, env: Any) -> Any:
        factory = super().construct_factory(env)
        apply_connect_params(factory, self.settings)  # multi-host URLs: target_session_attrs etc.
        return factory

    # --- resolving names ------------------------------------------------------------------
    def person_ref(self, raw: str, field: str) -> tuple[UUID, str, Any]:
        """(aggregate id, masked number, facts) of an ID number; the keyed pseudonym is worked out
        once per number (a bounded memo: a batch names the same people again and again)."""
        known = self._refs.get(raw)
        if known is None:
            number, facts = parse_id_number(raw, field)
            known = (person_id(pseudonym(number, self.settings.pseudonym_key)), mask(number), facts)
            if len(self._refs) >= PERSON_REFS_MAX:
                self._refs.clear()
            self._refs[raw] = known
        return known

    def save_collected(self, events: list[Any], aggregates: list[Any]) -> Any:
        """Store events already collected from these aggregates, in the order given, in one
        transaction, then take the snapshots the library's policy asks for: the library's `save`
        without its per-object protocol checks, which on a group-commit batch of thousands of
        events cost more than the insert itself."""
        self._refuse_writes_under_what_if()
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        processing_event.events.extend(events)
        processing_event.aggregates.update((aggregate.id, aggregate) for aggregate in aggregates)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def rules_for(self, at: datetime, region: str) -> RuleSet:
        day = local_date(at)
        if self.rules_override:
            return self.catalogue.named(self.rules_override, day)
        return self.catalogue.in_force(day, region)

    # --- the front door -------------------------------------------------------------------
    def decide(self, command: Any, uow: UnitOfWork | None = None) -> dict:
        """The answer to one parsed command, decided through `uow` (default: a transaction of
        its own, retried on fresh state when another writer got there first)."""
        if uow is not None:
            return self._decide(command, uow)
        direct = DirectUnitOfWork(self)
        try:
            return _retrying(lambda: self._decide(command, direct))
        except ConcurrencyError as error:  # this command's answer; nothing of it was stored
            return _answer(command.type, command.command_id, error=error)

    def dry_run(self, lines: Any) -> Any:
        """Answers to command lines (str or bytes) decided in memory and never stored: every line
        against one batch unit of work that is never committed, so later lines see earlier ones'
        effects. Each answer is marked `"dry_run": true`. Used for what-if (`apply --rules`)."""
        from infra.groupcommit.unit_of_work import BatchUnitOfWork

        unit = BatchUnitOfWork(self)  # never committed
        for number, raw in enumerate(lines, start=1):
            text = screen(raw)
            if isinstance(text, dict):
                yield {"line": number, **text, "dry_run": True}
                continue
            try:
                answer = unit.run(functools.partial(self.apply_line, text, unit))
            except OperationalError as failure:
                raise StorageError(f"line {number}: database: {one_line(failure)}") from None
            yield {"line": number, **answer, "dry_run": True}

    def apply_line(self, text: str, uow: UnitOfWork | None = None) -> dict:
        """One JSON line in, one answer out; errors become answers, nothing half-done."""
        command = parse_line(text)
        return command if isinstance(command, dict) else self.decide(command, uow)

    def _decide(self, command: Any, uow: UnitOfWork) -> dict:
        """Command id first (a retry gets its original answer), then the handler; the command's
        events and its record go in one save, so either both are stored or neither."""
        fingerprint = None
        if command.command_id is not None:  # only a command with an id is compared and remembered
            fingerprint = command_fingerprint(command.content(), self.settings.pseudonym_key)
            earlier = recorded_answer(uow, command, fingerprint)
            if earlier is not None:
                return earlier
        now = self.clock()
        if command.at > now + timedelta(seconds=self.settings.clock_skew_max_s):
            error = FutureDatedError(
                f"at: {local_iso(command.at)} is later than the ledger's clock allows "
                f"({local_iso(now)} plus {self.settings.clock_skew_max_s} s)",
                field="at",
            )
            return _answer(command.type, command.command_id, error=error)
        scope = DeferredSaves(uow, command.at, now)
        try:
            answer = _answer(command.type, command.command_id, result=HANDLERS[command.type](self, command, scope))
        except RecordedRejection as error:  # a refused bind: its events are stored like a success's
            answer = _answer(command.type, command.command_id, error=error)
        except LedgerError as error:  # nothing is recorded, so a retry is decided again
            return _answer(command.type, command.command_id, error=error)
        record = None
        if fingerprint is not None:
            record = CommandRecord.record(
                command_id=command.command_id,
                command_type=command.type,
                fingerprint=fingerprint,
                result=answer,
                at=command.at,
            )
        scope.release(record)
        return answer

    # --- queries (straight from the aggregates) --------------------------------------------
    def get_person(self, raw: str) -> Person:
        pid, masked, _ = self.person_ref(raw, "person")
        try:
            return load_person(DirectUnitOfWork(self), pid, masked, "person")
        except OperationalError as error:
            raise StorageError(f"database: {one_line(error)}") from None


def recorded_answer(uow: UnitOfWork, command: Any, fingerprint: str) -> dict | None:
    """The original answer to this command id, marked as a duplicate; None if the id is new."""
    try:
        record = uow.get(command_aggregate_id(command.command_id))
    except AggregateNotFoundError:
        return None
    if record.fingerprint != fingerprint:
        error = CommandConflictError("command_id: already used for a command with other content", field="command_id")
        return _answer(command.type, command.command_id, error=error)
    first = {key: record.result[key] for key in ("ok", "command", "command_id")}  # the usual order
    return first | record.result | {"duplicate": True}


def _answer(
    kind: str | None, command_id: str | None, *, result: dict | None = None, error: LedgerError | None = None
) -> dict:
    answer: dict[str, Any] = {"ok": error is None, "command": kind}
    if command_id is not None:
        answer["command_id"] = command_id
    if error is not None:
        answer["error"] = error.to_dict()
    return answer | (result or {})


def utc_now() -> datetime:
    return datetime.now(UTC)


EMPTY_LINE_ERROR = {"code": "INVALID_INPUT", "message": "line: empty", "field": "line"}


def screen(raw: str | bytes) -> str | dict:
    """A line ready to decide (text, stripped), or the answer refusing it before it is parsed:
    empty, too long or not UTF-8. The one place every way in (file, stdin, HTTP) screens lines."""
    text = c.screen_line(raw)
    if isinstance(text, str) and text:
        return text
    refusal = dict(EMPTY_LINE_ERROR) if isinstance(text, str) else text.to_dict()
    return {"ok": False, "command": None, "error": refusal}


def parse_line(text: str) -> Any:
    """The parsed command of a line, or the answer refusing the line as a whole."""
    try:
        return c.parse_command(text)
    except LedgerError as error:
        return answer_refused(text, error)


def answer_refused(text: str, error: LedgerError) -> dict:
    """The answer to a line refused as a whole (bad input, or given up on)."""
    return _answer(c.command_type(text), c.raw_command_id(text), error=error)


def conflict_wait_s(conflicts: int) -> float:
    """How long to wait after the `conflicts`-th conflict in a row (random, so writers spread)."""
    return random.uniform(0, min(CONFLICT_WAIT_CAP_S, CONFLICT_WAIT_BASE_S * 2 ** min(conflicts, 16)))


def _retrying(attempt: Callable[[], dict]) -> dict:
    deadline = time.monotonic() + CONFLICT_RETRY_MAX_S
    conflicts = 0
    while True:
        try:
            return attempt()
        except IntegrityError:
            conflicts += 1
            if time.monotonic() >= deadline:
                raise ConcurrencyError(
                    f"other writers kept changing the same accounts for {CONFLICT_RETRY_MAX_S:.0f} s"
                ) from None
            time.sleep(conflict_wait_s(conflicts))
        except OperationalError as error:
            raise StorageError(f"database: {one_line(error)}") from None


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


SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def create_private_file(path: str) -> bool:
    """Create the SQLite file readable by its owner only (0600, whatever the umask), before the
    library opens it. True when the file is (now) owner-only; an existing file keeps its mode."""
    if path.startswith("file:") or path == ":memory:":
        return False
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
    except OSError:  # a missing directory etc.: the library reports it as STORAGE_ERROR
        return False
    os.close(fd)
    return True


def make_side_files_private(path: str) -> None:
    """The -wal/-shm (or -journal) files of an owner-only database, owner-only too (SQLite gives
    them the database file's mode, but not on every platform and not to files left by others)."""
    for suffix in SQLITE_SIDE_FILES:
        with contextlib.suppress(OSError):  # not there (yet), or not ours
            os.chmod(path + suffix, 0o600)


def describe_db(db: str) -> str:
    if "@" in db:  # hide a password in a URL
        scheme, rest = db.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return db

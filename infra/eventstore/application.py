"""The ledger's event-store application: the library's `Application` on the store the settings
name, with the rule catalogue, the ledger's clock, and the names people are known by.

Commands are decided by the write path (infra.writing), which loads and saves the aggregates
through this application; reads load them through its repository. The application itself
decides nothing, so the write path, the audit and the what-if all share one definition of how
an event is stored, snapshotted and loaded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, ClassVar, NamedTuple, Protocol, cast
from uuid import UUID

import psycopg
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, project_aggregate
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import (
    IntegrityError,
    InternalError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    Tracking,
)

from domain.clock import local_date
from domain.command_record import command_record_ids
from domain.errors import LedgerInvariantError, StorageError, UnknownPersonError
from domain.ids import IdFacts, parse_id_number, person_id, pseudonym
from domain.masking import mask
from domain.person import Person
from domain.rules import Catalogue, RuleSet
from infra.eventstore.keycheck import verify_pseudonym_key
from infra.eventstore.rule_files import load_catalogue
from infra.eventstore.snapshots import SNAPSHOT_INTERVAL, AggregateSnapshot, SealedSnapshots
from infra.row_macs import RowMacs
from infra.settings import Settings
from infra.storage.base import LedgerRecorder
from infra.storage.errors import one_line
from infra.storage.event_macs import EventMacs, install_macs_from, stored_macs_from
from infra.storage.mapper import PydanticMapper
from infra.storage.meta_positions import COMMAND_IDS_SCOPED_FROM, install_position, stored_position
from infra.storage.opening import apply_connect_params, make_side_files_private, persistence_env, prepare_store
from infra.store_urls import describe_db

log = logging.getLogger(__name__)
PERSON_REFS_MAX = 100_000  # ID number -> (aggregate id, masked, facts), kept between commands
RULES_MEMO_MAX = 10_000  # (day, region) -> the rule set in force
STARTUP_ATTEMPTS_MAX = 5  # schema creation racing another process
# What concurrent CREATE ... IF NOT EXISTS on PostgreSQL can raise when another process creates
# the same schema, table or function at the same moment ("tuple concurrently updated", "relation
# already exists", a unique violation in the catalogue): its DDL wins, and starting again works.
_DDL_RACES = (
    psycopg.errors.UniqueViolation,
    psycopg.errors.DuplicateTable,
    psycopg.errors.DuplicateObject,
    psycopg.errors.DuplicateSchema,
)


class PersonRef(NamedTuple):
    """A person as a command or a query names them: the aggregate id, the masked number, and
    what the ID number itself says (region, birth date, sex)."""

    id: UUID
    masked: str
    facts: IdFacts


class Directory(Protocol):
    """Where a federation's people live (infra.federation.ledgers): the province of the ledger a
    person is enrolled in, or None when enrolled in none."""

    def province_of(self, person: UUID) -> str | None: ...

    def home_of(self, command: Any) -> str:
        """The province whose ledger decides `command` (UNKNOWN_PROVINCE if none)."""
        ...


class LedgerApp(Application[UUID]):
    name = "FamilyLedger"
    # audit replay reads <= interval events
    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[Any]], int]] = {Person: SNAPSHOT_INTERVAL}
    snapshot_class = AggregateSnapshot
    recorder: LedgerRecorder  # the store's adapter (infra.storage)
    records_before_scoping = True  # may hold global command records (scope_command_ids)
    command_ids_scoped_from: int | None = None
    command_scope_problem: str | None = None

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue | None = None,
        rules_override: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        """`rules_override`: decide every command under this named rule set (what-if). Such an
        app never stores anything (`save` refuses): what-if answers come from a dry run."""
        self.settings = settings
        self.directory: Directory | None = None  # set when the ledger is one of a federation
        self._refs: dict[str, PersonRef] = {}
        self._rules: dict[tuple[int, str | None, date, str], RuleSet] = {}
        self.clock = clock or utc_now  # the ledger's own time: `recorded_at`, and the limit on `at`
        self.catalogue = catalogue or load_catalogue(settings.rules_dir)
        self.rules_override = rules_override
        if rules_override:
            self.catalogue.named(rules_override, local_date(self.clock()))  # fail fast
        for attempt in range(1, STARTUP_ATTEMPTS_MAX + 1):
            try:
                self._open(settings)
                return
            except (PersistenceError, OSError, psycopg.Error) as error:
                if not _startup_race(error) or attempt == STARTUP_ATTEMPTS_MAX:
                    raise StorageError(f"database {describe_db(settings.db)}: {one_line(error)}") from None
                time.sleep(0.05 * attempt)

    def _open(self, settings: Settings) -> None:
        """Open the store; on any failure close what was opened (its connection pool), so that
        an attempt retried after another process's DDL leaves no connections behind."""
        private = prepare_store(settings)
        try:
            super().__init__(env=persistence_env(settings))
            if private:
                make_side_files_private(settings.db)
            verify_pseudonym_key(self.recorder, settings.pseudonym_key, read_only=settings.read_only)
            self._seal_events(settings)
            self.scope_command_ids()
        except BaseException:
            factory = getattr(self, "factory", None)
            if factory is not None:
                factory.close()
            raise

    def _seal_events(self, settings: Settings) -> None:
        """Every event stored gets its MAC and every event loaded is checked (infra.storage.event_macs)."""
        if not settings.read_only:
            install_macs_from(self.recorder, settings.pseudonym_key)
        self.event_macs_from, self.event_macs_problem = stored_macs_from(self.recorder, settings.pseudonym_key)
        macs = EventMacs(settings.pseudonym_key)
        macs.strict = self.event_macs_from == 1
        cast(PydanticMapper, self.mapper).macs = macs

    def scope_command_ids(self) -> None:
        """Whether this store may hold command records written before ids were scoped to their
        tenant (infra.storage.meta_positions): only a store this version created, proven by
        the MAC of its record, holds none; a writer records the position on first opening."""
        key = self.settings.pseudonym_key
        if not self.settings.read_only:
            install_position(self.recorder, key, COMMAND_IDS_SCOPED_FROM)
        self.command_ids_scoped_from, proven = stored_position(self.recorder, key, COMMAND_IDS_SCOPED_FROM)
        self.command_scope_problem = None if proven else (
            f"ledger_meta {COMMAND_IDS_SCOPED_FROM}: its MAC does not verify (changed by SQL)"
        )  # fmt: skip
        self.records_before_scoping = not (proven and self.command_ids_scoped_from == 1)

    def command_record_ids(self, command_id: str, tenant: str) -> tuple[UUID, ...]:
        """Where this tenant's command id may be recorded in this store (domain.command_record)."""
        return command_record_ids(command_id, tenant, self.records_before_scoping)

    @property
    def event_macs(self) -> EventMacs:
        macs = cast(PydanticMapper, self.mapper).macs
        assert macs is not None  # set when the store was opened
        return macs

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

    def construct_snapshot_store(self) -> SealedSnapshots:
        """Snapshots sealed with their row MAC; an unproven one is never used (SealedSnapshots)."""
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        mapper = PydanticMapper(transcoder=self.mapper.transcoder)  # snapshots carry their own MAC
        return SealedSnapshots(mapper, recorder, RowMacs(self.settings.pseudonym_key, "snapshot"))

    @property
    def snapshot_refusals(self) -> int:
        """Snapshots refused since this application started (forged, edited or unsealed)."""
        return self.snapshots.refusals if isinstance(self.snapshots, SealedSnapshots) else 0

    def construct_factory(self, env: Any) -> Any:
        factory = super().construct_factory(env)
        apply_connect_params(factory, self.settings)  # multi-host URLs: target_session_attrs etc.
        return factory

    # --- resolving names ------------------------------------------------------------------
    def person_ref(self, raw: str, field: str) -> PersonRef:
        """The person an ID number names (INVALID_ID_NUMBER naming `field` if it is none); the
        keyed pseudonym is worked out once per number (a bounded memo: a batch names the same
        people again and again)."""
        known = self._refs.get(raw)
        if known is None:
            number, facts = parse_id_number(raw, field)
            known = PersonRef(person_id(pseudonym(number, self.settings.pseudonym_key)), mask(number), facts)
            if len(self._refs) >= PERSON_REFS_MAX:
                self._refs.clear()
            self._refs[raw] = known
        return known

    def rules_for(self, at: datetime, region: str) -> RuleSet:
        """The rule set in force (or the what-if one) on `at`'s day for `region`. Resolving it
        builds a variant's rule set anew each time, so it is remembered per (catalogue, day,
        region): rule sets are immutable and the catalogue is fixed for the app's life."""
        day = local_date(at)
        key = (id(self.catalogue), self.rules_override, day, region)
        known = self._rules.get(key)
        if known is None:
            if self.rules_override:
                known = self.catalogue.named(self.rules_override, day)
            else:
                known = self.catalogue.in_force(day, region)
            if len(self._rules) >= RULES_MEMO_MAX:
                self._rules.clear()
            self._rules[key] = known
        return known

    # --- storing and loading --------------------------------------------------------------
    def save_collected(self, events: list[Any], aggregates: list[Any], tracking: Tracking | None = None) -> Any:
        """Store events already collected from these aggregates, in the order given, in one
        transaction (with `tracking`, the position of what they deliver, in the same one), then
        take the snapshots the library's policy asks for: the library's `save` without its
        per-object protocol checks, which on a group-commit batch of thousands of events cost
        more than the insert itself."""
        self._refuse_writes_under_what_if()
        processing_event: ProcessingEvent[UUID] = ProcessingEvent(tracking=tracking)
        processing_event.events.extend(events)
        processing_event.aggregates.update((aggregate.id, aggregate) for aggregate in aggregates)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def get_person(self, raw: str) -> Person:
        """The current state of the person with ID number `raw` (UNKNOWN_PERSON if not enrolled)."""
        ref = self.person_ref(raw, "person")
        try:
            person: Person = self.repository.get(ref.id)
        except AggregateNotFoundError:
            raise UnknownPersonError(f"person: no enrolled person {ref.masked}", field="person") from None
        except OperationalError as error:
            raise StorageError(f"database: {one_line(error)}") from None
        return person


def utc_now() -> datetime:
    return datetime.now(UTC)


def _startup_race(error: BaseException) -> bool:
    """Whether `error` is another process's concurrent DDL (see _DDL_RACES), directly or as the
    cause of the library's error."""
    if isinstance(error, (InternalError, IntegrityError, *_DDL_RACES)):
        return True
    cause = error.__cause__ or error.__context__
    return isinstance(error, ProgrammingError) and isinstance(cause, _DDL_RACES)

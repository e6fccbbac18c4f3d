"""The one way into the write path: a batch of submissions decided in memory, in arrival order,
and stored in one transaction (a batch of one is one transaction per command), with one retry
policy.

The PostgreSQL recorder serialises writers with a table lock per insert transaction, so one
flush per command caps throughput at the database's commit rate. Here a batch is decided
against one `BatchUnitOfWork` (infra.writing.units) and stored with one save; aggregates the
batch needs are loaded in bulk beforehand (infra.writing.prefetch). Answers are returned only
once the batch is stored. Nothing is half-applied.

The retry policy (a loop, no recursion): an IntegrityError at commit time means another writer
changed an aggregate the batch used, so the batch is decided again on fresh state after a
growing random wait; from the second conflict on it is split in halves, each stored on its own
and decided on the state its predecessors left, so the commands that collide are isolated, the
rest go through, and the answers equal one-at-a-time processing. A command meets other writers
for at most CONFLICT_RETRY_MAX_S before it is answered CONCURRENCY_CONFLICT (nothing of it
stored): a bound in time, not in attempts.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import cast

from eventsourcing.persistence import IntegrityError, OperationalError, Tracking

from domain.errors import ConcurrencyError, StorageError
from infra.collector import collector_paused
from infra.commands.answers import Answer, answer
from infra.commands.base import CommandModel
from infra.commands.parsing import Parsed
from infra.eventstore.application import LedgerApp
from infra.roles import LOCAL_TENANT, Principal
from infra.storage.errors import one_line
from infra.storage.postgres_inserts import CommitOutcomeUnknownError
from infra.writing.deciding import decide
from infra.writing.prefetch import Prefetcher
from infra.writing.units import BatchUnitOfWork

BATCH_SIZE_DEFAULT = 500
BATCH_SIZE_MAX = 10_000
# After a conflict: a random wait that doubles with each conflict (from CONFLICT_WAIT_BASE_S up
# to CONFLICT_WAIT_CAP_S), so racing writers stop colliding in lockstep.
CONFLICT_RETRY_MAX_S = 30.0
CONFLICT_WAIT_BASE_S = 0.005
CONFLICT_WAIT_CAP_S = 0.5


@dataclass(frozen=True)
class Submission:
    """One line to answer: its typed command (or the answer refusing it at the edge), and who
    sent it (None: the operator's CLI)."""

    parsed: Parsed
    sender: Principal | None = None


def conflict_wait_s(conflicts: int) -> float:
    """How long to wait after the `conflicts`-th conflict in a row (random, so writers spread)."""
    return random.uniform(0, min(CONFLICT_WAIT_CAP_S, CONFLICT_WAIT_BASE_S * 2 ** min(conflicts, 16)))


class WritePath:
    """Batches of submissions in, one answer per submission out, in order.

    `prefetcher` loads a batch's aggregates in bulk and may keep committed ones for the next
    batch (infra.writing.prefetch); without one, aggregates are loaded one at a time."""

    def __init__(self, app: LedgerApp, prefetcher: Prefetcher | None = None):
        self.app = app
        self.prefetcher = prefetcher

    def write(self, submissions: Sequence[Submission], tracking: Tracking | None = None) -> list[Answer]:
        """Decide and store, with the retry policy of the module doc. `tracking`: the position of
        what this batch delivers, stored in its transaction (one part only: never split). The
        cyclic garbage collector waits until the batch is done (infra.collector)."""
        return self.write_stored(submissions, tracking)[0]

    def write_stored(
        self, submissions: Sequence[Submission], tracking: Tracking | None = None
    ) -> tuple[list[Answer], int | None]:
        """`write`, with the highest notification id the batch stored (None: it stored nothing),
        which is where its answers are stored up to: the insert returns it, so no query asks."""
        with collector_paused():
            return self._write(submissions, tracking)

    def _write(self, submissions: Sequence[Submission], tracking: Tracking | None) -> tuple[list[Answer], int | None]:
        answers: list[Answer | None] = [None] * len(submissions)
        stored_up_to: int | None = None
        deadline = time.monotonic() + CONFLICT_RETRY_MAX_S
        pending: deque[tuple[int, int, int]] = deque([(0, len(submissions), 0)])  # (start, stop, conflicts)
        while pending:
            start, stop, conflicts = pending.popleft()
            part = submissions[start:stop]
            try:
                answers[start:stop], position = self._commit_once(part, tracking)
                if position is not None:  # parts are stored in order: the last one's is the highest
                    stored_up_to = position
                continue
            except IntegrityError:
                conflicts += 1
            if stop - start == 1 and time.monotonic() >= deadline:
                answers[start] = _given_up(part[0])
                continue
            time.sleep(conflict_wait_s(conflicts))
            if stop - start > 1 and tracking is None and (conflicts >= 2 or time.monotonic() >= deadline):
                half = start + (stop - start) // 2
                pending.extendleft([(half, stop, 0), (start, half, 0)])  # the first half first
            else:
                pending.appendleft((start, stop, conflicts))
        return [a for a in answers if a is not None], stored_up_to

    def dry_run(self, submissions: Iterable[Submission]) -> Iterable[Answer]:
        """Answers decided in memory and never stored: every submission against one unit of work
        that is never committed, so later ones see earlier ones' effects; each marked
        `"dry_run": true`. Used for what-if (`apply --rules`)."""
        unit = BatchUnitOfWork(self.app)  # never committed
        for submission in submissions:
            try:
                result = self._decide_one(submission, unit)
            except OperationalError as failure:
                raise StorageError(f"database: {one_line(failure)}") from None
            yield {**result, "dry_run": True}

    def _commit_once(self, part: Sequence[Submission], tracking: Tracking | None) -> tuple[list[Answer], int | None]:
        try:
            results, unit = self._decide(part)
            position = unit.commit(tracking)
        except CommitOutcomeUnknownError as error:
            self._forget()
            raise StorageError(
                f"outcome unknown, stored or not: re-send them with their command ids ({one_line(error)})"
            ) from None
        except OperationalError as error:
            self._forget()
            raise StorageError(f"not stored: database: {one_line(error)}") from None
        except BaseException:
            self._forget()
            raise
        if self.prefetcher is not None:
            self.prefetcher.committed(unit)
        return results, position

    def _decide(self, part: Sequence[Submission]) -> tuple[list[Answer], BatchUnitOfWork]:
        typed = [s for s in part if isinstance(s.parsed, CommandModel)]
        commands = [cast(CommandModel, s.parsed) for s in typed]
        tenants = [s.sender.tenant if s.sender is not None else LOCAL_TENANT for s in typed]
        prefetcher = self.prefetcher
        prefetched, missing = prefetcher(self.app, commands, tenants) if prefetcher is not None else ({}, set())
        unit = BatchUnitOfWork(self.app, prefetched, missing)
        return [self._decide_one(submission, unit) for submission in part], unit

    def _decide_one(self, submission: Submission, unit: BatchUnitOfWork) -> Answer:
        parsed = submission.parsed
        if not isinstance(parsed, CommandModel):
            return parsed  # refused at the edge
        return unit.run(partial(decide, self.app, parsed, unit, submission.sender))

    def _forget(self) -> None:
        if self.prefetcher is not None:
            self.prefetcher.forget()


def _given_up(submission: Submission) -> Answer:
    error = ConcurrencyError(f"other writers kept changing the same accounts for {CONFLICT_RETRY_MAX_S:.0f} s")
    parsed = submission.parsed
    if isinstance(parsed, CommandModel):
        return answer(parsed.type, parsed.command_id, error=error)
    return parsed

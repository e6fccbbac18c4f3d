"""The relay: delivers every cross-ledger step of cross-province quotas, exactly once.

A process like the views' runner (infra.readmodels.runner): for each pair of ledgers (source,
destination) it reads the source's log after the position the *destination* holds for it (the
library's tracking table, application name `relay-<source province>`), turns each remote half
into its step command (infra.federation.steps), and writes a page of steps through the
destination's one write path with the page's last position as `Tracking`, so the steps and the
position commit in one transaction (the library's ProcessRecorder). kill -9 at any moment: the
next run starts from what the destination committed; a step delivered twice anyway (two relays)
is answered as a duplicate by its derived command id. A ledger that cannot be reached is skipped
for this round (its error logged and counted); the other pairs go on, and it catches up later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError, StoredEvent, Tracking

from domain.errors import LedgerError, LedgerInvariantError
from infra.federation.ledgers import FederatedLedgers
from infra.federation.steps import STEP_TOPICS, step_of
from infra.readmodels.runner import POLL_INTERVAL_MAX_S, POLL_INTERVAL_MIN_S
from infra.storage.errors import one_line
from infra.writing.write_path import Submission

log = logging.getLogger(__name__)
PAGE_SIZE_DEFAULT = 500


def tracking_name(source: str) -> str:
    return f"relay-{source}"


@dataclass
class RelayRound:
    delivered: int = 0  # steps newly applied
    duplicates: int = 0  # steps the destination had already answered
    refused: list[dict] = field(default_factory=list)  # answers that were not ok (a defect: logged)
    unreachable: dict[str, str] = field(default_factory=dict)  # province -> error, this round
    lag_ms: list[float] = field(default_factory=list)  # recorded -> delivered, per step

    def add(self, other: RelayRound) -> None:
        self.delivered += other.delivered
        self.duplicates += other.duplicates
        self.refused += other.refused
        self.unreachable |= other.unreachable
        self.lag_ms += other.lag_ms

    def as_dict(self) -> dict:
        return {
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "refused": self.refused,
            "unreachable": self.unreachable,
        }


class Relay:
    def __init__(
        self,
        ledgers: FederatedLedgers,
        *,
        page_size: int = PAGE_SIZE_DEFAULT,
        before_commit: Callable[[str, str, int], None] | None = None,
    ):
        self.ledgers = ledgers
        self.page_size = page_size
        self.before_commit = before_commit  # a test hook: (source, destination, position) before a page is written

    def position(self, source: str, destination: str) -> int:
        """Where the destination has received the source's log up to."""
        recorder = self.ledgers.ledger(destination).app.recorder
        return recorder.max_tracking_id(tracking_name(source)) or 0

    def pairs(self) -> list[tuple[str, str]]:
        provinces = self.ledgers.provinces
        return [(source, destination) for source in provinces for destination in provinces if source != destination]

    def pending(self) -> int:
        """Steps recorded but not yet delivered, over all pairs (what reconcile reports)."""
        return sum(len(steps) for _, _, steps in self._all_pending())

    def _all_pending(self) -> list[tuple[str, str, list]]:
        found = []
        for source, destination in self.pairs():
            after = self.position(source, destination)
            steps = [s for s in self._steps(source, after) if s[1] == destination]
            found.append((source, destination, steps))
        return found

    def run_once(self) -> RelayRound:
        """Deliver everything pending now, pair by pair; a pair whose ledger fails is skipped."""
        total = RelayRound()
        for source, destination in self.pairs():
            try:
                total.add(self._deliver_pair(source, destination))
            except (PersistenceError, OSError, LedgerError) as error:
                where = destination if self._reachable(source) else source
                total.unreachable[where] = one_line(error)
                log.warning("relay %s -> %s: %s", source, destination, one_line(error))
        return total

    def _reachable(self, province: str) -> bool:
        try:
            self.ledgers.ledger(province).app.recorder.max_notification_id()
        except (PersistenceError, OSError, LedgerError):
            return False
        return True

    def follow(
        self, interval_s: float, stop: threading.Event, on_round: Callable[[RelayRound], None] | None = None
    ) -> None:
        interval_s = min(max(interval_s, POLL_INTERVAL_MIN_S), POLL_INTERVAL_MAX_S)
        while not stop.is_set():
            done = self.run_once()
            if on_round is not None and (done.delivered or done.unreachable):
                on_round(done)
            stop.wait(interval_s)

    # --- one pair -----------------------------------------------------------------------
    def _deliver_pair(self, source: str, destination: str) -> RelayRound:
        done = RelayRound()
        after = self.position(source, destination)
        while True:
            rows = self._source_rows(source, after)
            if not rows:
                return done
            last = rows[-1][0]
            steps = [
                (command, recorded) for _, to, command, recorded in self._decode(source, rows) if to == destination
            ]
            if steps:
                self._write(source, destination, steps, last, done)
            elif last > after:
                self._track_only(source, destination, last)
            after = last
            if len(rows) < self.page_size:
                return done

    def _source_rows(self, source: str, after: int) -> list:
        return self.ledgers.ledger(source).app.recorder.log_rows(after, self.page_size, STEP_TOPICS)

    def _steps(self, source: str, after: int) -> list:
        found, position = [], after
        while True:
            rows = self._source_rows(source, position)
            found += self._decode(source, rows)
            if len(rows) < self.page_size:
                return found
            position = rows[-1][0]

    def _decode(self, source: str, rows: list) -> list[tuple[int, str, Any, float | None]]:
        app = self.ledgers.ledger(source).app
        decoded = []
        for position, originator_id, version, topic, state in rows:
            if state is None:
                continue
            stored = StoredEvent(
                originator_id=UUID(str(originator_id)), originator_version=version, topic=topic, state=state
            )
            event: Any = app.mapper.to_domain_event(stored)  # the event's MAC is checked here
            step = step_of(event, source)
            if step is not None:
                recorded = event.recorded_at.timestamp() if event.recorded_at else None
                decoded.append((position, step[0], step[1], recorded))
        return decoded

    def _write(self, source: str, destination: str, steps: list, last: int, done: RelayRound) -> None:
        ledger = self.ledgers.ledger(destination)
        if self.before_commit is not None:
            self.before_commit(source, destination, last)
        tracking = Tracking(tracking_name(source), last)
        answers = ledger.commands.execute([Submission(command) for command, _ in steps], tracking)
        now = time.time()
        for (command, recorded), result in zip(steps, answers, strict=True):
            if not result["ok"]:
                done.refused.append(result)
                log.error("relay %s -> %s: step %s refused: %s", source, destination, command.command_id, result)
            elif result.get("duplicate"):
                done.duplicates += 1
            else:
                done.delivered += 1
                if recorded is not None:
                    done.lag_ms.append(max(0.0, (now - recorded) * 1000))
        if done.refused and any(r["error"]["code"] == "STORAGE_ERROR" for r in done.refused):
            raise LedgerInvariantError("relay: a step was not stored")

    def _track_only(self, source: str, destination: str, last: int) -> None:
        """Nothing for this destination in the page: its position moves on (no events)."""
        recorder = self.ledgers.ledger(destination).app.recorder
        if (recorder.max_tracking_id(tracking_name(source)) or 0) < last:
            recorder.insert_tracking(Tracking(tracking_name(source), last))

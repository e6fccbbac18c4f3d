"""Commands, for every front end: typed submissions in, one answer each out, through the one
write path (infra.writing). The service's writers (a thread or a child process gathering HTTP
requests into group commits) and the CLI's `apply` both end here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from eventsourcing.persistence import Tracking

from domain.errors import WrongLedgerError
from infra.commands.answers import Answer
from infra.commands.base import CommandModel
from infra.commands.table import check_sender
from infra.eventstore.application import LedgerApp
from infra.roles import Principal
from infra.writing.prefetch import Prefetcher
from infra.writing.streams import BATCH_WAIT_MS_DEFAULT, dry_run_stream, submission_of, write_stream
from infra.writing.write_path import Submission, WritePath


class CommandService:
    def __init__(self, app: LedgerApp, *, prefetch: bool = True):
        self.app = app
        self.writer = WritePath(app, Prefetcher() if prefetch else None)

    def check(self, principal: Principal, command: CommandModel) -> None:
        """Whether this key may send this command (FORBIDDEN otherwise), before it is queued.
        The write path checks again, and the handler checks what depends on ledger state."""
        check_sender(principal, command)
        self.check_province(command)

    def check_province(self, command: CommandModel) -> None:
        """A ledger of a federation decides only about its own province's people: a command
        about another's is WRONG_LEDGER, naming the province whose ledger decides it."""
        directory, province = self.app.directory, self.app.settings.province
        if directory is None or province is None:
            return
        home = directory.home_of(command)
        if home != province:
            raise WrongLedgerError(
                f"this is the ledger of province {province}; province {home}'s ledger decides this command",
                province=home,
            )

    def execute(self, submissions: Sequence[Submission], tracking: Tracking | None = None) -> list[Answer]:
        """One group commit: every answer once the batch is stored."""
        return self.writer.write(submissions, tracking)

    def execute_stored(self, submissions: Sequence[Submission]) -> tuple[list[Answer], int]:
        """`execute`, and where its answers are stored up to: the highest notification id the
        batch stored, which its insert returned, else (it stored nothing: every answer a refusal
        or a retry's) the end of the log, which holds whatever an earlier answer stored."""
        answers, stored_up_to = self.writer.write_stored(submissions)
        return answers, self._or_head(stored_up_to)

    def execute_each(self, submissions: Sequence[Submission]) -> tuple[list[Answer], int]:
        """Each submission as `execute_alone` decides it, and where the answers are stored up to
        (as `execute_stored` says it): the comparison mode of `ledger serve --no-group-commit`."""
        answers, stored_up_to = [], None
        for submission in submissions:
            one, position = self._alone(submission)
            answers.append(one)
            stored_up_to = position if position is not None else stored_up_to
        return answers, self._or_head(stored_up_to)

    def _or_head(self, stored_up_to: int | None) -> int:
        return stored_up_to if stored_up_to is not None else self.position()

    def execute_alone(self, submission: Submission) -> Answer:
        """One command in a transaction of its own, loaded without bulk reads (the comparison
        mode of the benchmarks and of `ledger serve --no-group-commit`)."""
        return self._alone(submission)[0]

    def _alone(self, submission: Submission) -> tuple[Answer, int | None]:
        (one,), position = WritePath(self.app).write_stored([submission])
        return one, position

    def apply_line(self, raw: str | bytes) -> Answer:
        """One command line, as `ledger apply --batch-size 1` answers it (a transaction of its own)."""
        return self.execute_alone(submission_of(raw))

    def stream(
        self, lines: Iterable[str | bytes], *, batch_size: int, wait_ms: int = BATCH_WAIT_MS_DEFAULT
    ) -> Iterator[Answer]:
        """Numbered answers to a stream of command lines: group commits of `batch_size`, with the
        batches' aggregates loaded in bulk; a batch size of 1 is one plain transaction per command."""
        writer = self.writer if batch_size > 1 else WritePath(self.app)
        return write_stream(writer, lines, batch_size=batch_size, wait_ms=wait_ms)

    def dry_run(self, lines: Iterable[str | bytes]) -> Iterator[Answer]:
        """Numbered what-if answers, decided in memory and never stored."""
        return dry_run_stream(WritePath(self.app), lines)

    def position(self) -> int:
        """The end of the log: where the answers just given are stored up to."""
        return self.app.recorder.max_notification_id() or 0

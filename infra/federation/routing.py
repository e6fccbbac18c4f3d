"""`ledger --federation F apply`: each line to the ledger of the province of the person it is
about (FederatedLedgers.home_of), in group commits per ledger, one numbered answer per line, in
input order. A line whose province has no ledger is answered UNKNOWN_PROVINCE; every answer of a
routed line names the `province` that decided it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from domain.errors import LedgerError, StorageError
from infra.commands.answers import Answer, answer
from infra.commands.base import CommandModel
from infra.federation.ledgers import FederatedLedgers
from infra.writing.streams import BATCH_WAIT_MS_DEFAULT, batches, submission_of
from infra.writing.write_path import Submission


def route(ledgers: FederatedLedgers, submissions: list[Submission]) -> list[Answer]:
    """Answers to one batch: its lines grouped by home ledger, each group one group commit."""
    answers: list[Answer | None] = [None] * len(submissions)
    groups: dict[str, list[int]] = {}
    for index, submission in enumerate(submissions):
        parsed = submission.parsed
        if not isinstance(parsed, CommandModel):
            answers[index] = parsed
            continue
        try:
            province = ledgers.home_of(parsed)
            groups.setdefault(province, []).append(index)
            if parsed.type == "enroll":  # later lines of the batch about this person go there too
                ledgers.remember(ledgers.ref(parsed.person, "person").id, province)  # type: ignore[attr-defined]  # an Enroll
        except LedgerError as error:
            answers[index] = answer(parsed.type, parsed.command_id, error=error)
    for province, indexes in groups.items():
        written = ledgers.ledger(province).commands.writer.write([submissions[i] for i in indexes])
        for index, result in zip(indexes, written, strict=True):
            answers[index] = {**result, "province": province}
            _remember_enrolment(ledgers, submissions[index], result, province)
    return [a for a in answers if a is not None]


def _remember_enrolment(ledgers: FederatedLedgers, submission: Submission, result: Answer, province: str) -> None:
    """An enrolment refused (but not as already enrolled) leaves the person homeless again."""
    parsed = submission.parsed
    refused = not result["ok"] and result["error"]["code"] != "ALREADY_ENROLLED"
    if isinstance(parsed, CommandModel) and parsed.type == "enroll" and refused:
        ledgers.forget(ledgers.ref(parsed.person, "person").id)  # type: ignore[attr-defined]  # an Enroll


def route_stream(
    ledgers: FederatedLedgers, lines: Iterable[str | bytes], *, batch_size: int, wait_ms: int = BATCH_WAIT_MS_DEFAULT
) -> Iterator[Answer]:
    number = 0
    for batch in batches(lines, batch_size, wait_ms):
        try:
            answers = route(ledgers, [submission_of(raw) for raw in batch])
        except StorageError as error:
            raise StorageError(f"lines {number + 1}-{number + len(batch)}: {error.message}") from None
        for result in answers:
            number += 1
            yield {"line": number, **result}

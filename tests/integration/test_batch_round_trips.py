"""What one group commit sends to PostgreSQL, where every round trip is time that the server's
writer (and each of its requests) waits on a shared 2-core machine: the prefetch's reads
outside any transaction (READ COMMITTED gives every statement its own snapshot either way, so a
BEGIN and a ROLLBACK around them bought nothing), the insert's one transaction, and the log head
taken from the insert's own notification ids rather than asked for again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from infra.core.bootstrap import open_ledger
from infra.service.writer import store_batch
from infra.writing.streams import submission_of
from tests.support import id_number, line
from tests.support.backends import settings_for

PEOPLE = [id_number(seq=seq) for seq in range(40, 46)]


@contextmanager
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Every statement (cursor.execute) and transaction command (BEGIN, COMMIT, ROLLBACK) sent,
    in order, as (kind, first word or two)."""
    seen: list[tuple[str, str]] = []
    execute, exec_command = psycopg.Cursor.execute, psycopg.Connection._exec_command

    def executing(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        text = query.as_string(self.connection) if hasattr(query, "as_string") else str(query)
        seen.append(("statement", " ".join(text.split()[:2])))
        return execute(self, query, *args, **kwargs)

    def commanding(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        text = command.decode() if isinstance(command, bytes) else str(command)
        seen.append(("command", text.split()[0]))
        return exec_command(self, command, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", executing)
    monkeypatch.setattr(psycopg.Connection, "_exec_command", commanding)
    yield seen
    monkeypatch.undo()


def credits(tag: str) -> list[Any]:
    return [
        submission_of(line("credit", person=p, amount="1.00", source="adjustment", command_id=f"{tag}-{n}"))
        for n, p in enumerate(PEOPLE)
    ]


@pytest.fixture
def warm(pg_url: str) -> Iterator[Any]:
    """A ledger whose writer has these people cached (as a server's writer process has)."""
    ledger = open_ledger(settings_for(pg_url))
    enrolments = [line("enroll", person=p, insurance="employee", command_id=f"e-{n}") for n, p in enumerate(PEOPLE)]
    assert all(a["ok"] for a in ledger.commands.execute([submission_of(text) for text in enrolments]))
    store_batch(ledger.commands, credits("warm"))
    yield ledger
    ledger.close()


def test_a_batch_sends_one_transaction_and_no_extra_reads(warm, monkeypatch):
    with sent(monkeypatch) as seen:
        answers, position = store_batch(warm.commands, credits("measured"))
    assert all(a["ok"] for a in answers), answers
    commands = [word for kind, word in seen if kind == "command"]
    statements = [words for kind, words in seen if kind == "statement"]
    assert commands == ["BEGIN", "COMMIT"], "\n".join(map(str, seen))  # the insert's transaction, and no other
    # the prefetch's events query (the people are cached: no snapshot query), then the insert
    # (its lock timeout, the table lock, NOTIFY, the rows): no query of the log head after it
    assert [words.split()[0] for words in statements] == ["SELECT", "SET", "LOCK", "NOTIFY", "INSERT"], "\n".join(
        map(str, seen)
    )
    assert statements[0] == "SELECT e.originator_id,"
    assert position == warm.commands.position()  # the head: what the batch stored up to


def test_a_batch_that_stores_nothing_still_answers_with_the_head(warm):
    head = warm.commands.position()
    answers, position = store_batch(warm.commands, credits("warm"))  # every one a retry
    assert all(a.get("duplicate") for a in answers), answers
    assert position == head

"""The group-commit writer in a child process (infra.service.writer_process), on real stores:
the same answers as the in-process writer, a child killed in the middle of a batch (its requests
hear STORAGE_ERROR, a retry with the same command ids moves the money once, a new child takes
over), a child that cannot start, and no child left behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.errors import StorageError
from infra.core.command_service import CommandService
from infra.eventstore.application import LedgerApp
from infra.service.writer import GroupCommitWriter
from infra.service.writer_process import ProcessWriter
from infra.writing.streams import submission_of
from infra.writing.write_path import Submission
from tests.support import Ledger, id_number, line
from tests.support.backends import settings_for
from tests.support.service import auth, make_server, ndjson

PERSON = id_number("110105", "19800101", 11)


@pytest.fixture
def app(durable_url) -> Iterator[LedgerApp]:
    application = LedgerApp(settings_for(durable_url))
    Ledger(application).enroll(PERSON, balance="10.00")
    yield application
    application.close()


def started(writer: ProcessWriter) -> int:
    deadline = time.monotonic() + 60
    while (pid := writer.describe()["writer_pid"]) is None:
        assert time.monotonic() < deadline, "the writer process did not start"
        time.sleep(0.05)
    return pid


@contextlib.contextmanager
def store_locked(app: LedgerApp) -> Iterator[None]:
    """Another session holds the store's write lock: every writer waits for it."""
    if app.settings.is_postgres:
        import psycopg

        recorder: Any = app.recorder
        with psycopg.connect(app.settings.db.split("?")[0]) as pg, pg.transaction():
            pg.execute(
                f'LOCK TABLE "{recorder.datastore.schema}"."{recorder.events_table_name}" IN ACCESS EXCLUSIVE MODE'
            )
            yield
    else:
        lite = sqlite3.connect(app.settings.db, isolation_level=None)
        lite.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            lite.execute("ROLLBACK")
            lite.close()


def credit_lines(count: int) -> list[str]:
    return [
        line("credit", person=PERSON, amount="1.00", source="adjustment", command_id=f"c-{n}") for n in range(count)
    ]


def credits(count: int) -> list[Submission]:
    return [submission_of(text) for text in credit_lines(count)]


def test_a_child_killed_mid_batch_answers_storage_error_and_a_retry_moves_money_once(app):
    writer = ProcessWriter(app.settings)
    try:
        first_child = started(writer)
        with store_locked(app):
            pending = writer.submit(credits(20))
            time.sleep(0.5)  # the child holds the batch, waiting for the lock
            assert not pending.done()
            os.kill(first_child, signal.SIGKILL)
            with pytest.raises(StorageError, match="outcome unknown"):
                pending.result(timeout=30)
        answers = writer.submit(credits(20)).result(timeout=60).answers
        assert [a["ok"] for a in answers] == [True] * 20
        assert app.get_person(PERSON).balance_fen == 1000 + 20 * 100
        assert started(writer) != first_child
        again = writer.submit(credits(20)).result(timeout=60).answers
        assert all(a["duplicate"] for a in again) and app.get_person(PERSON).balance_fen == 1000 + 20 * 100
    finally:
        writer.close()
    with pytest.raises(ProcessLookupError):
        os.kill(first_child, 0)


def test_the_child_answers_as_the_in_process_writer(app, tmp_path):
    lines = [
        *credits(3),
        submission_of("not json"),
        submission_of(line("credit", person=PERSON, amount="-1", source="adjustment")),
        submission_of(line("credit", person=id_number("110105", "19900101", 13), amount="1.00", source="adjustment")),
        credits(1)[0],
    ]
    twin = LedgerApp(settings_for(str(tmp_path / "twin.db")))
    Ledger(twin).enroll(PERSON, balance="10.00")
    in_thread, in_child = GroupCommitWriter(CommandService(twin)), ProcessWriter(app.settings)
    try:
        expected = in_thread.submit(lines).result(timeout=60).answers
        got = in_child.submit(lines).result(timeout=60).answers
    finally:
        in_thread.close()
        in_child.close()
        twin.close()
    assert got == expected
    assert [a.get("error", {}).get("code") for a in got][3:] == [
        "INVALID_INPUT",
        "INVALID_INPUT",
        "UNKNOWN_PERSON",
        None,
    ]
    assert got[-1]["duplicate"] is True


def test_a_child_that_cannot_open_the_store_is_a_storage_error(tmp_path):
    writer = ProcessWriter(settings_for(str(tmp_path / "no-such-dir" / "ledger.db")))
    try:
        with pytest.raises(StorageError, match="database"):
            writer.submit(credits(1)).result(timeout=60)
    finally:
        writer.close()


def test_the_server_with_a_writer_process(app):
    api, tokens = make_server(app, writer_kind="process")
    with TestClient(api) as client:
        ready = client.get("/readyz", headers=auth(tokens["operator"])).json()
        assert ready["writer"] == "process"
        body = ndjson(*(json.loads(text) for text in credit_lines(5)))
        answer = client.post("/v1/commands:batch", content=body, headers=auth(tokens["fund"]))
        assert answer.status_code == 200 and [json.loads(x)["ok"] for x in answer.text.splitlines()] == [True] * 5
        pid = client.get("/readyz", headers=auth(tokens["operator"])).json()["writer_pid"]
    deadline = time.monotonic() + 15
    while True:  # the server's shutdown stops the child
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the writer process outlived the server"
        time.sleep(0.1)
    assert app.get_person(PERSON).balance_fen == 1000 + 500

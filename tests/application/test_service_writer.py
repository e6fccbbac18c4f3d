"""How the group-commit writer hands answers back: the futures of one batch are settled together
(thread futures at once, event-loop futures by one callback on their loop), and a request whose
client went away (its future cancelled) is skipped, not an error in the writer."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Future

import pytest

from domain.errors import StorageError
from infra.core.command_service import CommandService
from infra.service.writer import GroupCommitWriter, settle
from infra.writing.streams import submission_of
from tests.support import Ledger, id_number, line


def test_settle_answers_thread_and_loop_futures_and_skips_cancelled_ones():
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        answered, gone = loop.create_future(), loop.create_future()
        gone.cancel()
        failed: Future = Future()
        settle([(gone, "written", None), (answered, "written", None), (failed, None, StorageError("down"))])
        with pytest.raises(StorageError):
            failed.result(timeout=0)  # a thread future: at once
        assert not answered.done()  # a loop future: by the callback, on the loop
        assert await asyncio.wait_for(answered, 5) == "written"
        assert gone.cancelled()

    asyncio.run(scenario())


def test_requests_from_an_event_loop_are_answered_by_the_batch(app):
    person = id_number("110105", "19800101", 11)
    Ledger(app).enroll(person, balance="10.00")
    writer = GroupCommitWriter(CommandService(app))

    async def scenario() -> list:
        lines = [
            line("credit", person=person, amount="1.00", source="adjustment", command_id=f"w-{n}") for n in range(20)
        ]
        return await asyncio.gather(*(writer.submit_async([submission_of(text)]) for text in lines))

    try:
        written = asyncio.run(scenario())
    finally:
        writer.close()
    assert [w.answers[0]["ok"] for w in written] == [True] * 20
    assert len({json.dumps(w.answers[0]["command_id"]) for w in written}) == 20
    assert app.get_person(person).balance_fen == 1000 + 2000

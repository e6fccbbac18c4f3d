"""Shared helpers for tests: valid ID numbers, command lines, an app on any backend."""

from __future__ import annotations

import json
from typing import Any

from domain.ids import check_character
from infra.commands.parsing import load, validate
from infra.core.command_service import CommandService
from infra.writing.streams import submission_of, write_stream
from infra.writing.write_path import WritePath

DEV_KEY = b"test-pseudonym-key-0123456789"
DAY = "2025-03-03"


def id_number(region: str = "110105", birth: str = "19800101", seq: int = 11) -> str:
    """A valid 18-character ID number; odd `seq` is male, even is female."""
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + check_character(first17)


def last_json(output: str) -> dict:
    """The JSON object a command printed, after any warning lines before it."""
    return json.loads(output[output.index("{") :])


def failed(result: dict) -> set[str]:
    """The names of the checks a verification (`verify`, `verify-bundle`) reports as failed."""
    return {c["check"] for c in result["checks"] if not c["ok"]}


def line(type_: str, at: str = f"{DAY}T09:00:00+08:00", **fields: Any) -> str:
    return json.dumps({"type": type_, "at": at, **fields})


def apply_line(app: Any, text: str | bytes) -> dict:
    """One command line through the one write path, in a transaction of its own."""
    return WritePath(app).write([submission_of(text)])[0]


def apply_batch(app: Any, texts: list[str], prefetcher: Any = None) -> list[dict]:
    """Command lines as one group commit (one answer each, in order)."""
    return WritePath(app, prefetcher).write([submission_of(text) for text in texts])


def apply_stream(app: Any, lines: Any, *, batch_size: int, prefetcher: Any = None) -> Any:
    """Numbered answers of a stream of lines, in group commits of `batch_size`."""
    return write_stream(WritePath(app, prefetcher), lines, batch_size=batch_size)


def apply_results(app: Any, lines: Any, *, batch_size: int) -> Any:
    """What `ledger apply --batch-size N` prints, line by line."""
    return CommandService(app).stream(lines, batch_size=batch_size)


def parse_command(text: str) -> Any:
    """The typed command of a line (raises INVALID_INPUT naming the field)."""
    return validate(load(text))


class Ledger:
    """A thin story-telling wrapper over LedgerApp: apply lines (each a transaction of its own,
    through the one write path), read state."""

    def __init__(self, app: Any):
        self.app = app
        self.writer = WritePath(app)

    def apply_line(self, text: str | bytes) -> dict:
        return self.writer.write([submission_of(text)])[0]  # as `apply_line` above, one writer kept

    def do(self, type_: str, **fields: Any) -> dict:
        return self.apply_line(line(type_, **fields))

    def ok(self, type_: str, **fields: Any) -> dict:
        result = self.do(type_, **fields)
        if not result["ok"]:
            raise AssertionError(f"{type_} refused: {result['error']}")
        return result

    def refused(self, type_: str, code: str, **fields: Any) -> dict:
        result = self.do(type_, **fields)
        if result["ok"] or result["error"]["code"] != code:
            raise AssertionError(f"{type_}: expected {code}, got {result}")
        return result

    def enroll(self, person: str, insurance: str = "employee", balance: str | None = None, **fields: Any) -> str:
        at = fields.pop("at", "2025-01-02T09:00:00+08:00")
        self.ok("enroll", person=person, insurance=insurance, at=at, **fields)
        if balance:
            self.ok("credit", person=person, amount=balance, source="adjustment", at=at)
        return person

    def person(self, raw: str):
        return self.app.get_person(raw)

    def balance(self, raw: str) -> int:
        return self.person(raw).balance_fen

"""The answer to a command: one JSON object, the same from every front end.

`{"ok", "command", "command_id"?, "error"?: {code, message, field?, rule?, rule_version?,
recorded?}, ...the handler's fields}`. Messages hold masked ID numbers only.
"""

from __future__ import annotations

from typing import Any

from domain.decision import Decision
from domain.errors import LedgerError
from domain.events import PaymentLine
from domain.settlement import Settlement

Answer = dict[str, Any]


def answer(
    kind: str | None, command_id: str | None, *, result: dict | None = None, error: LedgerError | None = None
) -> Answer:
    out: Answer = {"ok": error is None, "command": kind}
    if command_id is not None:
        out["command_id"] = command_id
    if error is not None:
        out["error"] = error.to_dict()
    return out | (result or {})


class RecordedRejection(LedgerError):
    """A refused bind: the rejection is saved as events, and reported like any refusal."""

    def __init__(self, decision: Decision, rule_version: str):
        super().__init__(decision.message, rule=decision.rule, rule_version=rule_version)
        self.code = decision.code or "RULE_REJECTION"

    def to_dict(self) -> dict:
        return {**super().to_dict(), "recorded": True}


def line_dict(line: PaymentLine) -> dict:
    return {"person": line.masked, "amount_fen": line.amount_fen}


def deduction_result(settlement: Settlement, *, duplicate: bool) -> dict:
    return {
        "settlement_id": settlement.settlement_id,
        "patient": settlement.patient_masked,
        "amount_fen": settlement.amount_fen,
        "lines": [line_dict(line) for line in settlement.lines],
        "out_of_pocket_fen": settlement.out_of_pocket_fen,
        "rule_version": settlement.rule_version,
        "duplicate": duplicate,
        "reversed": settlement.reversed,
    }

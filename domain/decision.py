"""The outcome of a rule check: accepted, or the first rule (in precedence order) that refused."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    ok: bool
    code: str | None = None
    rule: str | None = None
    message: str = ""

    @classmethod
    def accept(cls) -> Decision:
        return cls(ok=True)

    @classmethod
    def refuse(cls, code: str, rule: str, message: str) -> Decision:
        return cls(ok=False, code=code, rule=rule, message=message)

    def as_outcome(self) -> dict:
        return {"ok": self.ok, "code": self.code}

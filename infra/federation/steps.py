"""Which recorded half of a quota has its other half in another ledger, and the command that
records it there: one place maps an event of the outbox (the ledger's own log: no outbox table)
to the step the relay delivers. The command id is derived from the transfer id, the step's kind
and its sequence number (domain.quota.step_command_id), so a re-delivery is a duplicate."""

from __future__ import annotations

from typing import Any

from domain import events as ev
from domain.dispatch import topic_of
from domain.quota import step_command_id
from infra.commands import transfers as t
from infra.commands.base import CommandModel

# The events that may have a remote other half, and the step kind each one becomes.
STEP_OF_EVENT: dict[type, str] = {
    ev.QuotaEarmarked: "receive",
    ev.QuotaRaised: "raise",
    ev.QuotaLowerRequested: "lower",
    ev.QuotaEndRequested: "end",
    ev.QuotaDrawn: "settle",
    ev.QuotaUndrawn: "undraw",
    ev.QuotaReleased: "return",
}
STEP_TOPICS = frozenset(topic_of(cls) for cls in STEP_OF_EVENT)


def is_remote(event: Any) -> bool:
    """Whether the event's other half is another ledger's (the lower and end requests always are)."""
    return type(event) in STEP_OF_EVENT and bool(getattr(event, "remote", True))


def step_of(event: Any, from_province: str) -> tuple[str, CommandModel] | None:
    """(destination province, the step command) of a remote half recorded in `from_province`'s
    ledger; None for an event with no remote other half."""
    if not is_remote(event):
        return None
    kind = STEP_OF_EVENT[type(event)]
    seq = getattr(event, "seq", 1)
    common = {
        "at": event.timestamp.isoformat(),
        "command_id": step_command_id(event.transfer_id, kind, seq),
        "transfer_id": event.transfer_id,
    }
    command = _command(event, common, from_province)
    return str(event.to_province), command


def _command(event: Any, common: dict[str, Any], from_province: str) -> CommandModel:
    if isinstance(event, ev.QuotaEarmarked):
        return t.QuotaReceive(
            type="quota-receive",
            beneficiary=str(event.beneficiary),
            donor=str(event.originator_id),
            donor_masked=event.donor_masked,
            relationship=event.relationship,  # type: ignore[arg-type]  # an AidRelationship, stored as text
            amount_fen=event.amount_fen,
            rule_version=event.rule_version,
            from_province=from_province,
            **common,
        )
    if isinstance(event, ev.QuotaRaised):
        return t.QuotaRaise(
            type="quota-raise", beneficiary=str(event.beneficiary), seq=event.seq, amount_fen=event.amount_fen, **common
        )
    if isinstance(event, ev.QuotaLowerRequested):
        return t.QuotaLower(
            type="quota-lower", beneficiary=str(event.beneficiary), seq=event.seq, quota_fen=event.quota_fen, **common
        )
    if isinstance(event, ev.QuotaEndRequested):
        return t.QuotaEnd(type="quota-end", beneficiary=str(event.beneficiary), reason=event.reason, **common)
    if isinstance(event, ev.QuotaDrawn):
        return t.QuotaSettle(
            type="quota-settle",
            donor=str(event.donor),
            seq=event.seq,
            settlement_id=event.settlement_id,
            patient=str(event.originator_id),
            amount_fen=event.amount_fen,
            **common,
        )
    if isinstance(event, ev.QuotaUndrawn):
        return t.QuotaUndraw(
            type="quota-undraw",
            donor=str(event.donor),
            seq=event.seq,
            settlement_id=event.settlement_id,
            amount_fen=event.amount_fen,
            after_end=event.after_end,
            **common,
        )
    if isinstance(event, ev.QuotaReleased):
        return t.QuotaReturn(
            type="quota-return",
            donor=str(event.donor),
            seq=event.seq,
            amount_fen=event.amount_fen,
            reason=event.reason,
            final=event.final,
            **common,
        )
    raise TypeError(type(event).__name__)

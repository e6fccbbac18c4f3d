"""A person's history: the timeline of their events and their state as of a moment.

Two time axes. "As of" is effective time: what was in effect at that moment, as now known.
"Known at" is recorded time: only what the ledger had recorded by that moment. Combined, the
state is the aggregate at the last version of the longest prefix of its history whose events
all took effect at or before `as_of` and were recorded at or before `known_at` (an aggregate's
state is always a prefix of its events, and per person the effective order is the recorded
order: a command dated before what is recorded is refused OUT_OF_ORDER), loaded with
`repository.get(id, version=N)`. Events stored before the ledger kept its recorded time have
`recorded_at` null; they count as known at any moment.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any, cast
from uuid import UUID

from domain import events as ev
from domain.clock import CST, YEAR_PATTERN, local_iso
from domain.errors import InvalidInputError
from infra.audit.evidence_store import EvidenceStore
from infra.eventstore.application import LedgerApp
from infra.eventstore.person_reads import AID_FIELDS, BINDING_FIELDS, quota_rows, tie_rows

# What the API's schema states of `as_of` and `known_at`: a date, or a date and time with an
# offset (parse_moment takes the other ISO-8601 forms Python reads too). Within the pattern,
# only a day that does not exist (02-30) or a moment outside what UTC can hold (0001-01-01T00:00
# at +01:00) is refused.
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
MOMENT_PATTERN = (
    rf"^{YEAR_PATTERN}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    rf"(?:T{_CLOCK}(?::[0-5][0-9](?:\.[0-9]{{1,6}})?)?(?:Z|[+-]{_CLOCK}))?$"
)


def parse_moment(raw: str, field: str) -> datetime:
    """ISO-8601 with an offset, or a date (the end of that day in UTC+8). Messages never echo
    the value (it may be anything, an ID number included)."""
    try:
        if len(raw) == 10:
            moment = datetime.combine(datetime.fromisoformat(raw).date(), time.max, tzinfo=CST)
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{field}: not an ISO-8601 date or time", field=field) from None
    if moment.tzinfo is None:
        raise InvalidInputError(f"{field}: a time needs an offset (e.g. +08:00)", field=field)
    try:
        moment.astimezone(UTC)  # it is compared with recorded times: it must exist in UTC too
    except OverflowError:
        raise InvalidInputError(f"{field}: outside the years 0001 to 9999 in UTC", field=field) from None
    return moment


EVENTS_MAX = 10_000  # a timeline longer than this is cut, and says so


def _summary(event: Any, names: dict[UUID, str]) -> dict[str, Any]:
    """What an auditor needs from each event, by type; the counterpart shown masked."""
    out: dict[str, Any] = {}
    counterpart = getattr(event, "counterpart", None)
    if counterpart is not None:
        names.setdefault(counterpart, getattr(event, "counterpart_masked", None) or str(counterpart))
        out["counterpart"] = names[counterpart]
    for name in (
        "role",
        "relationship",
        "channel",
        "verification",
        "reason",
        "initiated_by",
        "code",
        "rule",
        "rule_version",
        "message",
        "amount_fen",
        "source",
        "settlement_id",
        "category",
        "out_of_pocket_fen",
        "region_from",
        "region_to",
        "insurance",
        "region",
    ):
        value = getattr(event, name, None)
        if value not in (None, ""):
            out[name] = value
    if isinstance(event, (ev.DeductionSettled, ev.DeductionReversed)):
        out["lines"] = [{"person": line.masked, "amount_fen": line.amount_fen} for line in event.lines]
    if isinstance(event, ev.AidDebited):
        out["patient"] = event.patient_masked
    return out


def _text(kind: str, s: dict[str, Any]) -> str:
    who = s.get("counterpart", "")
    texts = {
        "BindingStarted": f"binding started as {s.get('role')} with {who} "
        f"({s.get('relationship')}, via {s.get('channel')})",
        "BindingEnded": f"binding with {who} ended as {s.get('role')}: reason {s.get('reason')}, "
        f"initiated by {s.get('initiated_by')}",
        "BindRejected": f"bind with {who} refused: {s.get('code')} ({s.get('rule')})",
        "AuthorizationGranted": f"mutual aid granted as {s.get('role')} with {who} ({s.get('relationship')})",
        "AuthorizationEnded": f"mutual aid with {who} ended as {s.get('role')}: reason {s.get('reason')}, "
        f"initiated by {s.get('initiated_by')}",
        "AccountCredited": f"credited {s.get('amount_fen')} fen ({s.get('source')})",
        "DeductionSettled": f"settlement {s.get('settlement_id')}: paid {s.get('category')}",
        "AidDebited": f"paid {s.get('amount_fen')} fen of {s.get('patient')}'s settlement {s.get('settlement_id')}",
        "DeductionReversed": f"settlement {s.get('settlement_id')} reversed: {s.get('reason') or 'no reason given'}",
        "AidRefunded": f"refunded {s.get('amount_fen')} fen of settlement {s.get('settlement_id')}",
    }
    return texts.get(kind, kind)


def person_history(
    app: LedgerApp, store: EvidenceStore, person_id: UUID, as_of: datetime | None, known_at: datetime | None = None
) -> dict[str, Any]:
    stored = store.events_of(person_id)[:EVENTS_MAX]
    names: dict[UUID, str] = {}
    timeline: list[dict[str, Any]] = []
    version_as_of = 0
    folded: Any = None
    for position, item in stored:
        event = cast(ev.DomainEvent, app.mapper.to_domain_event(item))
        kind = type(event).__name__
        folded = event.mutate(folded)  # the domain's own fold: the balance after each event
        after = as_of is not None and event.timestamp > as_of
        unknown_then = known_at is not None and event.recorded_at is not None and event.recorded_at > known_at
        if not after and not unknown_then and version_as_of == event.originator_version - 1:
            version_as_of = event.originator_version
        summary = _summary(event, names)
        timeline.append(
            {
                "position": position,
                "version": event.originator_version,
                "at": local_iso(event.timestamp),
                "recorded_at": local_iso(event.recorded_at),
                "sent_by": event.sent_by.model_dump() if event.sent_by else None,
                "type": kind,
                "text": _text(kind, summary),
                "balance_after_fen": folded.balance_fen,
                "after_as_of": after,
                "after_known_at": unknown_then,
                **summary,
            }
        )
    if not stored:
        return {"person": None, "events": 0, "timeline": [], "state": None}
    person = app.repository.get(person_id, version=version_as_of) if version_as_of else None
    return {
        "person": folded.masked,
        "as_of": local_iso(as_of) if as_of else None,
        "known_at": local_iso(known_at) if known_at else None,
        "events": len(timeline),
        "truncated": len(stored) == EVENTS_MAX,
        "state": _state(person) if person else None,
        "timeline": timeline,
    }


def _state(person: Any) -> dict[str, Any]:
    return {
        "version": person.version,
        "status": person.status,
        "region": person.region,
        "insurance": person.insurance,
        "balance_fen": person.balance_fen,
        "earmarked_fen": person.earmarked_fen,
        "spendable_fen": person.spendable_fen,
        "quotas": quota_rows(person),
        "bindings": {
            "members": tie_rows(person.members, BINDING_FIELDS),
            "binders": tie_rows(person.binders, BINDING_FIELDS),
        },
        "authorizations": {
            "authorizers": tie_rows(person.authorizers, AID_FIELDS),
            "beneficiaries": tie_rows(person.beneficiaries, AID_FIELDS),
        },
    }

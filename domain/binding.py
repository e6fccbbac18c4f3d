"""Family-account bindings (亲情账户): the bind decision and its recording on both people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import events as ev
from domain.clock import month_of
from domain.decision import Decision
from domain.errors import InvalidInputError, NotBoundError, rejection
from domain.ids import sex_from_masked
from domain.person import Person
from domain.rules.model import RuleSet


@dataclass(frozen=True)
class BindRequest:
    relationship: str
    channel: str
    verification: str
    member_age_years: int
    at: datetime


def relationship_kind(relationship: str, member_masked: str) -> str:
    """What the member is to the binder, for per-relationship caps (father/mother by sex digit)."""
    if relationship == "parent":
        return "father" if sex_from_masked(member_masked) == "male" else "mother"
    return relationship


def decide_bind(binder: Person, member: Person, request: BindRequest, rules: RuleSet) -> Decision:
    """Check the rules in the documented precedence order; the first refusal wins."""
    b = rules.binding
    month = month_of(request.at)
    kind = relationship_kind(request.relationship, member.masked)
    if not binder.is_active or not member.is_active:
        who = "binder" if not binder.is_active else "member"
        status = binder.status if who == "binder" else member.status
        return Decision.refuse("PERSON_NOT_ACTIVE", "binding.both_active", f"{who} is {status}, not active")
    if member.id in binder.members:
        return Decision.refuse("ALREADY_BOUND", "binding.unique_pair", "member is already bound by this binder")
    if request.relationship not in b.relationships:
        return Decision.refuse(
            "RELATIONSHIP_NOT_ALLOWED",
            "binding.relationships",
            f"relationship {request.relationship!r} is not one of {', '.join(b.relationships)}",
        )
    adult = request.member_age_years >= b.face_verification_age_min
    allowed = b.verifications_adult if adult else b.verifications_minor
    if request.verification not in allowed:
        return Decision.refuse(
            "FACE_VERIFICATION_REQUIRED",
            "binding.face_verification_age_min",
            f"member aged {request.member_age_years} must verify by {' or '.join(allowed)}",
        )
    unbound_at = binder.last_unbound_at.get(member.id)
    wait = timedelta(minutes=b.rebind_wait_minutes)
    if b.rebind_wait_minutes and unbound_at is not None and request.at - unbound_at < wait:
        return Decision.refuse(
            "REBIND_COOLDOWN",
            "binding.rebind_wait_minutes",
            f"re-binding is allowed {b.rebind_wait_minutes} minutes after the unbind at {unbound_at.isoformat()}",
        )
    if b.exclusive and member.binders:
        return Decision.refuse(
            "MEMBER_BOUND_ELSEWHERE", "binding.exclusive", "member is already actively bound by another account"
        )
    return _decide_counts(binder, member, kind, month, rules)


def _decide_counts(binder: Person, member: Person, kind: str, month: str, rules: RuleSet) -> Decision:
    b = rules.binding
    if b.members_active_max is not None and len(binder.members) >= b.members_active_max:
        return Decision.refuse(
            "MEMBER_LIMIT", "binding.members_active_max", f"binder already has {b.members_active_max} active members"
        )
    kind_max = b.members_by_kind_max.get(kind)  # type: ignore[call-overload]
    if kind_max is not None:
        held = sum(1 for tie in binder.members.values() if tie["kind"] == kind)
        if held >= kind_max:
            return Decision.refuse(
                "RELATIONSHIP_LIMIT", f"binding.members_by_kind_max.{kind}", f"binder already binds {held} {kind}"
            )
    if b.members_new_per_month_max is not None:
        bound = binder.new_members_by_month.get(month, 0)
        if bound >= b.members_new_per_month_max:
            return Decision.refuse(
                "MONTHLY_BIND_LIMIT",
                "binding.members_new_per_month_max",
                f"binder already bound {bound} new members in {month} (unbinding gives no quota back)",
            )
    if b.binders_active_max is not None and len(member.binders) >= b.binders_active_max:
        return Decision.refuse(
            "MEMBER_BINDERS_LIMIT", "binding.binders_active_max", f"member already has {b.binders_active_max} binders"
        )
    if b.binders_new_per_month_max is not None:
        gained = member.new_binders_by_month.get(month, 0)
        if gained >= b.binders_new_per_month_max:
            return Decision.refuse(
                "MEMBER_MONTHLY_BINDERS_LIMIT",
                "binding.binders_new_per_month_max",
                f"member already gained {gained} new binders in {month}",
            )
    return Decision.accept()


def bind(binder: Person, member: Person, request: BindRequest, rules: RuleSet) -> Decision:
    """Decide, then record on both people: the binding, or the rejection with its rule."""
    if binder.id == member.id:
        raise InvalidInputError("member: a person cannot bind themself", field="member")
    decision = decide_bind(binder, member, request, rules)
    common = dict(
        relationship=request.relationship,
        channel=request.channel,
        verification=request.verification,
        member_age_years=request.member_age_years,
        rule_version=rules.version,
        rule_digest=rules.digest,
        timestamp=request.at,
    )
    if decision.ok:
        kind = relationship_kind(request.relationship, member.masked)
        for person, role, other in ((binder, "binder", member), (member, "member", binder)):
            person.record(
                ev.BindingStarted, role=role, counterpart=other.id, counterpart_masked=other.masked, kind=kind, **common
            )
    else:
        for person, role, other in ((binder, "binder", member), (member, "member", binder)):
            person.record(
                ev.BindRejected,
                role=role,
                counterpart=other.id,
                counterpart_masked=other.masked,
                code=decision.code,
                rule=decision.rule,
                message=decision.message,
                **common,
            )
    return decision


def unbind(
    binder: Person, member: Person, *, reason: str, initiated_by: str, at: datetime, channel: str | None = None
) -> None:
    if member.id not in binder.members:
        raise NotBoundError(f"member {member.masked} is not bound by {binder.masked}")
    end_binding(binder, member, reason=reason, initiated_by=initiated_by, at=at, channel=channel)


def end_binding(
    binder: Person, member: Person, *, reason: str, initiated_by: str, at: datetime, channel: str | None = None
) -> None:
    for person, role, other in ((binder, "binder", member), (member, "member", binder)):
        person.record(
            ev.BindingEnded,
            role=role,
            counterpart=other.id,
            reason=reason,
            initiated_by=initiated_by,
            channel=channel,
            timestamp=at,
        )


def refusal_error(decision: Decision, rule_version: str) -> Exception:
    return rejection(decision.code or "", decision.message, rule=decision.rule, rule_version=rule_version)

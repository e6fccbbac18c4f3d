"""Family mutual aid (家庭共济): authorization decisions and ending ties."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain import events as ev
from domain import quota
from domain.decision import Decision
from domain.errors import InvalidInputError, NotAuthorizedError
from domain.person import Person
from domain.rules.model import RuleSet


def decide_authorize(authorizer: Person, beneficiary: Person, relationship: str, rules: RuleSet) -> Decision:
    crosses = authorizer.region[:2] != beneficiary.region[:2]
    return decide_tie(authorizer, beneficiary.id, beneficiary, relationship, rules, crosses=crosses)


def decide_tie(
    authorizer: Person,
    beneficiary_id: UUID,
    beneficiary: Person | None,
    relationship: str,
    rules: RuleSet,
    *,
    crosses: bool,
) -> Decision:
    """The authorization's checks in precedence order. `beneficiary` None: the beneficiary is
    another ledger's (a federation), whose state that ledger checks when the quota arrives;
    `crosses`: the two are insured in different provinces."""
    m = rules.mutual_aid
    inactive = [
        (who, p) for who, p in (("authorizer", authorizer), ("beneficiary", beneficiary)) if p and not p.is_active
    ]
    if inactive:
        who, person = inactive[0]
        return Decision.refuse("PERSON_NOT_ACTIVE", "mutual_aid.both_active", f"{who} is {person.status}, not active")
    if authorizer.insurance not in m.authorizer_insurance:
        return Decision.refuse(
            "AUTHORIZER_NOT_ELIGIBLE",
            "mutual_aid.authorizer_insurance",
            f"authorizer is {authorizer.insurance}-insured; only {', '.join(m.authorizer_insurance)} may authorize",
        )
    if beneficiary_id in authorizer.beneficiaries or authorizer.open_quota_given(beneficiary_id) is not None:
        return Decision.refuse("ALREADY_AUTHORIZED", "mutual_aid.unique_pair", "beneficiary is already authorized")
    if relationship not in m.relationships:
        return Decision.refuse(
            "RELATIONSHIP_NOT_ALLOWED",
            "mutual_aid.relationships",
            f"relationship {relationship!r} is not one of {', '.join(m.relationships)} under {rules.version}",
        )
    if not m.cross_province and crosses:
        other = beneficiary.region[:2] if beneficiary is not None else "another province"
        return Decision.refuse(
            "CROSS_PROVINCE_NOT_ALLOWED",
            "mutual_aid.cross_province",
            f"authorizer province {authorizer.region[:2]} differs from beneficiary province {other}",
        )
    return Decision.accept()


def authorize(
    authorizer: Person, beneficiary: Person, relationship: str, rules: RuleSet, at: datetime, channel: str | None = None
) -> Decision:
    if authorizer.id == beneficiary.id:
        raise InvalidInputError("beneficiary: a person cannot authorize themself", field="beneficiary")
    decision = decide_authorize(authorizer, beneficiary, relationship, rules)
    if decision.ok:
        for person, role, other in ((authorizer, "authorizer", beneficiary), (beneficiary, "beneficiary", authorizer)):
            person.record(
                ev.AuthorizationGranted,
                role=role,
                counterpart=other.id,
                counterpart_masked=other.masked,
                relationship=relationship,
                rule_version=rules.version,
                rule_digest=rules.digest,
                channel=channel,
                timestamp=at,
            )
    return decision


def revoke(
    authorizer: Person, beneficiary: Person, *, initiated_by: str, at: datetime, channel: str | None = None
) -> None:
    reason = "revoked_by_beneficiary" if initiated_by == "beneficiary" else "revoked_by_authorizer"
    transfer_id = authorizer.open_quota_given(beneficiary.id)
    if transfer_id is not None:  # a cross-province quota: the unused part returns
        quota.end_given(authorizer, beneficiary, transfer_id, reason=reason, initiated_by=initiated_by, at=at)
        return
    if beneficiary.id not in authorizer.beneficiaries:
        raise NotAuthorizedError(f"{beneficiary.masked} is not authorized by {authorizer.masked}")
    end_authorization(authorizer, beneficiary, reason=reason, initiated_by=initiated_by, at=at, channel=channel)


def end_authorization(
    authorizer: Person,
    beneficiary: Person,
    *,
    reason: str,
    initiated_by: str,
    at: datetime,
    channel: str | None = None,
) -> None:
    for person, role, other in ((authorizer, "authorizer", beneficiary), (beneficiary, "beneficiary", authorizer)):
        person.record(
            ev.AuthorizationEnded,
            role=role,
            counterpart=other.id,
            reason=reason,
            initiated_by=initiated_by,
            channel=channel,
            timestamp=at,
        )

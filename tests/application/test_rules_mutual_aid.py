"""Mutual-aid (家庭共济) authorization stories: who may authorize whom, by date and region.
Refused authorizations are returned, never recorded: state is unchanged."""

from __future__ import annotations

import pytest

from domain.errors import AUTHORIZE_REJECTION_CODES
from tests.support import Ledger
from tests.support.state import adult, assert_unchanged, events_of, masked, minor, snapshot

EARLY = "2024-01-02T09:00:00+08:00"  # enrolment date for stories that start in 2024


def authorize(
    ledger: Ledger,
    authorizer: str,
    beneficiary: str,
    relationship: str = "child",
    when: str = "2025-03-03T09:00:00+08:00",
) -> dict:
    return ledger.do("authorize", authorizer=authorizer, beneficiary=beneficiary, relationship=relationship, at=when)


def refused(ledger: Ledger, code: str, authorizer: str, beneficiary: str, **kwargs) -> dict:
    before = snapshot(ledger, authorizer, beneficiary)
    result = authorize(ledger, authorizer, beneficiary, **kwargs)
    assert not result["ok"] and result["error"]["code"] == code, result
    assert "recorded" not in result["error"]
    assert_unchanged(ledger, before)
    return result


def test_authorization_is_recorded_on_both_people_with_its_rule_version(ledger):
    parent, child = ledger.enroll(adult(1)), ledger.enroll(minor(20), insurance="resident")
    result = authorize(ledger, parent, child)
    assert result["ok"] and result["rule_version"] == "national-2024-12-09"
    assert result["authorizer"] == masked(parent)
    child_id = ledger.app.person_ref(child, "b")[0]
    assert ledger.person(parent).beneficiaries[child_id]["relationship"] == "child"
    assert len(ledger.person(child).authorizers) == 1
    granted = events_of(ledger, child)[-1]
    assert (type(granted).__name__, granted.role, granted.rule_version) == (
        "AuthorizationGranted",
        "beneficiary",
        "national-2024-12-09",
    )


@pytest.mark.parametrize("relationship", ["sibling", "grandparent", "grandchild"])
def test_rejects_near_relatives_beyond_spouse_parents_children_before_2024_12_09(ledger, relationship):
    giver, taker = ledger.enroll(adult(1), at=EARLY), ledger.enroll(adult(3), at=EARLY)
    result = refused(
        ledger, "RELATIONSHIP_NOT_ALLOWED", giver, taker, relationship=relationship, when="2024-12-08T23:59:59+08:00"
    )
    assert result["error"]["rule_version"] == "national-2021-08-01"
    assert result["error"]["rule"] == "mutual_aid.relationships"


@pytest.mark.parametrize("relationship", ["sibling", "grandparent", "grandchild"])
def test_allows_near_relatives_from_2024_12_09_china_time(ledger, relationship):
    giver, taker = ledger.enroll(adult(1), at=EARLY), ledger.enroll(adult(3), at=EARLY)
    result = authorize(ledger, giver, taker, relationship=relationship, when="2024-12-08T16:00:00Z")
    assert result["ok"] and result["rule_version"] == "national-2024-12-09"


def test_allows_spouse_parent_child_under_the_first_national_rules(ledger):
    giver = ledger.enroll(adult(1), at=EARLY)
    others = [ledger.enroll(adult(n), at=EARLY) for n in (4, 5, 7)]
    for other, relationship in zip(others, ("spouse", "parent", "child"), strict=True):
        result = authorize(ledger, giver, other, relationship=relationship, when="2024-06-01T09:00:00+08:00")
        assert result["ok"] and result["rule_version"] == "national-2021-08-01"


def test_rejects_cross_province_aid_before_2026_01_09(ledger):
    beijing, shanghai = ledger.enroll(adult(1)), ledger.enroll(adult(3, region="310101"))
    result = refused(
        ledger, "CROSS_PROVINCE_NOT_ALLOWED", beijing, shanghai, relationship="parent", when="2026-01-08T23:59:00+08:00"
    )
    assert result["error"]["rule"] == "mutual_aid.cross_province"


def test_allows_cross_province_aid_from_2026_01_09_through_a_quota(ledger):
    beijing, shanghai = ledger.enroll(adult(1), balance="10.00"), ledger.enroll(adult(3, region="310101"))
    result = ledger.do("authorize", authorizer=beijing, beneficiary=shanghai, relationship="parent", quota="10.00",
                       at="2026-01-09T00:00:00+08:00")  # fmt: skip
    assert result["ok"] and result["rule_version"] == "national-2026-01-09" and result["quota_fen"] == 1000


def test_allows_aid_between_cities_of_one_province(ledger):
    dongcheng, chaoyang = ledger.enroll(adult(1, region="110101")), ledger.enroll(adult(3, region="110105"))
    assert authorize(ledger, dongcheng, chaoyang, relationship="parent")["ok"]


def test_enrolled_region_overrides_the_id_number_region_for_province_checks(ledger):
    moved = ledger.enroll(adult(1, region="310101"), region="110105")  # born in Shanghai, insured in Beijing
    local = ledger.enroll(adult(3))
    assert authorize(ledger, moved, local, relationship="parent")["ok"]


def test_rejects_resident_insured_authorizer(ledger):
    resident, child = ledger.enroll(adult(1), insurance="resident"), ledger.enroll(minor(20), insurance="resident")
    result = refused(ledger, "AUTHORIZER_NOT_ELIGIBLE", resident, child)
    assert result["error"]["rule"] == "mutual_aid.authorizer_insurance"


def test_rejects_authorization_when_either_person_is_not_active(ledger):
    parent, child = ledger.enroll(adult(1)), ledger.enroll(minor(20), insurance="resident")
    ledger.ok("suspend", person=child, at="2025-03-01T09:00:00+08:00")
    refused(ledger, "PERSON_NOT_ACTIVE", parent, child)
    ledger.ok("resume", person=child, at="2025-03-02T09:00:00+08:00")
    ledger.ok("suspend", person=parent, at="2025-03-02T10:00:00+08:00")
    refused(ledger, "PERSON_NOT_ACTIVE", parent, child)


def test_rejects_authorizing_the_same_beneficiary_twice(ledger):
    parent, child = ledger.enroll(adult(1)), ledger.enroll(minor(20), insurance="resident")
    assert authorize(ledger, parent, child)["ok"]
    refused(ledger, "ALREADY_AUTHORIZED", parent, child)


def test_no_cap_on_authorizers_or_beneficiaries(ledger):
    grandpa = ledger.enroll(adult(1, birth="19500101"))
    parents = [ledger.enroll(adult(n)) for n in (3, 4)]
    kids = [ledger.enroll(minor(20 + n), insurance="resident") for n in range(3)]
    for parent in parents:
        for kid in kids:
            assert authorize(ledger, parent, kid)["ok"]
        assert authorize(ledger, grandpa, parent, relationship="child")["ok"]
    assert len(ledger.person(kids[0]).authorizers) == 2
    assert len(ledger.person(parents[0]).beneficiaries) == 3


def test_revoke_ends_the_authorization_on_both_sides_with_who_revoked(ledger):
    parent, child = ledger.enroll(adult(1)), ledger.enroll(minor(20), insurance="resident")
    assert authorize(ledger, parent, child)["ok"]
    ledger.ok("revoke", authorizer=parent, beneficiary=child, initiated_by="beneficiary")
    assert ledger.person(parent).beneficiaries == {} and ledger.person(child).authorizers == {}
    ended = events_of(ledger, parent)[-1]
    assert (type(ended).__name__, ended.reason, ended.initiated_by) == (
        "AuthorizationEnded",
        "revoked_by_beneficiary",
        "beneficiary",
    )


def test_rejects_revoking_an_authorization_that_does_not_exist(ledger):
    parent, child = ledger.enroll(adult(1)), ledger.enroll(minor(20), insurance="resident")
    before = snapshot(ledger, parent, child)
    ledger.refused("revoke", "NOT_AUTHORIZED", authorizer=parent, beneficiary=child)
    assert_unchanged(ledger, before)


def test_ineligible_authorizer_is_reported_before_a_relationship_not_yet_allowed(ledger):
    # Goal: two rules broken at once; AUTHORIZE_REJECTION_CODES order decides which is reported.
    resident, sister = ledger.enroll(adult(1), insurance="resident", at=EARLY), ledger.enroll(adult(4), at=EARLY)
    refused(
        ledger, "AUTHORIZER_NOT_ELIGIBLE", resident, sister, relationship="sibling", when="2024-06-01T09:00:00+08:00"
    )
    order = AUTHORIZE_REJECTION_CODES
    assert order.index("AUTHORIZER_NOT_ELIGIBLE") < order.index("RELATIONSHIP_NOT_ALLOWED")


def test_relationship_is_reported_before_cross_province(ledger):
    beijing, shanghai = ledger.enroll(adult(1), at=EARLY), ledger.enroll(adult(4, region="310101"), at=EARLY)
    refused(
        ledger, "RELATIONSHIP_NOT_ALLOWED", beijing, shanghai, relationship="sibling", when="2024-06-01T09:00:00+08:00"
    )


def test_inactive_person_is_reported_before_an_ineligible_authorizer(ledger):
    resident, child = ledger.enroll(adult(1), insurance="resident"), ledger.enroll(minor(20), insurance="resident")
    ledger.ok("suspend", person=resident, at="2025-03-01T09:00:00+08:00")
    refused(ledger, "PERSON_NOT_ACTIVE", resident, child)

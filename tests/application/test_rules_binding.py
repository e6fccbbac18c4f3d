"""Binding (亲情账户) stories on the in-memory store: every bind rule and code, and that a
refusal records the rejection and changes no binding."""

from __future__ import annotations

import dataclasses

import pytest

from domain.errors import BIND_REJECTION_CODES
from infra.eventstore.application import LedgerApp
from infra.eventstore.rule_files import load_catalogue
from tests.support import Ledger
from tests.support.backends import settings_for
from tests.support.state import (
    adult,
    assert_only_rejection_recorded,
    assert_unchanged,
    at,
    event_names,
    events_of,
    march,
    masked,
    minor,
    snapshot,
)

NATIONAL = "national-2024-12-09"


def bind(
    ledger: Ledger,
    binder: str,
    member: str,
    when: str = march(3),
    relationship: str = "child",
    verification: str = "documents",
    channel: str = "alipay",
) -> dict:
    return ledger.do(
        "bind",
        binder=binder,
        member=member,
        relationship=relationship,
        channel=channel,
        verification=verification,
        at=when,
    )


def bound(ledger: Ledger, binder: str, member: str, **kwargs) -> dict:
    result = bind(ledger, binder, member, **kwargs)
    assert result["ok"], result
    return result


def refused(ledger: Ledger, code: str, binder: str, member: str, **kwargs) -> dict:
    before = snapshot(ledger, binder, member)
    result = bind(ledger, binder, member, **kwargs)
    assert not result["ok"] and result["error"]["code"] == code, result
    assert result["error"]["recorded"] is True
    assert_only_rejection_recorded(ledger, before)
    return result


@pytest.fixture
def family(ledger: Ledger):
    binder = ledger.enroll(adult(1))
    kids = [ledger.enroll(minor(10 + n), insurance="resident") for n in range(8)]
    return binder, kids


def make_ledger(rules: str) -> Ledger:
    """A ledger where the what-if variant `rules` is in force in Beijing, where these stories
    live (a what-if app stores nothing, so a story over several commands needs it in force)."""
    catalogue = load_catalogue()
    catalogue.variants[rules] = dataclasses.replace(catalogue.variants[rules], regions=("11",))
    return Ledger(LedgerApp(settings_for("memory://"), catalogue=catalogue))


# --- accepted binds ----------------------------------------------------------------------
def test_bind_shows_on_both_people_with_the_rule_version(ledger, family):
    binder, kids = family
    result = bound(ledger, binder, kids[0], channel="wechat")
    assert result["rule_version"] == NATIONAL
    assert result["binder"] == masked(binder) and result["member"] == masked(kids[0])
    member_id = ledger.app.person_ref(kids[0], "m")[0]
    tie = ledger.person(binder).members[member_id]
    assert (tie["relationship"], tie["kind"], tie["channel"]) == ("child", "child", "wechat")
    assert len(ledger.person(kids[0]).binders) == 1
    started = [e for e in events_of(ledger, kids[0]) if type(e).__name__ == "BindingStarted"]
    assert started[0].role == "member" and started[0].rule_version == NATIONAL


def test_either_side_may_unbind_and_the_binding_ends_on_both(ledger, family):
    binder, kids = family
    bound(ledger, binder, kids[0])
    bound(ledger, binder, kids[1])
    ledger.ok("unbind", binder=binder, member=kids[0], reason="binder_request", at=march(4))
    result = ledger.ok("unbind", binder=binder, member=kids[1], reason="member_request", at=march(4))
    assert result["initiated_by"] == "member"
    assert ledger.person(binder).members == {}
    assert ledger.person(kids[1]).binders == {}
    ended = [e for e in events_of(ledger, kids[1]) if type(e).__name__ == "BindingEnded"]
    assert (ended[0].reason, ended[0].initiated_by, ended[0].role) == ("member_request", "member", "member")


def test_rejects_unbind_whose_initiator_contradicts_the_reason(ledger, family):
    binder, kids = family
    bound(ledger, binder, kids[0])
    before = snapshot(ledger, binder, kids[0])
    result = ledger.refused(
        "unbind",
        "INVALID_INPUT",
        binder=binder,
        member=kids[0],
        reason="binder_request",
        initiated_by="member",
        at=march(4),
    )
    assert result["error"]["field"] == "initiated_by"
    assert_unchanged(ledger, before)


# --- binder limits (national) --------------------------------------------------------------
def test_rejects_bind_when_binder_already_has_five_active_members(ledger, family):
    binder, kids = family
    for kid in kids[:3]:
        bound(ledger, binder, kid, when=at(2))
    for kid in kids[3:5]:
        bound(ledger, binder, kid, when=march(3))
    result = refused(ledger, "MEMBER_LIMIT", binder, kids[5], when=march(4))
    assert result["error"]["rule"] == "binding.members_active_max"
    assert result["error"]["rule_version"] == NATIONAL
    ledger.ok("unbind", binder=binder, member=kids[0], reason="binder_request", at=march(5))
    bound(ledger, binder, kids[5], when=march(6))  # room again; only 3 new this month


def test_rejects_sixth_new_member_in_a_month_even_after_an_unbind(ledger, family):
    binder, kids = family
    for kid in kids[:5]:
        bound(ledger, binder, kid, when=march(3))
    ledger.ok("unbind", binder=binder, member=kids[0], reason="binder_request", at=march(4))
    assert len(ledger.person(binder).members) == 4
    result = refused(ledger, "MONTHLY_BIND_LIMIT", binder, kids[5], when=march(31, 23, 59))
    assert result["error"]["rule"] == "binding.members_new_per_month_max"
    bound(ledger, binder, kids[5], when=at(4, 1))


def test_monthly_bind_quota_counts_natural_months_in_china_time(ledger, family):
    binder, kids = family
    for kid in kids[:5]:
        bound(ledger, binder, kid, when=march(2))
    ledger.ok("unbind", binder=binder, member=kids[0], reason="binder_request", at=march(4))
    refused(ledger, "MONTHLY_BIND_LIMIT", binder, kids[5], when="2025-03-31T15:59:59Z")
    bound(ledger, binder, kids[5], when="2025-03-31T17:00:00Z")  # 01:00 on 1 April in Beijing


# --- member limits (national) -------------------------------------------------------------
def test_rejects_bind_when_member_gained_two_binders_this_month(ledger):
    binders = [ledger.enroll(adult(n)) for n in (1, 3, 5, 7)]
    child = ledger.enroll(minor(20), insurance="resident")
    bound(ledger, binders[0], child, when=march(1))
    bound(ledger, binders[1], child, when=march(2))
    result = refused(ledger, "MEMBER_MONTHLY_BINDERS_LIMIT", binders[2], child, when=march(3))
    assert result["error"]["rule"] == "binding.binders_new_per_month_max"
    ledger.ok("unbind", binder=binders[0], member=child, reason="binder_request", at=march(4))
    refused(ledger, "MEMBER_MONTHLY_BINDERS_LIMIT", binders[2], child, when=march(5))


def test_member_has_no_total_cap_on_binders_under_national_rules(ledger):
    binders = [ledger.enroll(adult(n)) for n in (1, 3, 5, 7)]
    child = ledger.enroll(minor(20), insurance="resident")
    for binder, month in zip(binders, (1, 1, 2, 3), strict=True):
        bound(ledger, binder, child, when=at(month))
    assert len(ledger.person(child).binders) == 4


# --- identity check -----------------------------------------------------------------------
def test_rejects_documents_only_bind_of_a_member_aged_sixteen(ledger):
    binder = ledger.enroll(adult(1))
    teen = ledger.enroll(minor(22, birth="20090303"), insurance="resident")  # 16 on 2025-03-03
    result = refused(ledger, "FACE_VERIFICATION_REQUIRED", binder, teen, when=march(3))
    assert result["error"]["rule"] == "binding.face_verification_age_min"
    bound(ledger, binder, teen, when=march(3, 10), verification="counter")


def test_binds_member_aged_sixteen_by_face(ledger):
    binder = ledger.enroll(adult(1))
    teen = ledger.enroll(minor(22, birth="20090303"), insurance="resident")
    bound(ledger, binder, teen, when=march(3), verification="face")


def test_binds_member_under_sixteen_with_documents_the_day_before_the_birthday(ledger):
    binder = ledger.enroll(adult(1))
    teen = ledger.enroll(minor(22, birth="20090304"), insurance="resident")  # 15 on 2025-03-03
    result = bound(ledger, binder, teen, when=march(3))
    started = [e for e in events_of(ledger, teen) if type(e).__name__ == "BindingStarted"]
    assert started[0].member_age_years == 15 and result["ok"]


# --- other refusals ---------------------------------------------------------------------------
def test_rejects_bind_of_a_suspended_member(ledger, family):
    binder, kids = family
    ledger.ok("suspend", person=kids[0], at=march(2))
    result = refused(ledger, "PERSON_NOT_ACTIVE", binder, kids[0])
    assert result["error"]["rule"] == "binding.both_active"


def test_rejects_bind_by_a_cancelled_binder(ledger, family):
    binder, kids = family
    ledger.ok("cancel", person=binder, at=march(2))
    refused(ledger, "PERSON_NOT_ACTIVE", binder, kids[0])


def test_rejects_binding_the_same_member_twice(ledger, family):
    binder, kids = family
    bound(ledger, binder, kids[0], when=march(2))
    refused(ledger, "ALREADY_BOUND", binder, kids[0], channel="wechat")


def test_rejects_unbind_of_a_member_who_is_not_bound(ledger, family):
    binder, kids = family
    bound(ledger, binder, kids[0])
    ledger.ok("unbind", binder=binder, member=kids[0], reason="binder_request", at=march(4))
    before = snapshot(ledger, binder, kids[0])
    ledger.refused("unbind", "NOT_BOUND", binder=binder, member=kids[0], reason="binder_request", at=march(5))
    ledger.refused("unbind", "NOT_BOUND", binder=kids[0], member=binder, reason="binder_request", at=march(5))
    assert_unchanged(ledger, before)


def test_rejects_binding_oneself_without_recording_anything(ledger, family):
    binder, _ = family
    before = snapshot(ledger, binder)
    result = ledger.refused(
        "bind",
        "INVALID_INPUT",
        binder=binder,
        member=binder,
        relationship="spouse",
        channel="alipay",
        verification="face",
    )
    assert result["error"]["field"] == "member"
    assert_unchanged(ledger, before)


def test_rejects_bind_with_an_unknown_person_without_recording_anything(ledger, family):
    binder, _ = family
    before = snapshot(ledger, binder)
    result = bind(ledger, binder, minor(99))
    assert result["error"]["code"] == "UNKNOWN_PERSON" and result["error"]["field"] == "member"
    assert_unchanged(ledger, before)


# --- rejected binds are recorded ----------------------------------------------------------
def test_rejected_bind_is_recorded_on_both_people_with_code_rule_and_version(ledger, family):
    binder, kids = family
    ledger.ok("suspend", person=kids[0], at=march(2))
    refused(ledger, "PERSON_NOT_ACTIVE", binder, kids[0], channel="bank_app")
    for raw, role in ((binder, "binder"), (kids[0], "member")):
        event = events_of(ledger, raw)[-1]
        assert type(event).__name__ == "BindRejected"
        assert (event.role, event.code, event.rule, event.rule_version) == (
            role,
            "PERSON_NOT_ACTIVE",
            "binding.both_active",
            NATIONAL,
        )
        assert event.channel == "bank_app"
    assert ledger.person(binder).members == {}


def test_refusals_other_than_binds_record_nothing(ledger, family):
    binder, kids = family
    before = snapshot(ledger, binder, kids[0])
    ledger.refused("enroll", "ALREADY_ENROLLED", person=binder, insurance="employee")
    ledger.refused(
        "authorize", "AUTHORIZER_NOT_ELIGIBLE", authorizer=kids[0], beneficiary=binder, relationship="parent"
    )
    ledger.refused("revoke", "NOT_AUTHORIZED", authorizer=binder, beneficiary=kids[0])
    ledger.refused("unbind", "NOT_BOUND", binder=binder, member=kids[0], reason="binder_request")
    assert_unchanged(ledger, before)
    assert "BindRejected" not in event_names(ledger, binder)


# --- precedence -----------------------------------------------------------------------------
def test_inactive_member_is_reported_before_a_full_binder(ledger, family):
    # Goal: two rules broken at once; the earlier code in BIND_REJECTION_CODES is reported.
    binder, kids = family
    for kid in kids[:5]:
        bound(ledger, binder, kid, when=at(2))
    ledger.ok("suspend", person=kids[5], at=march(1))
    result = refused(ledger, "PERSON_NOT_ACTIVE", binder, kids[5], when=march(2))
    order = BIND_REJECTION_CODES
    assert order.index("PERSON_NOT_ACTIVE") < order.index("MEMBER_LIMIT")
    assert result["error"]["rule"] == "binding.both_active"


def test_missing_face_check_is_reported_before_the_member_monthly_limit(ledger):
    binders = [ledger.enroll(adult(n)) for n in (1, 3, 5)]
    grandma = ledger.enroll(adult(40, birth="19500101"))
    bound(ledger, binders[0], grandma, relationship="parent", verification="face")
    bound(ledger, binders[1], grandma, relationship="parent", verification="face")
    refused(ledger, "FACE_VERIFICATION_REQUIRED", binders[2], grandma, relationship="parent")
    refused(ledger, "MEMBER_MONTHLY_BINDERS_LIMIT", binders[2], grandma, relationship="parent", verification="face")


def test_full_binder_is_reported_before_the_member_monthly_limit(ledger):
    binder = ledger.enroll(adult(1))
    others = [ledger.enroll(adult(n)) for n in (3, 5)]
    kids = [ledger.enroll(minor(10 + n), insurance="resident") for n in range(6)]
    for kid in kids[:5]:
        bound(ledger, binder, kid, when=at(2))
    bound(ledger, others[0], kids[5], when=march(1))
    bound(ledger, others[1], kids[5], when=march(1))
    refused(ledger, "MEMBER_LIMIT", binder, kids[5], when=march(2))


# --- Anhui: re-bind waiting period ----------------------------------------------------------
def test_rejects_rebind_within_five_minutes_of_an_unbind_in_anhui(ledger):
    binder = ledger.enroll(adult(1, region="340104"))
    child = ledger.enroll(minor(20, region="340104"), insurance="resident")
    bound(ledger, binder, child, when=march(3, 8))
    ledger.ok("unbind", binder=binder, member=child, reason="binder_request", at=march(3, 9))
    result = refused(ledger, "REBIND_COOLDOWN", binder, child, when=march(3, 9, 4, 59))
    assert result["error"]["rule_version"] == "anhui+" + NATIONAL
    assert result["error"]["rule"] == "binding.rebind_wait_minutes"
    bound(ledger, binder, child, when=march(3, 9, 5))


def test_rebind_right_after_an_unbind_is_allowed_outside_anhui(ledger, family):
    binder, kids = family
    bound(ledger, binder, kids[0], when=march(3, 8))
    ledger.ok("unbind", binder=binder, member=kids[0], reason="binder_request", at=march(3, 9))
    bound(ledger, binder, kids[0], when=march(3, 9, 0, 1))


# --- seed variants ---------------------------------------------------------------------------
def test_seed_000_rejects_a_member_actively_bound_elsewhere():
    ledger = make_ledger("seed-000")
    first, second = ledger.enroll(adult(1)), ledger.enroll(adult(4))
    child = ledger.enroll(minor(20), insurance="resident")
    bound(ledger, first, child, when=march(2))
    result = refused(ledger, "MEMBER_BOUND_ELSEWHERE", second, child, when=march(3))
    assert result["error"]["rule_version"] == "seed-000+" + NATIONAL
    ledger.ok("unbind", binder=first, member=child, reason="binder_request", at=march(4))
    bound(ledger, second, child, when=march(5))


def test_seed_002_caps_a_member_at_six_binders():
    ledger = make_ledger("seed-002")
    binders = [ledger.enroll(adult(2 * n + 1)) for n in range(7)]
    child = ledger.enroll(minor(90), insurance="resident")
    for binder in binders[:6]:
        bound(ledger, binder, child, when=march(2))  # six new binders in a month are allowed
    result = refused(ledger, "MEMBER_BINDERS_LIMIT", binders[6], child, when=at(4))
    assert result["error"]["rule"] == "binding.binders_active_max"


def test_seed_002_caps_new_binders_per_month_at_six_even_after_an_unbind():
    ledger = make_ledger("seed-002")
    binders = [ledger.enroll(adult(2 * n + 1)) for n in range(7)]
    child = ledger.enroll(minor(90), insurance="resident")
    for binder in binders[:6]:
        bound(ledger, binder, child, when=march(2))
    ledger.ok("unbind", binder=binders[0], member=child, reason="binder_request", at=march(3))
    refused(ledger, "MEMBER_MONTHLY_BINDERS_LIMIT", binders[6], child, when=march(4))
    bound(ledger, binders[6], child, when=at(4))


def test_seed_003_allows_one_father_one_mother_one_spouse():
    ledger = make_ledger("seed-003")
    binder = ledger.enroll(adult(1, birth="19900101"))
    father, uncle = ledger.enroll(adult(3, birth="19600101")), ledger.enroll(adult(5, birth="19620101"))
    mother = ledger.enroll(adult(6, birth="19610101"))
    wife, other_wife = ledger.enroll(adult(8, birth="19910101")), ledger.enroll(adult(10, birth="19920101"))
    bound(ledger, binder, father, relationship="parent", verification="face")
    result = refused(ledger, "RELATIONSHIP_LIMIT", binder, uncle, relationship="parent", verification="face")
    assert result["error"]["rule"] == "binding.members_by_kind_max.father"
    bound(ledger, binder, mother, relationship="parent", verification="face")  # female: mother
    bound(ledger, binder, wife, relationship="spouse", verification="face")
    result = refused(ledger, "RELATIONSHIP_LIMIT", binder, other_wife, relationship="spouse", verification="face")
    assert result["error"]["rule"] == "binding.members_by_kind_max.spouse"
    assert result["error"]["rule_version"] == "seed-003+" + NATIONAL


def test_seed_003_allows_three_children_and_six_members_in_all():
    ledger = make_ledger("seed-003")
    binder = ledger.enroll(adult(1, birth="19800101"))
    kids = [ledger.enroll(minor(10 + n), insurance="resident") for n in range(4)]
    father, mother = ledger.enroll(adult(3, birth="19500101")), ledger.enroll(adult(6, birth="19520101"))
    wife, cousin = ledger.enroll(adult(8)), ledger.enroll(adult(12))
    for kid in kids[:3]:
        bound(ledger, binder, kid, when=march(2))
    bound(ledger, binder, father, when=march(2), relationship="parent", verification="face")
    bound(ledger, binder, wife, when=march(2), relationship="spouse", verification="face")
    result = refused(ledger, "RELATIONSHIP_LIMIT", binder, kids[3], when=at(4))
    assert result["error"]["rule"] == "binding.members_by_kind_max.child"
    refused(ledger, "RELATIONSHIP_NOT_ALLOWED", binder, cousin, when=at(4), relationship="other", verification="face")
    bound(ledger, binder, mother, when=at(4), relationship="parent", verification="face")
    refused(ledger, "MEMBER_LIMIT", binder, kids[3], when=at(5))


def test_seed_003_caps_new_binders_per_member_at_two_a_month():
    ledger = make_ledger("seed-003")
    parents = [ledger.enroll(adult(n)) for n in (1, 2, 3)]
    child = ledger.enroll(minor(90), insurance="resident")
    bound(ledger, parents[0], child)
    bound(ledger, parents[1], child)
    refused(ledger, "MEMBER_MONTHLY_BINDERS_LIMIT", parents[2], child)


def test_other_relationship_is_allowed_nationally(ledger):
    binder = ledger.enroll(adult(1))
    cousin = ledger.enroll(adult(12))
    bound(ledger, binder, cousin, relationship="other", verification="counter")

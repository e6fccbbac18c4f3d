"""Account life cycle: suspend/resume, cancel and expire end every tie in both directions,
transfer ends authorizations only."""

from __future__ import annotations

import pytest

from tests.support import Ledger
from tests.support.state import adult, assert_unchanged, events_of, minor, snapshot

T = "2025-03-20T09:00:00+08:00"


@pytest.fixture
def web(ledger: Ledger):
    """`hub` is binder, member, authorizer and beneficiary at once, each with a different person."""
    hub = ledger.enroll(adult(1), balance="100.00")
    member = ledger.enroll(minor(20), insurance="resident")
    binder = ledger.enroll(adult(3, birth="19500101"))
    beneficiary = ledger.enroll(minor(22), insurance="resident")
    authorizer = ledger.enroll(adult(5, birth="19520101"), balance="100.00")
    ledger.ok("bind", binder=hub, member=member, relationship="child", channel="alipay", verification="documents")
    ledger.ok("bind", binder=binder, member=hub, relationship="child", channel="wechat", verification="face")
    ledger.ok("authorize", authorizer=hub, beneficiary=beneficiary, relationship="child")
    ledger.ok("authorize", authorizer=authorizer, beneficiary=hub, relationship="child")
    return {"hub": hub, "member": member, "binder": binder, "beneficiary": beneficiary, "authorizer": authorizer}


def ended_reasons(ledger: Ledger, raw: str) -> list[tuple[str, str, str]]:
    return [
        (type(e).__name__, e.reason, e.initiated_by)
        for e in events_of(ledger, raw)
        if type(e).__name__ in ("BindingEnded", "AuthorizationEnded")
    ]


@pytest.mark.parametrize(
    ("command", "status", "reason"),
    [("cancel", "cancelled", "account_cancelled"), ("expire", "expired", "account_expired")],
)
def test_closing_an_account_ends_every_tie_in_both_directions_with_that_reason(ledger, web, command, status, reason):
    # Goal: the closed person's four kinds of tie all end, on both sides, with the closing reason.
    result = ledger.ok(command, person=web["hub"], reason="moved abroad", at=T)
    assert result["status"] == status
    assert result["ended"] == {"bindings": 2, "authorizations": 2}
    hub = ledger.person(web["hub"])
    assert (hub.members, hub.binders, hub.beneficiaries, hub.authorizers) == ({}, {}, {}, {})
    assert ledger.person(web["member"]).binders == {}
    assert ledger.person(web["binder"]).members == {}
    assert ledger.person(web["beneficiary"]).authorizers == {}
    assert ledger.person(web["authorizer"]).beneficiaries == {}
    for other, kind in (
        ("member", "BindingEnded"),
        ("binder", "BindingEnded"),
        ("beneficiary", "AuthorizationEnded"),
        ("authorizer", "AuthorizationEnded"),
    ):
        assert ended_reasons(ledger, web[other]) == [(kind, reason, "system")], other
    assert sorted(ended_reasons(ledger, web["hub"])) == sorted(
        [("BindingEnded", reason, "system")] * 2 + [("AuthorizationEnded", reason, "system")] * 2
    )


def test_closed_account_refuses_money_and_a_second_close(ledger, web):
    ledger.ok("cancel", person=web["hub"], at=T)
    before = snapshot(ledger, *web.values())
    ledger.refused("credit", "PERSON_NOT_ACTIVE", person=web["hub"], amount="1.00", source="adjustment", at=T)
    ledger.refused(
        "deduct",
        "PERSON_NOT_ACTIVE",
        settlement_id="S-9",
        patient=web["hub"],
        amount="1.00",
        category="pharmacy",
        institution="P",
        at=T,
    )
    ledger.refused("cancel", "STATUS_CONFLICT", person=web["hub"], at=T)
    ledger.refused("expire", "STATUS_CONFLICT", person=web["hub"], at=T)
    ledger.refused("transfer", "PERSON_NOT_ACTIVE", person=web["hub"], region="120101", at=T)
    assert_unchanged(ledger, before)


def test_former_authorizer_no_longer_pays_after_closing(ledger, web):
    ledger.ok("expire", person=web["authorizer"], at=T)
    result = ledger.ok(
        "deduct", settlement_id="S-1", patient=web["hub"], amount="150.00", category="pharmacy", institution="P", at=T
    )
    assert result["out_of_pocket_fen"] == 5_000
    assert ledger.balance(web["authorizer"]) == 10_000


def test_transfer_ends_authorizations_both_ways_but_keeps_bindings(ledger, web):
    result = ledger.ok("transfer", person=web["hub"], region="110108", at=T)
    assert result["ended"] == {"authorizations": 2}
    hub = ledger.person(web["hub"])
    assert hub.region == "110108"
    assert (hub.beneficiaries, hub.authorizers) == ({}, {})
    assert len(hub.members) == 1 and len(hub.binders) == 1
    assert ended_reasons(ledger, web["authorizer"]) == [("AuthorizationEnded", "transferred", "system")]
    assert ended_reasons(ledger, web["beneficiary"]) == [("AuthorizationEnded", "transferred", "system")]


def test_rejects_transfer_to_the_current_region(ledger, web):
    before = snapshot(ledger, *web.values())
    ledger.refused("transfer", "STATUS_CONFLICT", person=web["hub"], region="110105", at=T)
    assert_unchanged(ledger, before)


def test_suspend_and_resume_follow_the_status_rules(ledger):
    person = ledger.enroll(adult(1))
    ledger.refused("resume", "STATUS_CONFLICT", person=person)
    assert ledger.ok("suspend", person=person, reason="contributions lapsed")["status"] == "suspended"
    before = snapshot(ledger, person)
    ledger.refused("suspend", "STATUS_CONFLICT", person=person)
    assert_unchanged(ledger, before)
    assert ledger.ok("resume", person=person)["status"] == "active"


def test_suspended_person_may_still_receive_credits(ledger):
    person = ledger.enroll(adult(1))
    ledger.ok("suspend", person=person)
    ledger.ok("credit", person=person, amount="5.00", source="transfer_in")
    assert ledger.balance(person) == 500


def test_enrolment_is_once_per_person(ledger):
    person = ledger.enroll(adult(1))
    before = snapshot(ledger, person)
    result = ledger.refused("enroll", "ALREADY_ENROLLED", person=person.lower(), insurance="resident")
    assert result["error"]["field"] == "person"
    assert_unchanged(ledger, before)


def test_commands_about_someone_never_enrolled_are_unknown_person(ledger):
    stranger = adult(77)
    for type_, fields in [
        ("credit", {"person": stranger, "amount": "1.00", "source": "adjustment"}),
        ("suspend", {"person": stranger}),
        ("cancel", {"person": stranger}),
        (
            "deduct",
            {"patient": stranger, "settlement_id": "S", "amount": "1.00", "category": "pharmacy", "institution": "P"},
        ),
    ]:
        result = ledger.refused(type_, "UNKNOWN_PERSON", **fields)
        assert result["error"]["field"] in ("person", "patient")
    assert ledger.do("reverse", settlement_id="S")["error"]["code"] == "UNKNOWN_SETTLEMENT"

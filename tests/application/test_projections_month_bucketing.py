"""Natural months are counted in UTC+8: 2025-03-31T16:00:00Z is already April in Beijing."""

from __future__ import annotations

from infra.readmodels import view_reads
from infra.readmodels.runner import ViewRunner
from tests.support import id_number

LAST_MARCH_SECOND = "2025-03-31T15:59:59Z"  # 23:59:59 on 31 March in UTC+8
FIRST_APRIL_SECOND = "2025-03-31T16:00:00Z"  # 00:00:00 on 1 April in UTC+8


def _quota(ledger, runner, number, month):
    pid, masked, _ = ledger.app.person_ref(number, "person")
    return view_reads.quota_view(runner.views, ledger.app.catalogue, pid, masked, month)


def test_binds_a_second_apart_at_the_utc8_month_boundary_fall_in_different_months(ledger):
    binder = ledger.enroll(id_number(seq=11))
    first = ledger.enroll(id_number(birth="20150101", seq=22))
    second = ledger.enroll(id_number(birth="20160101", seq=24))
    ledger.ok(
        "bind",
        binder=binder,
        member=first,
        relationship="child",
        channel="alipay",
        verification="documents",
        at=LAST_MARCH_SECOND,
    )
    ledger.ok(
        "bind",
        binder=binder,
        member=second,
        relationship="child",
        channel="wechat",
        verification="documents",
        at=FIRST_APRIL_SECOND,
    )
    ledger.ok("unbind", binder=binder, member=first, reason="binder_request", at="2025-04-30T15:59:59Z")
    ledger.refused(
        "bind",
        "ALREADY_BOUND",
        binder=binder,
        member=second,
        relationship="child",
        channel="counter",
        verification="documents",
        at="2025-04-30T16:00:00Z",
    )
    runner = ViewRunner(ledger.app)
    runner.catch_up()

    march, april, may = (_quota(ledger, runner, binder, m) for m in ("2025-03", "2025-04", "2025-05"))
    assert (march["new_members"], april["new_members"], may["new_members"]) == (1, 1, 0)
    zero = {"new_members": 0, "new_binders": 0, "unbinds": 0, "authorizations": 0, "rejected": 0}
    assert march["by_channel"] == {"alipay": {**zero, "new_members": 1}}
    assert april["by_channel"] == {
        "unspecified": {**zero, "unbinds": 1},  # the unbind named no channel
        "wechat": {**zero, "new_members": 1},
    }
    assert april["unbinds"] == {"binder_request": 1} and march["unbinds"] == {}
    assert may["rejected"] == {"ALREADY_BOUND": 1} and april["rejected"] == {}
    # unbinding gives none back
    assert march["remaining"]["new_members"] == 4 and april["remaining"]["new_members"] == 4
    assert _quota(ledger, runner, first, "2025-03")["new_binders"] == 1
    assert _quota(ledger, runner, second, "2025-04")["new_binders"] == 1
    assert _quota(ledger, runner, second, "2025-03")["new_binders"] == 0


def test_quota_json_has_the_documented_shape(ledger):
    binder = ledger.enroll(id_number(seq=11))
    runner = ViewRunner(ledger.app)
    runner.catch_up()
    data = _quota(ledger, runner, binder, "2025-04")
    assert list(data) == [
        "person",
        "month",
        "new_members",
        "new_binders",
        "authorizations",
        "unbinds",
        "rejected",
        "by_channel",
        "remaining",
        "rule_version",
    ]
    assert data["person"] == binder[:6] + "*" * 8 + binder[-4:]
    assert data["remaining"] == {"new_members": 5, "new_binders": 2, "members_active": 5, "binders_active": None}
    assert data["rule_version"] == "national-2024-12-09"
    pid, masked = ledger.app.person_ref(binder, "p")[:2]
    seed_002 = view_reads.quota_view(runner.views, ledger.app.catalogue, pid, masked, "2025-04", "seed-002")
    assert seed_002["rule_version"] == "seed-002+national-2024-12-09" and seed_002["remaining"]["new_binders"] == 6


def test_mutual_aid_flows_are_bucketed_by_utc8_month(ledger):
    parent = ledger.enroll(id_number(seq=11), balance="500.00")
    child = ledger.enroll(id_number(birth="20150101", seq=22), insurance="resident")
    ledger.ok("authorize", authorizer=parent, beneficiary=child, relationship="child")
    ledger.ok(
        "deduct",
        settlement_id="S-APR",
        patient=child,
        amount="10.00",
        category="pharmacy",
        institution="P",
        at="2025-04-30T15:59:59Z",
    )
    ledger.ok(
        "deduct",
        settlement_id="S-MAY",
        patient=child,
        amount="20.00",
        category="pharmacy",
        institution="P",
        at="2025-04-30T16:00:00Z",
    )
    ledger.ok("reverse", settlement_id="S-APR", at="2025-05-01T08:00:00+08:00")
    runner = ViewRunner(ledger.app)
    runner.catch_up()
    pid, masked, _ = ledger.app.person_ref(parent, "person")
    flows = view_reads.balance_detail(runner.views, pid, masked)["flows"]
    child_masked = child[:6] + "*" * 8 + child[-4:]
    assert flows == [
        {
            "month": "2025-04",
            "direction": "paid_for",
            "counterpart": child_masked,
            "paid_fen": 1000,
            "refunded_fen": 0,
            "payments": 1,
            "refunds": 0,
        },
        {
            "month": "2025-05",
            "direction": "paid_for",
            "counterpart": child_masked,
            "paid_fen": 2000,
            "refunded_fen": 1000,
            "payments": 1,
            "refunds": 1,
        },
    ]

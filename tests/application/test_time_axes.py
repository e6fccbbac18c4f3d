"""Time an auditor can trust: effective time (`at`) and recorded time (`recorded_at`).

Goal: no decision is made from its own future, nothing is dated past the ledger's clock, both
times can be asked about, and channels are recorded on every party-initiated change.
Method: a ledger on the in-memory store with an injected clock; stories told through
`apply_line`, state compared before and after each refusal.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.audit.evidence_store import EvidenceStore
from infra.audit.history import person_history
from infra.audit.replay import audit_deduction
from infra.audit.report import compliance_report
from infra.eventstore.application import LedgerApp
from infra.readmodels import view_reads
from infra.readmodels.runner import ViewRunner
from infra.tools.simulate import simulate
from tests.support import Ledger, apply_line, line
from tests.support.backends import settings_for
from tests.support.state import adult, minor, snapshot

FATHER, MOTHER, CHILD = adult(1), adult(2), minor(20)
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    """The ledger's clock, set by the test."""

    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(clock: Clock):
    app = LedgerApp(settings_for("memory://"), clock=clock)
    yield Ledger(app)
    app.close()


def enroll_family(ledger: Ledger) -> None:
    ledger.ok("enroll", person=FATHER, insurance="employee", at="2025-03-01T09:00:00+08:00")
    ledger.ok("enroll", person=CHILD, insurance="resident", at="2025-03-01T09:00:00+08:00")


def test_a_deduction_dated_before_the_money_and_authorization_it_would_use_is_out_of_order(timed: Ledger):
    enroll_family(timed)
    timed.ok("credit", person=FATHER, amount="100.00", source="monthly_contribution", at="2025-05-01T09:00:00+08:00")
    timed.ok("authorize", authorizer=FATHER, beneficiary=CHILD, relationship="child", at="2025-05-02T09:00:00+08:00")
    before = snapshot(timed, FATHER, CHILD)
    refused = timed.refused(
        "deduct",
        "OUT_OF_ORDER",
        settlement_id="S-APRIL",
        patient=CHILD,
        amount="50.00",
        category="pharmacy",
        institution="P1",
        at="2025-04-01T09:00:00+08:00",
    )
    assert refused["error"]["field"] == "at"
    assert CHILD[:6] + "********" + CHILD[-4:] in refused["error"]["message"]
    assert "2025-05-02T09:00:00+08:00" in refused["error"]["message"]
    assert snapshot(timed, FATHER, CHILD) == before
    future = timed.refused(
        "credit",
        "FUTURE_DATED",
        person=FATHER,
        amount="100.00",
        source="monthly_contribution",
        at="2099-05-01T09:00:00+08:00",
    )
    assert future["error"]["field"] == "at"
    assert snapshot(timed, FATHER, CHILD) == before


def test_the_clock_tolerance_is_the_configured_skew(timed: Ledger, clock: Clock):
    enroll_family(timed)
    clock.now = datetime(2025, 5, 1, 1, 0, tzinfo=UTC)
    timed.ok("credit", person=FATHER, amount="1.00", source="adjustment", at="2025-05-01T01:05:00Z")  # 300 s ahead
    timed.refused(
        "credit", "FUTURE_DATED", person=FATHER, amount="1.00", source="adjustment", at="2025-05-01T01:05:01Z"
    )


def test_every_new_event_carries_the_time_the_ledger_decided_it(timed: Ledger, clock: Clock):
    enroll_family(timed)
    clock.now = datetime(2025, 6, 2, 3, 4, 5, tzinfo=UTC)
    timed.ok("credit", person=FATHER, amount="1.00", source="adjustment", at="2025-05-01T09:00:00+08:00")
    events = list(timed.app.events.get(timed.app.person_ref(FATHER, "p")[0]))
    assert events[0].recorded_at == NOW and events[-1].recorded_at == clock.now
    assert events[-1].timestamp == datetime.fromisoformat("2025-05-01T09:00:00+08:00")


def test_duplicates_are_recognised_before_the_time_check(timed: Ledger):
    enroll_family(timed)
    credit = line(
        "credit", person=FATHER, amount="1.00", source="adjustment", at="2025-04-01T09:00:00+08:00", command_id="c-1"
    )
    first = timed.apply_line(credit)
    timed.ok("authorize", authorizer=FATHER, beneficiary=CHILD, relationship="child", at="2025-04-02T09:00:00+08:00")
    deduct = dict(
        settlement_id="S-1",
        patient=CHILD,
        amount="0.50",
        category="pharmacy",
        institution="P1",
        at="2025-04-03T09:00:00+08:00",
    )
    settled = timed.ok("deduct", **deduct)
    timed.ok("credit", person=FATHER, amount="2.00", source="adjustment", at="2025-04-20T09:00:00+08:00")
    timed.ok("credit", person=CHILD, amount="2.00", source="adjustment", at="2025-04-20T09:00:00+08:00")
    assert timed.apply_line(credit) == {**first, "duplicate": True}  # dated before what is recorded
    assert timed.ok("deduct", **deduct) == {**settled, "duplicate": True}


def test_late_but_ordered_entries_show_as_of_but_not_known_before_their_recording(timed: Ledger, clock: Clock):
    clock.now = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    enroll_family(timed)
    clock.now = datetime(2025, 3, 20, 2, 0, tzinfo=UTC)  # recorded on the 20th, effective on the 10th
    timed.ok("credit", person=FATHER, amount="100.00", source="monthly_contribution", at="2025-03-10T09:00:00+08:00")
    app, pid = timed.app, timed.app.person_ref(FATHER, "p")[0]
    as_of_15th = person_history(app, EvidenceStore(app), pid, datetime.fromisoformat("2025-03-15T00:00:00+08:00"))
    assert as_of_15th["state"]["balance_fen"] == 10_000  # in effect on the 15th, as now known
    known_15th = person_history(app, EvidenceStore(app), pid, None, datetime.fromisoformat("2025-03-15T00:00:00+08:00"))
    assert known_15th["state"]["balance_fen"] == 0  # the ledger did not know it yet on the 15th
    assert known_15th["timeline"][-1]["after_known_at"] is True
    both = person_history(
        app,
        EvidenceStore(app),
        pid,
        datetime.fromisoformat("2025-03-15T00:00:00+08:00"),
        datetime.fromisoformat("2025-03-21T00:00:00+08:00"),
    )
    assert both["state"]["balance_fen"] == 10_000
    entry = both["timeline"][-1]
    assert (entry["at"], entry["recorded_at"]) == ("2025-03-10T09:00:00+08:00", "2025-03-20T10:00:00+08:00")


def test_the_deduction_audit_shows_both_times_and_that_no_input_is_from_its_future(timed: Ledger, clock: Clock):
    enroll_family(timed)
    timed.ok("credit", person=FATHER, amount="100.00", source="monthly_contribution", at="2025-03-02T09:00:00+08:00")
    timed.ok("authorize", authorizer=FATHER, beneficiary=CHILD, relationship="child", at="2025-03-03T09:00:00+08:00")
    timed.ok(
        "deduct",
        settlement_id="S-1",
        patient=CHILD,
        amount="30.00",
        category="pharmacy",
        institution="P1",
        at="2025-03-04T09:00:00+08:00",
    )
    result, _, _ = audit_deduction(timed.app, EvidenceStore(timed.app), "S-1")
    assert all(e["recorded_at"] == "2025-06-01T20:00:00+08:00" for e in result["evidence"])
    check = result["time_check"]
    assert check["ok"] is True and check["accounts_read"] == 2 and check["inputs_from_its_future"] == []


def test_channels_are_recorded_on_unbind_authorize_and_revoke_and_counted(timed: Ledger):
    enroll_family(timed)
    timed.ok(
        "bind",
        binder=FATHER,
        member=CHILD,
        relationship="child",
        channel="alipay",
        verification="documents",
        at="2025-03-03T09:00:00+08:00",
    )
    timed.ok(
        "authorize",
        authorizer=FATHER,
        beneficiary=CHILD,
        relationship="child",
        channel="wechat",
        at="2025-03-04T09:00:00+08:00",
    )
    timed.ok("revoke", authorizer=FATHER, beneficiary=CHILD, channel="nhsa_app", at="2025-03-05T09:00:00+08:00")
    timed.ok(
        "unbind",
        binder=FATHER,
        member=CHILD,
        reason="member_request",
        channel="counter",
        at="2025-03-06T09:00:00+08:00",
    )
    timed.ok("authorize", authorizer=FATHER, beneficiary=CHILD, relationship="child", at="2025-03-07T09:00:00+08:00")
    names = {type(e).__name__: e for e in timed.app.events.get(timed.app.person_ref(FATHER, "p")[0])}
    assert names["BindingEnded"].channel == "counter" and names["AuthorizationEnded"].channel == "nhsa_app"
    runner = ViewRunner(timed.app)
    runner.catch_up()
    pid, masked = timed.app.person_ref(FATHER, "p")[:2]
    quota = view_reads.quota_view(runner.views, timed.app.catalogue, pid, masked, "2025-03")
    assert quota["by_channel"]["counter"]["unbinds"] == 1
    assert quota["by_channel"]["wechat"]["authorizations"] == 1
    assert quota["by_channel"]["unspecified"]["authorizations"] == 1
    report = compliance_report(EvidenceStore(timed.app), "2025-03")
    assert report["bindings"]["ended"]["by_channel"] == {"counter": 1}
    assert report["authorizations"]["created_by_channel"] == {"unspecified": 1, "wechat": 1}
    refused = timed.do(
        "unbind", binder=FATHER, member=CHILD, reason="binder_request", channel="pigeon", at="2025-03-08T09:00:00+08:00"
    )
    assert refused["error"]["code"] == "INVALID_INPUT" and refused["error"]["field"] == "channel"


def test_generated_workloads_never_trip_the_time_rules():
    app = LedgerApp(settings_for("memory://"), clock=lambda: datetime(2099, 1, 1, tzinfo=UTC))
    answers = [apply_line(app, text) for text in simulate(150, 6, seed=31)]
    codes = {answer["error"]["code"] for answer in answers if not answer["ok"]}
    app.close()
    assert not codes & {"OUT_OF_ORDER", "FUTURE_DATED"}, codes


# --- the property: no decision reads an event effective after it ---------------------------------
PEOPLE = (FATHER, MOTHER, CHILD)
DAYS = st.integers(min_value=1, max_value=28)


def command(kind: str, day: int, who: int) -> str:
    at = f"2025-04-{day:02d}T09:00:00+08:00"
    person = PEOPLE[who]
    table: dict[str, dict[str, Any]] = {
        "credit": dict(person=person, amount="10.00", source="adjustment"),
        "authorize": dict(authorizer=PEOPLE[who % 2], beneficiary=CHILD, relationship="child"),
        "revoke": dict(authorizer=PEOPLE[who % 2], beneficiary=CHILD),
        "bind": dict(
            binder=PEOPLE[who % 2], member=CHILD, relationship="child", channel="alipay", verification="documents"
        ),
        "unbind": dict(binder=PEOPLE[who % 2], member=CHILD, reason="binder_request"),
        "deduct": dict(
            settlement_id=f"S-{day}-{who}",
            patient=CHILD,
            amount="7.00",
            category="pharmacy",
            institution="P1",
            presented_by=PEOPLE[who % 2],
        ),
    }
    return line(kind, at=at, **table[kind])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["credit", "authorize", "revoke", "bind", "unbind", "deduct"]),
            DAYS,
            st.integers(min_value=0, max_value=2),
        ),
        max_size=25,
    )
)
def test_no_accepted_decision_reads_an_event_effective_after_it(commands):
    app = LedgerApp(settings_for("memory://"), clock=lambda: NOW)
    ledger = Ledger(app)
    for person, insurance in ((FATHER, "employee"), (MOTHER, "employee"), (CHILD, "resident")):
        ledger.ok("enroll", person=person, insurance=insurance, at="2025-04-01T08:00:00+08:00")
    settled = [
        json.loads(text)["settlement_id"]
        for text in (command(*c) for c in commands)
        if apply_line(app, text)["ok"] and json.loads(text)["type"] == "deduct"
    ]
    for person in PEOPLE:  # every decision's own account: effective order is the recorded order
        stamps = [cast(Any, e).timestamp for e in app.events.get(app.person_ref(person, "p")[0])]
        assert stamps == sorted(stamps)
    for settlement_id in settled:  # a deduction's inputs also include accounts it did not change
        assert audit_deduction(app, EvidenceStore(app), settlement_id)[0]["time_check"]["ok"]
    app.close()


def test_the_demo_story_never_trips_the_time_rules():
    from infra.tools.demo import STORY

    app = LedgerApp(settings_for("memory://"))
    answers = [apply_line(app, json.dumps(command)) for _, command in STORY if command]
    app.close()
    codes = {answer["error"]["code"] for answer in answers if not answer["ok"]}
    assert answers and not codes & {"OUT_OF_ORDER", "FUTURE_DATED"}, codes

"""Re-evaluation finds precisely the decisions another rule set would decide differently.

The scenario is built so that, under `seed-000` (exclusive binding), exactly two recorded binds
would be refused (a member already bound elsewhere, in March and in April) and nothing else
changes; under `shanxi` only the deduction split changes; under `seed-002` a recorded refusal
would have been accepted. Re-evaluation writes nothing.
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import LedgerError
from infra.whatif.reevaluate import Reevaluator, resolve_rules
from tests.support import id_number


def masked(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


@pytest.fixture
def scenario(ledger):
    people = {
        "a": ledger.enroll(id_number(seq=11)),
        "b": ledger.enroll(id_number(birth="19820101", seq=13)),
        "c": ledger.enroll(id_number(birth="20150101", seq=22), insurance="resident"),
        "d": ledger.enroll(id_number(birth="19700101", seq=15)),
        "e": ledger.enroll(id_number(birth="20160101", seq=24), insurance="resident"),
        "f": ledger.enroll(id_number(birth="19500101", seq=26)),
        "p1": ledger.enroll(id_number(region="110108", seq=31), balance="3000.00"),
        "p2": ledger.enroll(id_number(region="110108", birth="19810101", seq=42), balance="2000.00"),
        "k": ledger.enroll(id_number(region="110108", birth="20100101", seq=53), insurance="resident"),
    }
    p = people

    def bind(binder, member, relationship, at, verification="documents"):
        return ledger.do(
            "bind",
            binder=p[binder],
            member=p[member],
            relationship=relationship,
            channel="alipay",
            verification=verification,
            at=at,
        )

    assert bind("a", "c", "child", "2025-03-03T09:00:00+08:00")["ok"]
    assert bind("b", "c", "other", "2025-03-05T09:00:00+08:00")["ok"]  # seed-000: MEMBER_BOUND_ELSEWHERE
    assert bind("d", "e", "child", "2025-03-06T09:00:00+08:00")["ok"]
    assert bind("d", "f", "parent", "2025-03-07T09:00:00+08:00")["error"]["code"] == "FACE_VERIFICATION_REQUIRED"
    ledger.ok("unbind", binder=p["a"], member=p["c"], reason="binder_request", at="2025-04-02T09:00:00+08:00")
    assert bind("d", "c", "other", "2025-04-03T09:00:00+08:00")["ok"]  # seed-000: still bound by b
    ledger.ok("authorize", authorizer=p["p1"], beneficiary=p["k"], relationship="child", at="2025-04-04T09:00:00+08:00")
    ledger.ok("authorize", authorizer=p["p2"], beneficiary=p["k"], relationship="child", at="2025-04-04T10:00:00+08:00")
    ledger.ok(
        "deduct",
        settlement_id="S-1",
        patient=p["k"],
        amount="4000.00",
        category="hospital_self_pay",
        institution="H1",
        at="2025-04-05T09:00:00+08:00",
    )
    return people


def test_exclusive_binding_under_seed_000_changes_exactly_two_binds(ledger, scenario):
    p = scenario
    head = ledger.app.recorder.max_notification_id()
    name, catalogue = resolve_rules("seed-000")
    report = Reevaluator(ledger.app, name, catalogue).run().to_dict()
    assert report["rules"] == "seed-000"
    assert report["decisions"] == 8  # five binds (one refused), two authorizations, one deduction
    assert report["changed"] == [
        {
            "at": "2025-03-05T09:00:00+08:00",
            "command": "bind",
            "persons": [masked(p["b"]), masked(p["c"])],
            "recorded": {"ok": True, "code": None},
            "reevaluated": {"ok": False, "code": "MEMBER_BOUND_ELSEWHERE"},
        },
        {
            "at": "2025-04-03T09:00:00+08:00",
            "command": "bind",
            "persons": [masked(p["d"]), masked(p["c"])],
            "recorded": {"ok": True, "code": None},
            "reevaluated": {"ok": False, "code": "MEMBER_BOUND_ELSEWHERE"},
        },
    ]
    assert ledger.app.recorder.max_notification_id() == head  # nothing written


def test_date_range_limits_the_decisions_re_decided(ledger, scenario):
    name, catalogue = resolve_rules("seed-000")
    report = Reevaluator(ledger.app, name, catalogue, date_from=date(2025, 4, 1), date_to=date(2025, 4, 3)).run()
    assert report.decisions == 1
    assert [c.to_dict()["at"] for c in report.changed] == ["2025-04-03T09:00:00+08:00"]
    rows = report.summary_rows()
    assert rows == [
        {
            "month": "2025-04",
            "command": "bind",
            "rule": "binding.exclusive",
            "recorded": "accepted",
            "reevaluated": "MEMBER_BOUND_ELSEWHERE",
            "decisions": 1,
        }
    ]


def test_shanxi_rules_change_only_the_deduction_split(ledger, scenario):
    p = scenario
    name, catalogue = resolve_rules("shanxi")
    report = Reevaluator(ledger.app, name, catalogue).run().to_dict()
    assert report["changed"] == [
        {
            "at": "2025-04-05T09:00:00+08:00",
            "command": "deduct",
            "persons": [masked(p["k"])],
            "recorded": {
                "ok": True,
                "code": None,
                "out_of_pocket_fen": 0,
                "lines": [
                    {"person": masked(p["p1"]), "amount_fen": 300000},
                    {"person": masked(p["p2"]), "amount_fen": 100000},
                ],
            },
            "reevaluated": {
                "ok": True,
                "code": None,
                "out_of_pocket_fen": 200000,
                "lines": [{"person": masked(p["p1"]), "amount_fen": 200000}],
            },
        }
    ]


def test_a_recorded_refusal_that_other_rules_would_accept(ledger):
    member = ledger.enroll(id_number(birth="20150101", seq=22))
    binders = [ledger.enroll(id_number(birth=f"198{i}0101", seq=11 + 2 * i)) for i in range(3)]
    codes = [
        ledger.do(
            "bind",
            binder=b,
            member=member,
            relationship="other",
            channel="wechat",
            verification="documents",
            at=f"2025-05-0{i + 1}T09:00:00+08:00",
        )
        .get("error", {})
        .get("code")
        for i, b in enumerate(binders)
    ]
    assert codes == [None, None, "MEMBER_MONTHLY_BINDERS_LIMIT"]
    name, catalogue = resolve_rules("seed-002")  # 6 new binders a month
    report = Reevaluator(ledger.app, name, catalogue).run()
    assert [(c.recorded, c.reevaluated, c.rule) for c in report.changed] == [
        (
            {"ok": False, "code": "MEMBER_MONTHLY_BINDERS_LIMIT"},
            {"ok": True, "code": None},
            "binding.binders_new_per_month_max",
        )
    ]


def test_a_rule_set_file_can_be_used(ledger, scenario, tmp_path):
    path = tmp_path / "strict.toml"
    path.write_text(
        'kind = "variant"\nname = "strict"\nbase = "national"\neffective_from = 2021-08-01\n'
        "regions = []\n\n[binding]\nexclusive = true\n",
        encoding="utf-8",
    )
    name, catalogue = resolve_rules(str(path))
    report = Reevaluator(ledger.app, name, catalogue).run()
    assert report.rules == "strict" and len(report.changed) == 2
    with pytest.raises(LedgerError):
        resolve_rules(str(tmp_path / "missing.toml"))
    with pytest.raises(LedgerError):
        Reevaluator(ledger.app, "no-such-rules", catalogue)


def test_re_deciding_under_the_recorded_rules_reproduces_every_decision(ledger, monkeypatch):
    """The replay check: each decision under its own recorded rule version (regional variants
    included) comes out as recorded. With a tiny state cache, states are reloaded from the
    store at the right version and the result is the same."""
    from infra.whatif import reevaluate
    from tests.support.workload import Workload

    Workload(ledger.app, persons=80, seed=21).run(6_000)  # a third of the events are command records
    name, catalogue = resolve_rules("recorded")
    report = Reevaluator(ledger.app, name, catalogue).run()
    assert report.decisions > 1_000 and report.changed == []
    seed_000 = Reevaluator(ledger.app, "seed-000", catalogue).run().to_dict()
    assert seed_000["changed"]
    monkeypatch.setattr(reevaluate, "STATES_MAX", 3)
    assert Reevaluator(ledger.app, "seed-000", catalogue).run().to_dict() == seed_000

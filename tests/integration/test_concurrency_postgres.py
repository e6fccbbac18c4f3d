"""Real writers racing on PostgreSQL: each thread has its own LedgerApp (own connection pool) on
the same schema, and all start together at a barrier. Optimistic concurrency with reload-and-
retry must keep every limit and every fen."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from infra.eventstore.application import LedgerApp
from tests.support import Ledger
from tests.support.backends import settings_for
from tests.support.state import adult, events_of, minor

pytestmark = pytest.mark.postgres
WRITERS = 8
T = "2025-03-10T10:00:00+08:00"


def race(url: str, work: Callable[[Ledger, int], list[dict]]) -> list[list[dict]]:
    """Run `work(ledger, n)` in WRITERS threads, each on its own application, started together."""
    barrier = threading.Barrier(WRITERS)

    def writer(n: int) -> list[dict]:
        try:
            app = LedgerApp(settings_for(url))  # the applications start up concurrently too
        except BaseException:
            barrier.abort()  # fail fast instead of leaving the others waiting
            raise
        try:
            barrier.wait(timeout=60)
            return work(Ledger(app), n)
        finally:
            app.close()

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        return list(pool.map(writer, range(WRITERS)))


@pytest.fixture
def setup(pg_url):
    app = LedgerApp(settings_for(pg_url))
    yield Ledger(app)
    app.close()


def test_racing_binders_never_give_a_member_more_than_two_new_binders_a_month(pg_url, setup):
    # Goal: 8 binders bind one child at once; exactly 2 win, the rest are recorded rejections.
    binders = [setup.enroll(adult(2 * n + 1)) for n in range(WRITERS)]
    child = setup.enroll(minor(200), insurance="resident")

    def work(ledger: Ledger, n: int) -> list[dict]:
        return [
            ledger.do(
                "bind",
                binder=binders[n],
                member=child,
                relationship="child",
                channel="alipay",
                verification="documents",
                at=T,
            )
        ]

    results = [r for rs in race(pg_url, work) for r in rs]
    codes = Counter(r["error"]["code"] if not r["ok"] else "OK" for r in results)
    assert codes == {"OK": 2, "MEMBER_MONTHLY_BINDERS_LIMIT": WRITERS - 2}
    member = setup.person(child)
    assert len(member.binders) == 2
    assert member.new_binders_by_month == {"2025-03": 2}
    names = Counter(type(e).__name__ for e in events_of(setup, child))
    assert names == {"PersonEnrolled": 1, "BindingStarted": 2, "BindRejected": WRITERS - 2}
    assert sum(len(setup.person(b).members) for b in binders) == 2


def test_racing_binds_by_one_binder_never_exceed_five_members(pg_url, setup):
    binder = setup.enroll(adult(1))
    kids = [setup.enroll(minor(300 + n), insurance="resident") for n in range(WRITERS)]

    def work(ledger: Ledger, n: int) -> list[dict]:
        return [
            ledger.do(
                "bind",
                binder=binder,
                member=kids[n],
                relationship="child",
                channel="wechat",
                verification="documents",
                at=T,
            )
        ]

    results = [r for rs in race(pg_url, work) for r in rs]
    codes = Counter(r["error"]["code"] if not r["ok"] else "OK" for r in results)
    assert codes == {"OK": 5, "MEMBER_LIMIT": WRITERS - 5}
    assert len(setup.person(binder).members) == 5
    assert sum(len(setup.person(k).binders) for k in kids) == 5


def test_racing_deductions_conserve_money_and_pay_each_settlement_once(pg_url, setup):
    # Goal: 8 writers spend one family's balances at once, each also resubmitting one shared
    # settlement. Method: compare balances before and after with the lines each settlement paid.
    father = setup.enroll(adult(1), balance="300.00")
    mother = setup.enroll(adult(2), balance="500.00")
    child = setup.enroll(minor(20), insurance="resident", balance="100.00")
    for parent in (father, mother):
        setup.ok("authorize", authorizer=parent, beneficiary=child, relationship="child")
    people = (father, mother, child)
    total_before = sum(setup.balance(p) for p in people)

    def work(ledger: Ledger, n: int) -> list[dict]:
        results = [
            ledger.do(
                "deduct",
                settlement_id="S-shared",
                patient=child,
                amount="120.00",
                category="pharmacy",
                institution="P",
                at=T,
            )
        ]
        for k in range(3):
            results.append(
                ledger.do(
                    "deduct",
                    settlement_id=f"S-{n}-{k}",
                    patient=child,
                    amount="70.00",
                    category="hospital_self_pay",
                    institution="H",
                    at=T,
                )
            )
        return results

    results = [r for rs in race(pg_url, work) for r in rs]
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    shared = [r for r in results if r["settlement_id"] == "S-shared"]
    assert sum(not r["duplicate"] for r in shared) == 1
    assert len({str(r["lines"]) for r in shared}) == 1  # every resubmission reports the same split
    firsts = [r for r in results if not r["duplicate"]]
    assert len(firsts) == 1 + 3 * WRITERS
    paid = sum(line["amount_fen"] for r in firsts for line in r["lines"])
    for r in firsts:
        assert sum(line["amount_fen"] for line in r["lines"]) + r["out_of_pocket_fen"] == r["amount_fen"]
    balances = [setup.balance(p) for p in people]
    assert min(balances) >= 0
    assert sum(balances) + paid == total_before
    assert paid == total_before  # 120 + 24 * 70 yuan asked for: everything shareable was spent
    settled = Counter(e.settlement_id for e in events_of(setup, child) if type(e).__name__ == "DeductionSettled")
    assert set(settled.values()) == {1} and len(settled) == 1 + 3 * WRITERS


def test_racing_conflicting_settlements_settle_exactly_one_version(pg_url, setup):
    parent = setup.enroll(adult(1), balance="1000.00")

    def work(ledger: Ledger, n: int) -> list[dict]:
        return [
            ledger.do(
                "deduct",
                settlement_id="S-contested",
                patient=parent,
                amount=f"{10 + n}.00",
                category="pharmacy",
                institution="P",
                at=T,
            )
        ]

    results = [r for rs in race(pg_url, work) for r in rs]
    winners = [r for r in results if r["ok"]]
    assert len(winners) == 1 and winners[0]["duplicate"] is False
    assert Counter(r["error"]["code"] for r in results if not r["ok"]) == {"SETTLEMENT_CONFLICT": WRITERS - 1}
    assert setup.balance(parent) == 100_000 - winners[0]["amount_fen"]


def test_racing_reversals_refund_once(pg_url, setup):
    parent = setup.enroll(adult(1), balance="100.00")
    child = setup.enroll(minor(20), insurance="resident")
    setup.ok("authorize", authorizer=parent, beneficiary=child, relationship="child")
    setup.ok("deduct", settlement_id="S-r", patient=child, amount="60.00", category="pharmacy", institution="P", at=T)

    def work(ledger: Ledger, n: int) -> list[dict]:
        return [ledger.do("reverse", settlement_id="S-r", at=T)]

    results = [r for rs in race(pg_url, work) for r in rs]
    assert sum(r["ok"] for r in results) == 1
    assert Counter(r["error"]["code"] for r in results if not r["ok"]) == {"ALREADY_REVERSED": WRITERS - 1}
    assert setup.balance(parent) == 10_000

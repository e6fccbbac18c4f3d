"""Property: whatever the interleaving of commands on three provincial ledgers, relay rounds,
relay crashes before commit and re-deliveries of steps already delivered, once the relay has
caught up every transfer's identity holds on both sides (earmarked = received = drawn +
returned + outstanding) and the federation's money identity holds to the fen.
Method: hypothesis draws the actions; the ledgers are in memory; reconcile is the oracle,
checked again against each person's own state."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.federation.ledgers import FederatedLedgers
from infra.federation.reconcile import reconcile
from infra.federation.relay import Relay
from infra.federation.routing import route_stream
from infra.provinces.federation_file import Federation
from infra.writing.write_path import Submission
from tests.support import id_number, line
from tests.support.crash import Crash

EARLY = "2025-06-01T09:00:00+08:00"
# (donor, beneficiary) of each family, across the three ledgers
FAMILIES = (
    (id_number("420102", "19550101", 11), id_number("110105", "20150601", 20)),
    (id_number("440103", "19600101", 13), id_number("110105", "20150601", 22)),
    (id_number("110105", "19650101", 15), id_number("420102", "20150601", 24)),
)

actions = st.lists(
    st.one_of(
        st.tuples(st.just("deduct"), st.integers(0, 2), st.integers(1, 40_000)),
        st.tuples(st.just("reverse"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("set-quota"), st.integers(0, 2), st.integers(1, 60_000)),
        st.tuples(st.just("revoke"), st.integers(0, 2), st.just(0)),
        st.tuples(st.just("authorize"), st.integers(0, 2), st.integers(1, 60_000)),
        st.tuples(st.just("relay"), st.just(0), st.just(0)),
        st.tuples(st.just("crash"), st.integers(1, 3), st.just(0)),
        st.tuples(st.just("redeliver"), st.just(0), st.just(0)),
    ),
    max_size=30,
)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


class World:
    def __init__(self) -> None:
        self.ledgers = FederatedLedgers(Federation("memory", {"11": "memory://", "42": "memory://", "44": "memory://"}))
        self.clock = 0
        self.deductions: list[str] = []
        lines = []
        for donor, beneficiary in FAMILIES:
            lines += [line("enroll", person=donor, insurance="employee", at=EARLY),
                      line("credit", person=donor, amount="1000.00", source="adjustment", at=EARLY),
                      line("enroll", person=beneficiary, insurance="resident", at=EARLY)]  # fmt: skip
        self.apply(lines)

    def at(self) -> str:
        self.clock += 1
        return f"2026-02-{1 + self.clock // 1440:02d}T{self.clock // 60 % 24:02d}:{self.clock % 60:02d}:00+08:00"

    def apply(self, lines: list[str]) -> list[dict]:
        return list(route_stream(self.ledgers, lines, batch_size=10, wait_ms=0))

    def act(self, kind: str, a: int, b: int) -> None:
        if kind == "relay":
            Relay(self.ledgers).run_once()
        elif kind == "crash":
            self.crash(a)
        elif kind == "redeliver":
            self.redeliver()
        else:
            self.command(kind, a, b)

    def command(self, kind: str, a: int, b: int) -> None:
        if kind == "reverse":
            if self.deductions:
                self.apply([line("reverse", settlement_id=self.deductions[a % len(self.deductions)], at=self.at())])
            return
        donor, beneficiary = FAMILIES[a]
        fields: dict[str, Any] = {"at": self.at()}
        if kind == "deduct":
            settlement_id = f"S-{len(self.deductions)}"
            answer = self.apply([line("deduct", settlement_id=settlement_id, patient=beneficiary, amount=_yuan(b),
                                      category="pharmacy", institution="H-1", **fields)])[0]  # fmt: skip
            if answer["ok"]:
                self.deductions.append(settlement_id)
        elif kind == "authorize":
            self.apply([line("authorize", authorizer=donor, beneficiary=beneficiary, relationship="grandchild",
                             quota=_yuan(b), **fields)])  # fmt: skip
        elif kind == "set-quota":
            self.apply([line("set-quota", authorizer=donor, beneficiary=beneficiary, quota=_yuan(b), **fields)])
        else:
            self.apply([line("revoke", authorizer=donor, beneficiary=beneficiary, **fields)])

    def crash(self, after_pages: int) -> None:
        """A relay that dies before committing its `after_pages`-th page."""
        calls = []

        def die(source: str, destination: str, position: int) -> None:
            calls.append(position)
            if len(calls) == after_pages:
                raise Crash(f"relay killed before {source}->{destination} at {position}")

        with contextlib.suppress(Crash):
            Relay(self.ledgers, page_size=2, before_commit=die).run_once()

    def redeliver(self) -> None:
        """A second relay that lost its positions: every step from the start, again, in order."""
        relay = Relay(self.ledgers)
        for source, destination in relay.pairs():
            steps = [s for s in relay._steps(source, relay.position(source, destination)) if s[1] == destination]
            old = [s for s in relay._steps(source, 0) if s[1] == destination and s not in steps]
            for _, _, command, _ in old:
                answer = self.ledgers.ledger(destination).commands.execute([Submission(command)])[0]
                assert answer["ok"] and answer.get("duplicate"), answer

    def settle(self) -> dict:
        relay = Relay(self.ledgers)
        for _ in range(6):
            relay.run_once()
        return reconcile(self.ledgers)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=actions)
def test_every_interleaving_keeps_transfers_and_money_exact(actions):
    world = World()
    try:
        world.apply([line("authorize", authorizer=d, beneficiary=b, relationship="grandchild", quota="300.00",
                          at=world.at()) for d, b in FAMILIES])  # fmt: skip
        for kind, a, b in actions:
            world.act(kind, a, b)
        result = world.settle()
        assert result["ok"], result["mismatches"]
        assert result["pending_steps"] == 0 and result["transfers"] >= len(FAMILIES)
        assert result["credited_fen"] - result["paid_fen"] == result["balances_fen"] == 3 * 100_000 - result["paid_fen"]
        for donor, _ in FAMILIES:
            person = world.ledgers.ledger(world.ledgers.home_of_person(donor, "p")).app.get_person(donor)
            open_earmark = sum(t["quota_fen"] - t["drawn_fen"] for t in person.quotas_given.values() if t["open"])
            assert person.earmarked_fen == open_earmark and 0 <= person.earmarked_fen <= person.balance_fen
    finally:
        world.ledgers.close()

"""Property tests of the ledger's invariants over random command sequences (hypothesis).

The cast is fixed (three employees, two resident children, one in another province) so that
random commands hit each other often: authorizations, deductions, duplicates, conflicts,
reversals, suspensions and closures all interleave.
"""

from __future__ import annotations

import copy
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.person import Person
from infra.eventstore.application import LedgerApp
from tests.support import Ledger
from tests.support.backends import settings_for
from tests.support.state import adult, minor

CAST = [adult(1), adult(2), adult(3, birth="19550101"), minor(20), minor(21), adult(5, region="310101")]
INSURANCE = ["employee", "employee", "employee", "resident", "resident", "employee"]
START = datetime.fromisoformat("2025-03-31T20:00:00+08:00")  # sequences cross into April
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

who = st.integers(0, len(CAST) - 1)
fen = st.integers(1, 80_000)
settlement_no = st.integers(0, 5)  # few ids, so duplicates and conflicts happen

credit = st.tuples(st.just("credit"), who, fen)
deduct = st.tuples(
    st.just("deduct"),
    who,
    fen,
    settlement_no,
    st.sampled_from(["pharmacy", "hospital_self_pay", "pharmacy", "fitness"]),
)
reverse = st.tuples(st.just("reverse"), settlement_no)
authorize = st.tuples(st.just("authorize"), who, who, st.sampled_from(["spouse", "parent", "child", "sibling"]))
# Branches of one_of are drawn about equally often: repeats weight money movements up and
# account closures down, so that most sequences keep several people active and tied.
commands = st.one_of(
    credit,
    credit,
    deduct,
    deduct,
    deduct,
    deduct,
    reverse,
    reverse,
    authorize,
    authorize,
    st.tuples(st.just("revoke"), who, who),
    st.tuples(st.just("bind"), who, who, st.sampled_from(["face", "documents"])),
    st.tuples(st.just("unbind"), who, who),
    st.tuples(st.just("suspend"), who),
    st.tuples(st.just("resume"), who),
    st.tuples(st.just("resume"), who),
    st.tuples(st.just("transfer"), who, st.sampled_from(["110108", "310101"])),
    st.one_of(st.tuples(st.just("cancel"), who), st.tuples(st.just("credit"), who, fen)),
)
sequences = st.lists(commands, min_size=6, max_size=40)


def yuan(amount_fen: int) -> str:
    return f"{amount_fen // 100}.{amount_fen % 100:02d}"


def to_fields(command: tuple) -> tuple[str, dict[str, Any]]:
    kind, *args = command
    if kind == "credit":
        return kind, {"person": CAST[args[0]], "amount": yuan(args[1]), "source": "adjustment"}
    if kind in ("authorize", "revoke"):
        fields = {"authorizer": CAST[args[0]], "beneficiary": CAST[args[1]]}
        return kind, fields | ({"relationship": args[2]} if kind == "authorize" else {})
    if kind == "deduct":
        return kind, {
            "settlement_id": f"S-{args[2]}",
            "patient": CAST[args[0]],
            "amount": yuan(args[1]),
            "category": args[3],
            "institution": "P",
        }
    if kind == "reverse":
        return kind, {"settlement_id": f"S-{args[0]}"}
    if kind == "bind":
        return kind, {
            "binder": CAST[args[0]],
            "member": CAST[args[1]],
            "relationship": "other",
            "channel": "alipay",
            "verification": args[2],
        }
    if kind == "unbind":
        return kind, {"binder": CAST[args[0]], "member": CAST[args[1]], "reason": "binder_request"}
    if kind == "transfer":
        return kind, {"person": CAST[args[0]], "region": args[1]}
    return kind, {"person": CAST[args[0]]}


def enroll_cast(ledger: Ledger) -> None:
    """Everyone enrolled; the employees with money; both children aided by two adults."""
    for number, insurance in zip(CAST, INSURANCE, strict=True):
        balance = "500.00" if insurance == "employee" else None
        ledger.enroll(number, insurance=insurance, balance=balance, at="2025-03-01T09:00:00+08:00")
    for authorizer, beneficiary in ((0, 3), (1, 3), (1, 4), (2, 0)):
        ledger.ok(
            "authorize",
            authorizer=CAST[authorizer],
            beneficiary=CAST[beneficiary],
            relationship="child",
            at="2025-03-02T09:00:00+08:00",
        )


def run(ledger: Ledger, sequence: list[tuple], on_result=None) -> list[dict]:
    results = []
    for step, command in enumerate(sequence):
        kind, fields = to_fields(command)
        when = (START + timedelta(hours=step)).isoformat()
        result = ledger.do(kind, at=when, **fields)
        results.append(result)
        if on_result:
            on_result(kind, result)
    return results


def balances(ledger: Ledger) -> dict[str, int]:
    return {number: ledger.balance(number) for number in CAST}


def masked_balances(ledger: Ledger) -> dict[str, int]:
    return {ledger.person(number).masked: ledger.balance(number) for number in CAST}


def new_ledger() -> Ledger:
    ledger = Ledger(LedgerApp(settings_for("memory://")))
    enroll_cast(ledger)
    return ledger


@PROPERTY_SETTINGS
@given(sequences)
def test_balances_never_go_negative(sequence):
    ledger = new_ledger()

    def check(kind, result):
        assert all(value >= 0 for value in balances(ledger).values()), (kind, result)

    run(ledger, sequence, check)


@PROPERTY_SETTINGS
@given(sequences)
def test_deduction_lines_plus_out_of_pocket_equal_the_amount(sequence):
    ledger = new_ledger()
    for command, result in zip(sequence, run(ledger, sequence), strict=True):
        if command[0] == "deduct" and result["ok"]:
            paid = sum(line["amount_fen"] for line in result["lines"])
            assert paid + result["out_of_pocket_fen"] == result["amount_fen"]
            assert all(line["amount_fen"] > 0 for line in result["lines"])
            assert len({line["person"] for line in result["lines"]}) == len(result["lines"])
            if not result["duplicate"]:
                assert result["amount_fen"] == command[2]


@PROPERTY_SETTINGS
@given(sequences)
def test_money_is_conserved_credits_minus_unreversed_deductions(sequence):
    # Goal: no money created or lost. Method: an independent model of every balance built only
    # from the results the ledger printed, compared with the aggregates at the end.
    ledger = new_ledger()
    model = masked_balances(ledger)

    def follow(kind, result):
        if not result["ok"]:
            return
        if kind == "credit":
            model[result["person"]] += result["amount_fen"]
        elif kind == "deduct" and not result["duplicate"]:
            for line in result["lines"]:
                model[line["person"]] -= line["amount_fen"]
        elif kind == "reverse":
            for line in result["refunded"]:
                model[line["person"]] += line["amount_fen"]

    run(ledger, sequence, follow)
    assert masked_balances(ledger) == model


@PROPERTY_SETTINGS
@given(sequences, who, fen)
def test_a_reversal_restores_every_balance(sequence, patient, amount_fen):
    ledger = new_ledger()
    run(ledger, sequence)
    before = balances(ledger)
    when = (START + timedelta(days=10)).isoformat()
    result = ledger.do(
        "deduct",
        settlement_id="PROBE",
        patient=CAST[patient],
        amount=yuan(amount_fen),
        category="pharmacy",
        institution="P",
        at=when,
    )
    if not result["ok"]:
        assert balances(ledger) == before
        return
    reversal = ledger.ok("reverse", settlement_id="PROBE", at=when)
    assert reversal["refunded"] == result["lines"]
    assert balances(ledger) == before


class RecordingLedgerApp(LedgerApp):
    """Keeps a deep copy of each Person as it stood when it was saved: the live aggregate."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.live: dict[Any, dict[str, Any]] = {}

    def save_collected(self, events: Any, aggregates: Any, tracking: Any = None) -> Any:
        recordings = super().save_collected(events, aggregates, tracking)
        for obj in aggregates:
            if isinstance(obj, Person):
                self.live[obj.id] = copy.deepcopy(state_of(obj))
        return recordings


def state_of(person: Person) -> dict[str, Any]:
    return {k: v for k, v in vars(person).items() if k != "_pending_events"}


@PROPERTY_SETTINGS
@given(sequences)
def test_replaying_a_persons_events_rebuilds_the_live_state(sequence):
    app = RecordingLedgerApp(settings_for("memory://"))
    ledger = Ledger(app)
    enroll_cast(ledger)
    run(ledger, sequence)
    assert len(app.live) == len(CAST)
    for person_id, live in app.live.items():
        assert state_of(app.repository.get(person_id)) == live


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences)
def test_a_fresh_app_on_the_same_sqlite_file_rebuilds_the_same_state(sequence):
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "ledger.db")
        first = RecordingLedgerApp(settings_for(path))
        ledger = Ledger(first)
        enroll_cast(ledger)
        run(ledger, sequence)
        first.close()
        second = LedgerApp(settings_for(path))
        try:
            for person_id, live in first.live.items():
                assert state_of(second.repository.get(person_id)) == live
        finally:
            second.close()


def test_replay_through_a_snapshot_rebuilds_the_live_state():
    # Goal: a long history (past the snapshot interval) still loads to exactly the live state.
    from infra.eventstore.snapshots import SNAPSHOT_INTERVAL

    app = RecordingLedgerApp(settings_for("memory://"))
    ledger = Ledger(app)
    enroll_cast(ledger)  # CAST[0] already aids CAST[3]
    for step in range(SNAPSHOT_INTERVAL + 5):
        when = (START + timedelta(minutes=step)).isoformat()
        ledger.ok("credit", person=CAST[0], amount="1.00", source="adjustment", at=when)
    ledger.ok(
        "deduct",
        settlement_id="S-long",
        patient=CAST[3],
        amount="3.00",
        category="pharmacy",
        institution="P",
        at=(START + timedelta(days=1)).isoformat(),
    )
    person_id = ledger.person(CAST[0]).id
    assert state_of(app.repository.get(person_id)) == app.live[person_id]
    assert ledger.balance(CAST[0]) == 50_000 + 100 * (SNAPSHOT_INTERVAL + 5) - 300  # the larger balance paid
    assert ledger.person(CAST[0]).version > SNAPSHOT_INTERVAL

"""`ledger --federation F reconcile`: every cross-province transfer and the federation's money,
from the ledgers' logs, to the fen.

Per transfer id, each side's totals from its own events: the authorizer's (earmarked = first
earmark + raises; settled = draws settled - draws undone; returned = releases taken back + draws
undone after the end) and the beneficiary's (received, drawn, released likewise). Both sides must
agree on each, and earmarked = drawn + returned + outstanding on both, outstanding never below
zero. The money identity: credits - what deductions took from accounts (net of reversals) =
the sum of every balance, over all ledgers; and no account has more earmarked than its balance.
Steps still on their way (the relay behind) are reported as one mismatch of their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain import events as ev
from domain.dispatch import topic_of
from domain.person import Person
from infra.core.ledger import Ledger
from infra.federation.ledgers import FederatedLedgers
from infra.federation.relay import Relay
from infra.storage.paging import pages

SIDES = ("earmarked", "settled", "returned")
COUNTED = (
    ev.PersonEnrolled,
    ev.AccountCredited,
    ev.DeductionSettled,
    ev.DeductionReversed,
    ev.QuotaEarmarked,
    ev.QuotaRaised,
    ev.QuotaDrawSettled,
    ev.QuotaDrawUndone,
    ev.QuotaReturned,
    ev.QuotaReceived,
    ev.QuotaRaiseReceived,
    ev.QuotaDrawn,
    ev.QuotaUndrawn,
    ev.QuotaReleased,
)
TOPICS = frozenset(topic_of(cls) for cls in COUNTED)
PAGE_SIZE = 2_000


@dataclass
class Transfer:
    donor: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    beneficiary: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    provinces: dict[str, str] = field(default_factory=dict)  # side -> province


@dataclass
class Money:
    credited_fen: int = 0
    paid_fen: int = 0  # taken from accounts by deductions, net of reversals
    people: set[UUID] = field(default_factory=set)


def _events(ledger: Ledger) -> Iterator[Any]:
    app = ledger.app

    def page(after: int) -> list:
        return app.recorder.log_rows(after, PAGE_SIZE, TOPICS)

    for rows in pages(page, lambda row: row[0], 0, PAGE_SIZE):
        for _, originator_id, version, topic, state in rows:
            if state is not None:
                stored = StoredEvent(UUID(str(originator_id)), version, topic, state)
                yield app.mapper.to_domain_event(stored)


def _count(event: Any, province: str, transfers: dict[str, Transfer], money: Money) -> None:
    if isinstance(event, ev.PersonEnrolled):
        money.people.add(event.originator_id)
    elif isinstance(event, ev.AccountCredited):
        money.credited_fen += event.amount_fen
    elif isinstance(event, (ev.DeductionSettled, ev.DeductionReversed)):
        sign = 1 if isinstance(event, ev.DeductionSettled) else -1
        money.paid_fen += sign * sum(line.amount_fen for line in event.lines)
    else:
        _count_quota(event, province, transfers)


def _count_quota(event: Any, province: str, transfers: dict[str, Transfer]) -> None:
    transfer = transfers.setdefault(event.transfer_id, Transfer())
    donor_side = isinstance(
        event, (ev.QuotaEarmarked, ev.QuotaRaised, ev.QuotaDrawSettled, ev.QuotaDrawUndone, ev.QuotaReturned)
    )
    side = transfer.donor if donor_side else transfer.beneficiary
    transfer.provinces["donor" if donor_side else "beneficiary"] = province
    amount = event.amount_fen
    if isinstance(event, (ev.QuotaEarmarked, ev.QuotaRaised, ev.QuotaReceived, ev.QuotaRaiseReceived)):
        side["earmarked"] += amount
    elif isinstance(event, (ev.QuotaDrawSettled, ev.QuotaDrawn)):
        side["settled"] += amount
    elif isinstance(event, (ev.QuotaDrawUndone, ev.QuotaUndrawn)):
        side["settled"] -= amount
        side["returned"] += amount if event.after_end else 0
    elif isinstance(event, (ev.QuotaReturned, ev.QuotaReleased)):
        side["returned"] += amount


def _transfer_mismatches(transfer_id: str, transfer: Transfer) -> list[dict]:
    found = []
    for name in SIDES:
        if transfer.donor[name] != transfer.beneficiary[name]:
            found.append(
                {
                    "kind": "transfer",
                    "transfer_id": transfer_id,
                    "what": name,
                    "donor_fen": transfer.donor[name],
                    "beneficiary_fen": transfer.beneficiary[name],
                    "provinces": transfer.provinces,
                }
            )
    for who, side in (("donor", transfer.donor), ("beneficiary", transfer.beneficiary)):
        if side["earmarked"] - side["settled"] - side["returned"] < 0:
            found.append({"kind": "outstanding_negative", "transfer_id": transfer_id, "side": who})
    return found


def _balances(ledgers: FederatedLedgers, people: dict[str, set[UUID]]) -> tuple[int, int, list[dict]]:
    """(sum of balances, sum of earmarks, mismatches of accounts earmarking more than they hold)."""
    balance = earmark = 0
    found = []
    for province, ids in people.items():
        repository = ledgers.ledger(province).app.repository
        for person_id in sorted(ids):
            person: Person = repository.get(person_id)
            balance += person.balance_fen
            earmark += person.earmarked_fen
            if person.earmarked_fen > person.balance_fen or person.earmarked_fen < 0:
                found.append({"kind": "earmark_exceeds_balance", "province": province, "person": person.masked})
    return balance, earmark, found


def reconcile(ledgers: FederatedLedgers) -> dict[str, Any]:
    transfers: dict[str, Transfer] = {}
    money = Money()
    people: dict[str, set[UUID]] = defaultdict(set)
    for province, ledger in ledgers.all():
        before = set(money.people)
        for event in _events(ledger):
            _count(event, province, transfers, money)
        people[province] = money.people - before
    mismatches: list[dict] = []
    pending = Relay(ledgers).pending()
    if pending:
        mismatches.append(
            {
                "kind": "relay_behind",
                "steps": pending,
                "message": f"{pending} step(s) not yet delivered: run `ledger relay` first",
            }
        )
    for transfer_id, transfer in sorted(transfers.items()):
        mismatches += _transfer_mismatches(transfer_id, transfer)
    balance_fen, earmarked_fen, found = _balances(ledgers, people)
    mismatches += found
    expected = money.credited_fen - money.paid_fen
    if expected != balance_fen:
        mismatches.append({"kind": "money", "credited_minus_paid_fen": expected, "balances_fen": balance_fen})
    outstanding = sum(t.donor["earmarked"] - t.donor["settled"] - t.donor["returned"] for t in transfers.values())
    if outstanding != earmarked_fen:
        mismatches.append({"kind": "earmarks", "outstanding_fen": outstanding, "earmarked_fen": earmarked_fen})
    return {
        "transfers": len(transfers),
        "mismatches": mismatches,
        "ok": not mismatches,
        "ledgers": list(ledgers.provinces),
        "pending_steps": pending,
        "credited_fen": money.credited_fen,
        "paid_fen": money.paid_fen,
        "balances_fen": balance_fen,
        "earmarked_fen": earmarked_fen,
        "outstanding_fen": outstanding,
    }

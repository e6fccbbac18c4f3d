"""The pure allocation of a deduction across accounts.

Who may pay, in which order and how much each may give are rule-set choices; the invariants
(no balance below zero, lines plus out-of-pocket equal the amount) are checked here in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.errors import LedgerInvariantError
from domain.rules.model import SpendingRules


@dataclass(frozen=True)
class Account:
    """An account that might pay: the patient's own, or an authorizer's."""

    person: UUID
    masked: str
    balance_fen: int
    is_patient: bool
    authorized_at: datetime | None = None  # None for the patient
    active: bool = True
    transfer_id: str | None = None  # a cross-province quota received (balance_fen: what is left of it)


@dataclass(frozen=True)
class Candidate:
    person: UUID
    masked: str
    balance_before_fen: int
    available_fen: int
    authorized_at: datetime | None
    rank: int | None  # 1-based paying order; None when excluded
    why: str


@dataclass(frozen=True)
class Allocation:
    candidates: tuple[Candidate, ...]
    lines: tuple[tuple[UUID, str, int], ...]  # (person, masked, amount_fen) in paying order
    out_of_pocket_fen: int


def _order_key(rules: SpendingRules):
    def key(account: Account):
        at = account.authorized_at.timestamp() if account.authorized_at else 0.0
        if rules.order == "most_recent_first":
            return (-at, str(account.person))
        return (-account.balance_fen, at, str(account.person))

    return key


def _why(rules: SpendingRules, account: Account, available: int) -> str:
    if account.is_patient:
        return "patient's own account, used " + ("first" if rules.own_account_first else "last")
    if not account.active:
        return "authorizer is not active: excluded"
    if account.transfer_id is not None:
        basis = "cross-province quota earmarked by the authorizer, in the authorizers' order"
        return basis + (" (most recently authorized first)" if rules.order == "most_recent_first" else "")
    if rules.order == "most_recent_first":
        basis = "most recently authorized first"
    else:
        basis = "largest balance first; ties to the earlier authorization, then by id"
    if rules.shareable_above_fen:
        basis += f"; only the balance above {rules.shareable_above_fen} fen may be shared ({available} fen)"
    return basis


def allocate(amount_fen: int, patient: Account, authorizers: list[Account], rules: SpendingRules) -> Allocation:
    if amount_fen <= 0:
        raise LedgerInvariantError("allocate: amount must be positive")
    ordered = sorted((a for a in authorizers if a.active), key=_order_key(rules))
    excluded = sorted((a for a in authorizers if not a.active), key=lambda a: str(a.person))
    sequence = [patient, *ordered] if rules.own_account_first else [*ordered, patient]
    remaining = amount_fen
    lines: list[tuple[UUID, str, int]] = []
    candidates: list[Candidate] = []
    authorizers_used = 0
    for rank, account in enumerate(sequence, start=1):
        kept = 0 if account.is_patient or account.transfer_id is not None else rules.shareable_above_fen
        available = max(0, account.balance_fen - kept)
        why = _why(rules, account, available)
        if not account.is_patient and rules.single_authorizer and authorizers_used:
            available = 0
            why += "; not used: one authorizer per settlement"
        take = min(available, remaining)
        if take > 0:
            lines.append((account.person, account.masked, take))
            remaining -= take
            authorizers_used += 0 if account.is_patient else 1
        candidates.append(
            Candidate(account.person, account.masked, account.balance_fen, available, account.authorized_at, rank, why)
        )
    for account in excluded:
        candidates.append(
            Candidate(
                account.person,
                account.masked,
                account.balance_fen,
                0,
                account.authorized_at,
                None,
                _why(rules, account, 0),
            )
        )
    allocation = Allocation(tuple(candidates), tuple(lines), remaining)
    check_allocation(amount_fen, allocation, {a.person: a.balance_fen for a in [patient, *authorizers]})
    return allocation


def check_allocation(amount_fen: int, allocation: Allocation, balances: dict[UUID, int]) -> None:
    """The ledger invariants of a split. Raises (never asserts) so `python -O` keeps them."""
    paid = sum(amount for _, _, amount in allocation.lines)
    if paid + allocation.out_of_pocket_fen != amount_fen or allocation.out_of_pocket_fen < 0:
        raise LedgerInvariantError(f"split {paid}+{allocation.out_of_pocket_fen} != {amount_fen}")
    for person, _, amount in allocation.lines:
        if amount <= 0 or amount > balances[person]:
            raise LedgerInvariantError(f"line of {amount} fen exceeds balance {balances[person]} of {person}")
    if len({person for person, _, _ in allocation.lines}) != len(allocation.lines):
        raise LedgerInvariantError("an account appears twice in one split")

"""The per-person aggregate.

Public methods check what one person alone can check and then trigger events; decisions that
need two or more people live in `binding.py`, `mutual_aid.py` and `deduction.py`, which call
the `record_*` methods here once they have decided. `apply` on each event only assigns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate

from domain import events as ev
from domain.errors import (
    BalanceLimitExceededError,
    NoPersonalAccountError,
    PersonNotActiveError,
    StatusConflictError,
)
from domain.ids import person_id

# The most a personal account may hold: 100 million yuan, ten times the largest single amount
# (domain.money.AMOUNT_FEN_MAX, 10 million yuan) and far beyond any real account. A credit past
# it is refused (BALANCE_LIMIT_EXCEEDED). With both bounds no view column can overflow 64 bits
# (2**63 - 1 fen is about 9.2e18):
# - a balance is at most BALANCE_FEN_MAX (1e10) plus the refunds of reversed deductions, and a
#   refund only returns what a deduction took from that balance earlier;
# - every other money column (credited, paid, refunded, aid flows per pair and month) only grows,
#   by at most AMOUNT_FEN_MAX (1e9) per event on that person, so it needs more than 9.2 billion
#   events on one person's account to reach 2**63; counters (payments, refunds, quota counts)
#   grow by one per event; `since_us` is microseconds of an `at` before 2100 (below 4.2e15).
# No view sums money across people; reports that do add up in Python integers.
BALANCE_FEN_MAX = 10_000_000_000


class Person(BaseAggregate[UUID]):
    masked: str
    region: str
    insurance: str
    status: str

    def init_state(self) -> None:
        self.balance_fen = 0
        self.members: dict[UUID, dict[str, Any]] = {}  # as binder: member -> tie
        self.binders: dict[UUID, dict[str, Any]] = {}  # as member: binder -> tie
        self.new_members_by_month: dict[str, int] = {}
        self.new_binders_by_month: dict[str, int] = {}
        self.last_unbound_at: dict[UUID, datetime] = {}
        self.beneficiaries: dict[UUID, dict[str, Any]] = {}  # as authorizer
        self.authorizers: dict[UUID, dict[str, Any]] = {}  # as beneficiary
        self.deductions_count = 0  # as patient; each settlement's record is its own aggregate
        self.earmarked_fen = 0  # as authorizer: set aside as cross-province quotas (domain.quota)
        self.quotas_given: dict[str, dict[str, Any]] = {}  # as authorizer: transfer id -> tie
        self.quotas_received: dict[str, dict[str, Any]] = {}  # as beneficiary: transfer id -> tie

    @property
    def spendable_fen(self) -> int:
        """What this account may pay now: the balance less what is earmarked as quotas."""
        return self.balance_fen - self.earmarked_fen

    def open_quota_given(self, beneficiary: UUID) -> str | None:
        """The transfer id of the open quota this authorizer gives `beneficiary`, if any (one whose
        end was requested from another ledger is no longer open here)."""
        found = [
            t
            for t, tie in self.quotas_given.items()
            if tie["open"] and not tie["ending"] and tie["beneficiary"] == beneficiary
        ]
        return found[0] if found else None

    def open_quota_received(self, donor: UUID) -> str | None:
        found = [t for t, tie in self.quotas_received.items() if tie["open"] and tie["donor"] == donor]
        return found[0] if found else None

    # --- life cycle ---------------------------------------------------------------------
    @classmethod
    def enroll(cls, *, pseudonym: str, masked: str, region: str, insurance: str, at: datetime) -> Person:
        return cls._create(
            ev.PersonEnrolled,  # type: ignore[arg-type]  # pydantic event; library types it nominally
            id=person_id(pseudonym),
            masked=masked,
            region=region,
            insurance=insurance,
            timestamp=at,
        )

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def is_closed(self) -> bool:
        return self.status in ("cancelled", "expired")

    def require_active(self, role: str) -> None:
        if not self.is_active:
            raise PersonNotActiveError(f"{role} {self.masked} is {self.status}, not active")

    def require_open(self, role: str) -> None:
        if self.is_closed:
            raise PersonNotActiveError(f"{role} {self.masked} is {self.status}")

    def suspend(self, *, reason: str, at: datetime) -> None:
        if self.status != "active":
            raise StatusConflictError(f"person {self.masked} is {self.status}; only an active person can be suspended")
        self.trigger_event(ev.PersonSuspended, reason=reason, timestamp=at)  # type: ignore[arg-type]  # pydantic event; library types it nominally

    def resume(self, *, at: datetime) -> None:
        if self.status != "suspended":
            raise StatusConflictError(f"person {self.masked} is {self.status}; only a suspended person can resume")
        self.trigger_event(ev.PersonResumed, timestamp=at)  # type: ignore[arg-type]  # pydantic event; library types it nominally

    def close(self, *, status: str, reason: str, at: datetime) -> None:
        """Cancel or expire; ending the ties is the caller's job (it needs the counterparts)."""
        if self.is_closed:
            raise StatusConflictError(f"person {self.masked} is already {self.status}")
        event_class = ev.PersonCancelled if status == "cancelled" else ev.PersonExpired
        self.trigger_event(event_class, reason=reason, timestamp=at)  # type: ignore[arg-type]  # pydantic event; library types it nominally

    def transfer(self, *, region: str, at: datetime) -> None:
        self.require_open("person")
        if region == self.region:
            raise StatusConflictError(f"person {self.masked} is already in region {region}")
        self.trigger_event(ev.PersonTransferred, region_from=self.region, region_to=region, timestamp=at)  # type: ignore[arg-type]  # pydantic event; library types it nominally

    def credit(self, *, amount_fen: int, source: str, at: datetime) -> None:
        self.require_open("person")
        if self.insurance != "employee" and source == "monthly_contribution":
            raise NoPersonalAccountError(f"person {self.masked} is resident-insured: no personal-account contributions")
        if self.balance_fen + amount_fen > BALANCE_FEN_MAX:
            raise BalanceLimitExceededError(
                f"amount: the balance would exceed {BALANCE_FEN_MAX // 100} yuan", field="amount"
            )
        self.trigger_event(ev.AccountCredited, amount_fen=amount_fen, source=source, timestamp=at)  # type: ignore[arg-type]  # pydantic event; library types it nominally

    # --- recorders used by the multi-person decisions -----------------------------------
    def record(self, event_class: type[ev.DomainEvent], **fields: Any) -> None:
        self.trigger_event(event_class, **fields)  # type: ignore[arg-type]  # pydantic event; library types it nominally

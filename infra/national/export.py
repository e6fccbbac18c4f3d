"""What the ledger recorded for one settlement, written back as a 2207 `setlinfo`.

The ledger's own decision fills the fields it decides (`acct_pay`, `acct_mulaid_pay`,
`psn_cash_pay`, `balc`), exactly as `discrepancies` compares them, so the export of a settlement
compared with its own decision gives no discrepancy; the kept platform record fills the rest. A
settlement recorded without a platform record (a deduction sent with `apply`) has `null` where
only the platform knows the value. `certno` is always masked. A 3202 detail line is the setlinfo
and the row's `refd_setl_flag`, `1` when the settlement was reversed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.clock import CST, local_date
from domain.errors import LedgerInvariantError
from domain.money import format_fen
from domain.rules.model import NationalRules
from infra.national.discrepancies import LedgerDecision, reported_fen
from infra.national.platform_record import PlatformRecord

SETLINFO_FIELDS = (
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "psn_cert_type",
    "certno",
    "insutype",
    "setl_time",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "acct_mulaid_pay",
    "balc",
    "medins_setl_id",
    "clr_optins",
    "clr_way",
    "clr_type",
)
AMOUNT_FIELDS = frozenset(
    ("medfee_sumamt", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "acct_mulaid_pay", "balc")
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # the platform's yyyy-MM-dd HH:mm:ss


@dataclass(frozen=True)
class RecordedLine:
    person_masked: str
    amount_fen: int
    own: bool  # paid from the patient's own account


@dataclass(frozen=True)
class RecordedSettlement:
    """One settlement as the ledger recorded it. `amount_fen` 0 with no lines is a settlement the
    accounts did not pay (no deduction); it exists only with its platform record."""

    settlement_id: str
    institution: str
    at: datetime
    amount_fen: int
    lines: tuple[RecordedLine, ...]
    out_of_pocket_fen: int
    patient_masked: str
    balance_after_fen: int  # the patient's own balance right after the settlement
    reversed_at: datetime | None = None
    platform: PlatformRecord | None = None

    def __post_init__(self) -> None:
        if sum(line.amount_fen for line in self.lines) + self.out_of_pocket_fen != self.amount_fen:
            raise LedgerInvariantError(
                f"settlement {self.settlement_id}: lines and out of pocket must sum to the amount"
            )
        if self.amount_fen == 0 and self.platform is None:
            raise LedgerInvariantError(f"settlement {self.settlement_id}: no deduction and no platform record")
        if self.amount_fen > 0 and self.platform is not None and self.platform.psn_part_amt_fen != self.amount_fen:
            raise LedgerInvariantError(f"settlement {self.settlement_id}: the amount is not the record's psn_part_amt")

    @property
    def psn_part_amt_fen(self) -> int:
        return self.platform.psn_part_amt_fen if self.platform is not None else self.amount_fen

    @property
    def decision(self) -> LedgerDecision:
        if self.amount_fen == 0:
            return LedgerDecision.nothing_paid(self.psn_part_amt_fen, self.balance_after_fen)
        own = sum(line.amount_fen for line in self.lines if line.own)
        aid = sum(line.amount_fen for line in self.lines if not line.own)
        return LedgerDecision(own, aid, self.out_of_pocket_fen, self.balance_after_fen)

    def reversed_by(self, until: date | None) -> bool:
        """Reversed at all (`until` None), or by the end of that day in UTC+8."""
        if self.reversed_at is None:
            return False
        return until is None or local_date(self.reversed_at) <= until


def export_setlinfo(recorded: RecordedSettlement, rules: NationalRules) -> dict[str, Any]:
    """The settlement as a 2207 setlinfo (amounts as two-decimal yuan strings); `rules` are the
    settings of the rule set the deduction was decided under."""
    platform = recorded.platform
    kept: dict[str, Any] = (
        {
            "mdtrt_id": platform.mdtrt_id,
            "psn_no": platform.psn_no,
            "psn_cert_type": platform.psn_cert_type,
            "certno": platform.certno_masked,
            "insutype": platform.insutype,
            "medfee_sumamt": format_fen(platform.medfee_sumamt_fen),
            "fund_pay_sumamt": format_fen(platform.fund_pay_sumamt_fen),
            "medins_setl_id": platform.medins_setl_id,
            "clr_optins": platform.clr_optins,
            "clr_way": platform.clr_way,
            "clr_type": platform.clr_type,
        }
        if platform is not None
        else {"psn_cert_type": "01", "certno": recorded.patient_masked}  # the ledger's patients hold resident IDs
    )
    decided = {name: format_fen(fen) for name, fen in reported_fen(recorded.decision, rules).items()}
    row = {
        **kept,
        **decided,
        "setl_id": recorded.settlement_id,
        "setl_time": recorded.at.astimezone(CST).strftime(TIME_FORMAT),
        "psn_part_amt": format_fen(recorded.psn_part_amt_fen),
    }
    return {name: row.get(name) for name in SETLINFO_FIELDS}


def export_detail_line(
    recorded: RecordedSettlement, rules: NationalRules, *, until: date | None = None
) -> dict[str, Any]:
    """The settlement as a 3202 detail line: its setlinfo and `refd_setl_flag`, `1` when it was
    reversed (by the end of `until` in UTC+8, when given). What `ledger export national` writes."""
    return export_setlinfo(recorded, rules) | {"refd_setl_flag": "1" if recorded.reversed_by(until) else "0"}

"""Where a platform record's figures differ from the ledger's own decision for that settlement.

The ledger's decision stands; a record never changes it. Each differing field is named with both
values, so nothing the platform says is silently adopted or silently dropped. Four fields are
compared, in this order:

- `acct_pay`: the patient's own account (plus relatives' mutual aid where the province reports
  them together: `national.acct_pay_includes_mutual_aid`);
- `acct_mulaid_pay`: relatives' accounts through mutual aid;
- `psn_cash_pay`: what the patient paid in cash of `psn_part_amt` (the ledger's out of pocket);
- `balc`: the patient's own balance right after the settlement.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import LedgerInvariantError
from domain.money import format_fen
from domain.rules.model import NationalRules
from infra.national.records import Setlinfo

COMPARED_FIELDS = ("acct_pay", "acct_mulaid_pay", "psn_cash_pay", "balc")


@dataclass(frozen=True)
class LedgerDecision:
    """The ledger's decision for one settlement, in fen."""

    own_fen: int  # from the patient's own account
    mutual_aid_fen: int  # from relatives' accounts
    out_of_pocket_fen: int  # what the accounts did not pay, of psn_part_amt
    balance_after_fen: int  # the patient's own balance right after the settlement

    def __post_init__(self) -> None:
        if min(self.own_fen, self.mutual_aid_fen, self.out_of_pocket_fen, self.balance_after_fen) < 0:
            raise LedgerInvariantError("a ledger decision holds no negative amount")

    @classmethod
    def nothing_paid(cls, psn_part_amt_fen: int, balance_fen: int) -> LedgerDecision:
        """A settlement the accounts did not pay (no deduction): all of it in cash."""
        return cls(0, 0, psn_part_amt_fen, balance_fen)


def reported_fen(decision: LedgerDecision, rules: NationalRules) -> dict[str, int]:
    """The ledger's decision written as the platform reports it, field by field."""
    acct_pay = decision.own_fen + (decision.mutual_aid_fen if rules.acct_pay_includes_mutual_aid else 0)
    return {
        "acct_pay": acct_pay,
        "acct_mulaid_pay": decision.mutual_aid_fen,
        "psn_cash_pay": decision.out_of_pocket_fen,
        "balc": decision.balance_after_fen,
    }


def discrepancies(setlinfo: Setlinfo, decision: LedgerDecision, rules: NationalRules) -> list[dict[str, str]]:
    """`[{"field", "ledger", "platform"}]` with amounts as two-decimal yuan strings, in the order
    of COMPARED_FIELDS; empty when the record agrees with the ledger."""
    ledger = reported_fen(decision, rules)
    return [
        {"field": name, "ledger": format_fen(ledger[name]), "platform": format_fen(getattr(setlinfo, name))}
        for name in COMPARED_FIELDS
        if ledger[name] != getattr(setlinfo, name)
    ]

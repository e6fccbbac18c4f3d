"""Read models of the ledger: each view dispatches on event type and writes its rows and its
tracking position in one transaction (see projections.base and infra.readmodels.views)."""

from projections.balances import BalancesProjection
from projections.base import LedgerProjection
from projections.quota import QuotaProjection
from projections.registry import NAMES, PROJECTIONS, by_name
from projections.tables import Table
from projections.ties import AuthorizationsProjection, BindingsProjection, PersonsProjection

__all__ = [
    "NAMES",
    "PROJECTIONS",
    "AuthorizationsProjection",
    "BalancesProjection",
    "BindingsProjection",
    "LedgerProjection",
    "PersonsProjection",
    "QuotaProjection",
    "Table",
    "by_name",
]

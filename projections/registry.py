"""The list of views, in canonical order, and lookup by name.

(Import from this module rather than from the package: an editable install made while
`projections/` was still empty treats the package as a namespace and skips its __init__.)
"""

from projections.balances import BalancesProjection
from projections.base import LedgerProjection
from projections.earmarks import EarmarksProjection
from projections.quota import QuotaProjection
from projections.ties import AuthorizationsProjection, BindingsProjection, PersonsProjection

PROJECTIONS: tuple[type[LedgerProjection], ...] = (
    PersonsProjection,
    BindingsProjection,
    AuthorizationsProjection,
    QuotaProjection,
    BalancesProjection,
    EarmarksProjection,
)
NAMES: tuple[str, ...] = tuple(p.name for p in PROJECTIONS)


def _check_table_names() -> None:
    seen: set[str] = set()
    for projection in PROJECTIONS:
        for table in projection.tables:
            if table.name in seen:
                raise ValueError(f"view table {table.name!r} is declared twice")
            seen.add(table.name)


_check_table_names()


def by_name(names: list[str] | tuple[str, ...] | None = None) -> list[type[LedgerProjection]]:
    """The projections named (all when none), in the canonical order; unknown names raise."""
    if not names:
        return list(PROJECTIONS)
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise KeyError(f"unknown view(s) {', '.join(unknown)}; views are {', '.join(NAMES)}")
    return [p for p in PROJECTIONS if p.name in names]

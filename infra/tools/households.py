"""The workload generator's picture of people and households (not the ledger's state): where
they live, how they are related, and the weights the simulation draws from (see simulate)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

# Region codes (6 digits) by province, with weights that loosely follow population.
REGIONS: dict[str, tuple[str, ...]] = {
    "11": ("110101", "110105", "110108", "110114"),  # Beijing
    "14": ("140105", "140106", "140202", "140702"),  # Shanxi
    "34": ("340102", "340104", "340202", "341302"),  # Anhui
    "42": ("420102", "420106", "420111", "420502"),  # Hubei
    "44": ("440103", "440106", "440305", "440604"),  # Guangdong
}
PROVINCE_WEIGHTS = {"11": 2, "14": 3, "34": 5, "42": 5, "44": 8}
CHANNELS = ("alipay", "wechat", "nhsa_app", "bank_app", "counter")
CHANNEL_WEIGHTS = (40, 30, 15, 8, 7)
UNBIND_REASONS = ("binder_request", "member_request", "credential_removed", "system_forced", "policy_adjustment")
UNBIND_WEIGHTS = (50, 25, 12, 8, 5)
CATEGORIES = ("pharmacy", "hospital_self_pay", "resident_premium", "public_health", "fitness", "wellness")
CATEGORY_WEIGHTS = (55, 30, 4, 4, 4, 3)
INSTITUTIONS = (
    "PH-DASHENLIN",
    "PH-YIXINTANG",
    "PH-LAOBAIXING",
    "HOSP-CITY-1",
    "HOSP-CITY-2",
    "HOSP-TCM",
    "CLINIC-COMMUNITY",
    "HOSP-CHILDREN",
)


@dataclass
class Resident:
    """The generator's picture of one person (not the ledger's state)."""

    index: int
    number: str
    birth: date
    male: bool
    region: str
    insurance: str
    household: int
    role: str  # adult / child / elder
    status: str = "unenrolled"
    members: set[int] = field(default_factory=set)
    binders: set[int] = field(default_factory=set)
    beneficiaries: set[int] = field(default_factory=set)
    authorizers: set[int] = field(default_factory=set)

    def age_on(self, day: date) -> int:
        return day.year - self.birth.year - ((day.month, day.day) < (self.birth.month, self.birth.day))


@dataclass
class Household:
    adults: list[int]
    children: list[int]
    elders: list[int]


def relationship_of(first: Resident, second: Resident, *, binding: bool) -> str:
    """What `second` is to `first`, in the vocabulary of bindings or of mutual aid."""
    if first.household != second.household:
        return "other" if binding else "sibling"
    roles = (first.role, second.role)
    if roles in (("adult", "child"), ("elder", "adult")):
        return "child"
    if roles in (("child", "adult"), ("adult", "elder")):
        return "parent"
    if roles == ("adult", "adult"):
        return "spouse"
    if roles == ("elder", "elder"):
        return "spouse"
    if roles == ("elder", "child"):
        return "other" if binding else "grandchild"
    if roles == ("child", "elder"):
        return "other" if binding else "grandparent"
    return "other" if binding else "sibling"


def poisson(r: random.Random, mean: float) -> int:
    """Knuth's method; small means only."""
    limit, k, product = pow(2.718281828459045, -mean), 0, r.random()
    while product > limit:
        k += 1
        product *= r.random()
    return k


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)

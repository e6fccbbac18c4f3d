"""The workload generator's picture of people and households (not the ledger's state): where
they live, how they are related, and the weights the simulation draws from (see simulate)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from domain.ids import check_character

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


class Population:
    """The generator's people and households, drawn from `random` (the simulation's own, so the
    same seed gives the same people)."""

    def __init__(self, r: random.Random, start: date):
        self.random = r
        self.start = start
        self.people: list[Resident] = []
        self.households: list[Household] = []
        self.numbers: set[str] = set()

    def populate(self, persons: int) -> None:
        """Draw households (couples, children, elders, sometimes in another province) until
        there are `persons` people."""
        r = self.random
        provinces = list(PROVINCE_WEIGHTS)
        weights = list(PROVINCE_WEIGHTS.values())
        while len(self.people) < persons:
            province = r.choices(provinces, weights)[0]
            region = r.choice(REGIONS[province])
            home = Household([], [], [])
            self.households.append(home)
            couple_age = r.randint(24, 56)
            for k in range(1 if r.random() < 0.1 else 2):
                age = max(22, couple_age + r.randint(-3, 3))
                insurance = "employee" if r.random() < 0.78 else "resident"
                home.adults.append(
                    self._person(
                        region,
                        age,
                        male=(k == 0) ^ (r.random() < 0.5),
                        insurance=insurance,
                        role="adult",
                        household=len(self.households) - 1,
                    )
                )
            for _ in range(r.choices((0, 1, 2, 3), (22, 40, 30, 8))[0]):
                age = r.randint(0, max(0, min(26, couple_age - 22)))
                insurance = "employee" if age >= 22 and r.random() < 0.6 else "resident"
                home.children.append(
                    self._person(
                        region,
                        age,
                        male=r.random() < 0.5,
                        insurance=insurance,
                        role="child",
                        household=len(self.households) - 1,
                    )
                )
            if r.random() < 0.4:
                elder_region = region if r.random() < 0.65 else r.choice(REGIONS[r.choice(provinces)])
                elder_age = min(95, couple_age + r.randint(24, 32))
                for k in range(r.choice((1, 2))):
                    insurance = "employee" if r.random() < 0.45 else "resident"
                    home.elders.append(
                        self._person(
                            elder_region,
                            elder_age + r.randint(-2, 2),
                            male=k == 0,
                            insurance=insurance,
                            role="elder",
                            household=len(self.households) - 1,
                        )
                    )
        del self.people[persons:]
        for home in self.households:
            home.adults = [i for i in home.adults if i < persons]
            home.children = [i for i in home.children if i < persons]
            home.elders = [i for i in home.elders if i < persons]

    def _person(self, region: str, age: int, *, male: bool, insurance: str, role: str, household: int) -> int:
        r = self.random
        while True:
            birth = date(self.start.year - age - 1, 1, 1) + timedelta(days=r.randint(0, 364))
            seq = r.randrange(0, 999, 2) + (1 if male else 0)
            first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
            number = first17 + check_character(first17)
            if number not in self.numbers:
                break
        self.numbers.add(number)
        self.people.append(Resident(len(self.people), number, birth, male, region, insurance, household, role))
        return len(self.people) - 1

"""A realistic, deterministic workload: families living through months of family-account traffic.

`simulate(persons=N, months=M, seed=S)` yields JSON command lines (the `ledger apply` format) in
time order. Everything random comes from one `random.Random(seed)`; no clock is read, so the
same arguments give the same bytes.

The model is a small simulation of households, not of the ledger: it keeps its own idea of who
is bound to and authorized by whom and issues what people would plausibly try. Where its idea and
the ledger's rules part ways (limits, cooling-off, unbound presenters, ineligible goods, people
who are suspended, typing mistakes) the ledger refuses, as it would in real traffic.

Shape, per household: one or two working-age adults, zero to three children, sometimes one or two
elderly parents (a third of them insured in another province). Regions come from Beijing (11),
Shanxi (14), Anhui (34), Hubei (42) and Guangdong (44). Adults are mostly employee-insured,
children resident-insured. Each month: contributions for employees, a share of binding activity
across channels (mostly correct verification, some mistakes), unbinds with their reasons,
mutual-aid authorizations, deductions with a category mix (some ineligible), sometimes presented
by a binder, reversals, duplicates, and now and then suspensions, cancellations and expiries.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from domain.clock import CST
from infra.tools.households import (
    CATEGORIES,
    CATEGORY_WEIGHTS,
    CHANNEL_WEIGHTS,
    CHANNELS,
    INSTITUTIONS,
    REGIONS,
    UNBIND_REASONS,
    UNBIND_WEIGHTS,
    Household,
    Population,
    Resident,
    add_months,
    poisson,
    relationship_of,
    yuan,
)


class Simulation:
    def __init__(self, persons: int, months: int, seed: int, start: date = date(2025, 1, 1)):
        if persons < 1 or months < 1:
            raise ValueError("persons and months must be at least 1")
        self.random = random.Random(seed)
        self.id_prefix = f"sim-{seed}-{persons}x{months}"  # distinct workloads never share a command id
        self.months = months
        self.start = start
        self.end = add_months(start, months)
        self.queue: list[tuple[datetime, int, Callable[[datetime], list[dict]]]] = []
        self.sequence = 0
        self.settlements = 0
        self.recent_settlements: list[dict] = []  # deductions that may be resubmitted or reversed
        population = Population(self.random, start)
        population.populate(persons)
        self.people: list[Resident] = population.people
        self.households: list[Household] = population.households

    # --- scheduling ----------------------------------------------------------------------
    # Callable[..., ...]: actions take the moment, plus defaults that capture loop variables.
    def at(self, when: datetime, action: Callable[..., list[dict]]) -> None:
        if when < datetime.combine(self.end, datetime.min.time(), CST):
            self.sequence += 1
            heapq.heappush(self.queue, (when, self.sequence, action))

    def moment(self, month_start: date, day_from: int = 1, day_to: int = 28) -> datetime:
        r = self.random
        day = month_start.replace(day=r.randint(day_from, day_to))
        return datetime(day.year, day.month, day.day, r.randint(7, 21), r.randint(0, 59), r.randint(0, 59), tzinfo=CST)

    def lines(self) -> Iterator[str]:
        for m in range(self.months):
            month_start = add_months(self.start, m)
            self.at(
                datetime(month_start.year, month_start.month, 1, 0, 0, 0, tzinfo=CST),
                lambda when, m=m, month_start=month_start: self._plan_month(m, month_start),
            )
        number = 0
        while self.queue:
            when, _, action = heapq.heappop(self.queue)
            for command in action(when):
                number += 1  # every command gets an id, as a real sender's would, so re-sending is safe
                yield json.dumps(
                    {
                        "type": command.pop("type"),
                        **command,
                        "at": when.isoformat(),
                        "command_id": f"{self.id_prefix}-{number}",
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )

    # --- one month of life ---------------------------------------------------------------
    def _plan_month(self, m: int, month_start: date) -> list[dict]:
        r = self.random
        for p in self.people:
            if (m == 0 and r.random() < 0.93) or (m > 0 and p.status == "unenrolled" and r.random() < 0.5):
                self.at(self.moment(month_start, 1, 8), lambda w, p=p: self._enroll(p))
        for home in self.households:
            self._plan_household(home, m, month_start)
        for p in self.people:
            self._plan_person(p, month_start)
        return []

    def _plan_household(self, home: Household, m: int, month_start: date) -> None:
        r = self.random
        binders = [a for a in home.adults]
        dependants = home.children + home.elders
        if m == 0 or r.random() < 0.08:  # setting up the family account, or another go later
            for binder in binders:
                for member in dependants + [a for a in home.adults if a != binder]:
                    if r.random() < (0.85 if m == 0 else 0.3):
                        self.at(self.moment(month_start, 8, 28), lambda w, b=binder, mm=member: self._bind(b, mm, w))
            for elder in home.elders:  # grandparents wanting the grandchildren too (limits bite here)
                for child in home.children:
                    if r.random() < 0.15:
                        self.at(self.moment(month_start, 8, 28), lambda w, b=elder, mm=child: self._bind(b, mm, w))
        if m <= 1 or r.random() < 0.05:
            for authorizer in home.adults + home.elders:
                for beneficiary in home.adults + home.children + home.elders:
                    if beneficiary != authorizer and r.random() < (0.5 if m <= 1 else 0.15):
                        self.at(
                            self.moment(month_start, 10, 28),
                            lambda w, a=authorizer, b=beneficiary: self._authorize(a, b),
                        )

    def _plan_person(self, p: Resident, month_start: date) -> None:
        r = self.random
        if p.insurance == "employee" or r.random() < 0.01:  # the odd payroll mistake for a resident
            self.at(self.moment(month_start, 5, 12), lambda w, p=p: self._credit(p, "monthly_contribution"))
        if r.random() < 0.01:
            self.at(self.moment(month_start), lambda w, p=p: self._credit(p, r.choice(("transfer_in", "adjustment"))))
        visits = {"child": 0.9, "adult": 0.6, "elder": 1.6}[p.role]
        for _ in range(poisson(r, visits)):
            self.at(self.moment(month_start), lambda w, p=p: self._deduct(p, w))
        if month_start.month >= 9 and p.insurance == "resident" and r.random() < 0.2:
            self.at(self.moment(month_start), lambda w, p=p: self._deduct(p, w, category="resident_premium"))
        for member in sorted(p.members):
            if r.random() < 0.015:
                self.at(self.moment(month_start), lambda w, b=p.index, mm=member: self._unbind(b, mm, w))
        if r.random() < 0.003:
            self.at(self.moment(month_start), lambda w, p=p: self._unbind(p.index, r.randrange(len(self.people)), w))
        for beneficiary in sorted(p.beneficiaries):
            if r.random() < 0.004:
                self.at(self.moment(month_start), lambda w, a=p.index, b=beneficiary: self._revoke(a, b))
        self._plan_status(p, month_start)

    def _plan_status(self, p: Resident, month_start: date) -> None:
        r = self.random
        roll = r.random()
        if p.insurance == "employee" and roll < 0.004:
            self.at(self.moment(month_start), lambda w, p=p: self._suspend(p, month_start))
        elif roll < (0.006 if p.role == "elder" else 0.0015):
            self.at(self.moment(month_start), lambda w, p=p: self._close(p, "cancel"))
        elif roll < (0.0075 if p.role == "elder" else 0.002):
            self.at(self.moment(month_start), lambda w, p=p: self._close(p, "expire"))
        if p.role == "adult" and r.random() < 0.002:
            self.at(self.moment(month_start), lambda w, p=p: self._transfer(p))

    # --- actions: each returns the command lines people send at that moment ----------------
    def _enroll(self, p: Resident) -> list[dict]:
        if p.status != "unenrolled" and self.random.random() > 0.02:  # the odd second attempt
            return []
        p.status = "active" if p.status == "unenrolled" else p.status
        return [{"type": "enroll", "person": p.number, "insurance": p.insurance}]

    def _credit(self, p: Resident, source: str) -> list[dict]:
        if p.status != "active" and self.random.random() > 0.05:
            return []
        low, high = (8_000, 60_000) if source == "monthly_contribution" else (1_000, 200_000)
        return [
            {"type": "credit", "person": p.number, "amount": yuan(self.random.randint(low, high)), "source": source}
        ]

    def _bind(self, binder_index: int, member_index: int, when: datetime) -> list[dict]:
        r = self.random
        binder, member = self.people[binder_index], self.people[member_index]
        if member_index in binder.members and r.random() > 0.05:  # sometimes people retry anyway
            return []
        if "unenrolled" in (binder.status, member.status) and r.random() > 0.1:  # mostly they wait
            return []
        relationship = relationship_of(binder, member, binding=True)
        minor = member.age_on(when.date()) < 16
        if minor:
            verification = r.choices(("documents", "face"), (80, 20))[0]
        else:
            remote = member.region[:2] != binder.region[:2]
            verification = r.choices(("face", "counter", "documents"), (70, 25, 5) if remote else (90, 6, 4))[0]
        channel = r.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        if verification != "documents" or minor:
            binder.members.add(member_index)
            member.binders.add(binder_index)
        return [
            {
                "type": "bind",
                "binder": binder.number,
                "member": member.number,
                "relationship": relationship,
                "channel": channel,
                "verification": verification,
            }
        ]

    def _unbind(self, binder_index: int, member_index: int, when: datetime) -> list[dict]:
        r = self.random
        binder, member = self.people[binder_index], self.people[member_index]
        if binder_index == member_index:
            return []
        reason = r.choices(UNBIND_REASONS, UNBIND_WEIGHTS)[0]
        binder.members.discard(member_index)
        member.binders.discard(binder_index)
        command = {"type": "unbind", "binder": binder.number, "member": member.number, "reason": reason}
        if reason == "member_request" and r.random() < 0.3:
            command["initiated_by"] = "member"
        elif reason in ("system_forced", "policy_adjustment"):
            command["initiated_by"] = "system"
        if r.random() < 0.25:  # changed their mind: bind again, some within minutes
            later = when + (
                timedelta(minutes=r.randint(1, 9)) if r.random() < 0.5 else timedelta(days=r.randint(1, 20))
            )
            self.at(later, lambda w: self._bind(binder_index, member_index, w))
        return [command]

    def _authorize(self, authorizer_index: int, beneficiary_index: int) -> list[dict]:
        authorizer, beneficiary = self.people[authorizer_index], self.people[beneficiary_index]
        if beneficiary_index in authorizer.beneficiaries:
            return []
        if "unenrolled" in (authorizer.status, beneficiary.status) and self.random.random() > 0.1:
            return []
        if authorizer.insurance != "employee" and self.random.random() < 0.7:  # most know they can't
            return []
        authorizer.beneficiaries.add(beneficiary_index)
        beneficiary.authorizers.add(authorizer_index)
        return [
            {
                "type": "authorize",
                "authorizer": authorizer.number,
                "beneficiary": beneficiary.number,
                "relationship": relationship_of(authorizer, beneficiary, binding=False),
            }
        ]

    def _revoke(self, authorizer_index: int, beneficiary_index: int) -> list[dict]:
        authorizer, beneficiary = self.people[authorizer_index], self.people[beneficiary_index]
        authorizer.beneficiaries.discard(beneficiary_index)
        beneficiary.authorizers.discard(authorizer_index)
        initiated_by = "beneficiary" if self.random.random() < 0.3 else "authorizer"
        return [
            {
                "type": "revoke",
                "authorizer": authorizer.number,
                "beneficiary": beneficiary.number,
                "initiated_by": initiated_by,
            }
        ]

    def _deduct(self, p: Resident, when: datetime, category: str | None = None) -> list[dict]:
        r = self.random
        if p.status == "unenrolled":
            return []
        category = category or r.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
        fen = {
            "pharmacy": (500, 30_000),
            "hospital_self_pay": (2_000, 300_000),
            "resident_premium": (38_000, 40_000),
        }.get(category, (3_000, 80_000))
        self.settlements += 1
        institution = r.choice(INSTITUTIONS)
        command = {
            "type": "deduct",
            "settlement_id": f"{institution[:4]}-{when:%Y%m}-{self.settlements:08d}",
            "patient": p.number,
            "amount": yuan(r.randint(*fen)),
            "category": category,
            "institution": institution,
        }
        if p.binders and (p.role != "adult" or r.random() < 0.1) and r.random() < 0.45:
            command["presented_by"] = self.people[r.choice(sorted(p.binders))].number
        elif r.random() < 0.01:  # a relative who is not (or no longer) bound
            command["presented_by"] = self.people[r.randrange(len(self.people))].number
        self._follow_up(dict(command), when)
        return [command]

    def _follow_up(self, command: dict, when: datetime) -> None:
        r = self.random
        roll = r.random()
        if roll < 0.02:  # disputed: reversed a few days later, now and then twice by mistake
            later = when + timedelta(days=r.randint(1, 6), minutes=r.randint(0, 600))
            reverse = {"type": "reverse", "settlement_id": command["settlement_id"], "reason": "disputed by patient"}
            self.at(later, lambda w: [dict(reverse)])
            if r.random() < 0.1:
                self.at(later + timedelta(hours=2), lambda w: [dict(reverse)])
        elif roll < 0.03:  # the institution's system resubmits the same settlement
            self.at(when + timedelta(minutes=r.randint(1, 90)), lambda w: [dict(command)])
        elif roll < 0.032:  # same settlement id, different content
            clash = dict(command, amount=yuan(r.randint(100, 5_000)))
            self.at(when + timedelta(minutes=r.randint(1, 90)), lambda w: [clash])
        elif roll < 0.033:
            missing = {"type": "reverse", "settlement_id": "X" + command["settlement_id"], "reason": "typo"}
            self.at(when + timedelta(days=1), lambda w: [missing])

    def _suspend(self, p: Resident, month_start: date) -> list[dict]:
        if p.status != "active":
            return []
        p.status = "suspended"
        resume_month = add_months(month_start, self.random.randint(1, 3))
        self.at(self.moment(resume_month, 1, 20), lambda w: self._resume(p))
        return [{"type": "suspend", "person": p.number, "reason": "contributions lapsed (断缴)"}]

    def _resume(self, p: Resident) -> list[dict]:
        if p.status != "suspended":
            return []
        p.status = "active"
        return [{"type": "resume", "person": p.number}]

    def _close(self, p: Resident, kind: str) -> list[dict]:
        if p.status in ("unenrolled", "cancelled", "expired"):
            return []
        p.status = "cancelled" if kind == "cancel" else "expired"
        for other in p.members | p.binders | p.beneficiaries | p.authorizers:
            for ties in (
                self.people[other].members,
                self.people[other].binders,
                self.people[other].beneficiaries,
                self.people[other].authorizers,
            ):
                ties.discard(p.index)
        p.members, p.binders, p.beneficiaries, p.authorizers = set(), set(), set(), set()
        reason = "deceased" if kind == "cancel" and p.role == "elder" else "insurance ended"
        return [{"type": kind, "person": p.number, "reason": reason}]

    def _transfer(self, p: Resident) -> list[dict]:
        if p.status != "active":
            return []
        province = self.random.choice(list(REGIONS))
        region = self.random.choice(REGIONS[province])
        if region == p.region:
            return []
        p.region = region
        for other in p.beneficiaries | p.authorizers:
            self.people[other].beneficiaries.discard(p.index)
            self.people[other].authorizers.discard(p.index)
        p.beneficiaries, p.authorizers = set(), set()
        return [{"type": "transfer", "person": p.number, "region": region}]


def simulate(persons: int, months: int = 12, seed: int = 1) -> Iterator[str]:
    """The workload's command lines, in time order."""
    return Simulation(persons, months, seed).lines()

"""Re-evaluation: every recorded decision, decided again under another rule set. Writes nothing.

Decisions are binds (accepted and rejected, on the binder's event), authorizations (on the
authorizer's event) and deductions (on the patient's `DeductionSettled`). Each is decided again
by the same pure domain functions the ledger used (`decide_bind`, `decide_authorize`,
`check_deduct` + `accounts_for` + `allocate`) against the parties' states just before it: the
state at the party's version just before the decision in the global order (kept in memory as
the scan replays the log, else `repository.get(id, version=...)`). The rules come from
`catalogue.named(NAME, the decision's local date)`, so a variant is resolved against the base in
force at that time; `--rules recorded` uses each decision's own recorded version instead, which
must reproduce every recorded decision (an audit check of the replay itself); it also compares
the content the catalogue now holds under each version with the digest the decision recorded
and lists RULES_CHANGED per version (decisions recorded before rule digests are counted as not
compared).

The scan reads the notification log in bounded pages; every page is decoded once.
"""

from __future__ import annotations

import tomllib
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from domain import events as ev
from domain.binding import BindRequest, decide_bind
from domain.clock import local_date, local_iso, month_of
from domain.deduction import DeductRequest, accounts_for, check_deduct
from domain.dispatch import handler_table, handles, topic_of
from domain.errors import InvalidInputError, LedgerError
from domain.mutual_aid import decide_authorize
from domain.rules import Catalogue, RuleSet, parse_catalogue
from domain.settlement import PlatformRecordAttached, SettlementRecorded
from domain.spending import allocate
from infra.eventstore.application import LedgerApp
from infra.eventstore.rule_files import catalogue_files

PAGE_SIZE = 500


@dataclass
class Change:
    at: Any
    command: str
    persons: list[str]
    recorded: dict[str, Any]
    reevaluated: dict[str, Any]
    rule: str  # for the human summary: the rule that decides differently

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": local_iso(self.at),
            "command": self.command,
            "persons": self.persons,
            "recorded": self.recorded,
            "reevaluated": self.reevaluated,
        }


@dataclass
class Report:
    rules: str
    decisions: int = 0
    changed: list[Change] = field(default_factory=list)
    # --rules recorded: (version, recorded digest, current digest) -> decisions; decisions without a digest
    rules_changed: Counter = field(default_factory=Counter)
    digests_not_recorded: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = {"rules": self.rules, "decisions": self.decisions, "changed": [c.to_dict() for c in self.changed]}
        if self.rules == RECORDED:
            out["rules_changed"] = self.rules_changed_list()
            out["digests_not_recorded"] = self.digests_not_recorded
        return out

    def rules_changed_list(self) -> list[dict[str, Any]]:
        return [
            {
                "code": "RULES_CHANGED",
                "rule_version": version,
                "recorded_digest": recorded,
                "current_digest": current,
                "decisions": n,
            }
            for (version, recorded, current), n in sorted(self.rules_changed.items())
        ]

    def summary_rows(self) -> list[dict[str, Any]]:
        """Changed decisions by month and rule (what the human output shows)."""
        counts: Counter = Counter()
        for change in self.changed:
            counts[
                (
                    month_of(change.at),
                    change.command,
                    change.rule,
                    _outcome(change.recorded),
                    _outcome(change.reevaluated),
                )
            ] += 1
        return [
            {"month": m, "command": c, "rule": r, "recorded": a, "reevaluated": b, "decisions": n}
            for (m, c, r, a, b), n in sorted(counts.items())
        ]


def _outcome(side: dict[str, Any]) -> str:
    if not side["ok"]:
        return side["code"]
    if "lines" in side:
        return (
            "split " + "+".join(str(line["amount_fen"]) for line in side["lines"]) + f" oop {side['out_of_pocket_fen']}"
        )
    return "accepted"


# --- choosing the rules -----------------------------------------------------------------------
def resolve_rules(name_or_file: str, rules_dir: str | None = None) -> tuple[str, Catalogue]:
    """A catalogue name (variant, family or exact version), or a rule-set file added to the
    catalogue (replacing a shipped file of the same file name). Returns (name, catalogue)."""
    files = catalogue_files(rules_dir)
    path = Path(name_or_file)
    if name_or_file.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise InvalidInputError(f"rules: no rule-set file {name_or_file}", field="rules")
        text = path.read_text(encoding="utf-8")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InvalidInputError(f"rules: {path.name} is not valid TOML: {error}", field="rules") from None
        files[path.name] = text
        name = data.get("name") if data.get("kind") == "variant" else data.get("version")
        if not isinstance(name, str):
            raise InvalidInputError(f"rules: {path.name} names no variant or version", field="rules")
        return name, parse_catalogue(files)
    return name_or_file, parse_catalogue(files)


# --- the scan ---------------------------------------------------------------------------------
RECORDED = "recorded"  # --rules recorded: each decision's own recorded rule version (a replay check)
STATES_MAX = 50_000  # aggregates kept in memory during the scan; others are reloaded when needed
_NOT_PERSON = (
    ev.SettlementOpened,
    ev.SettlementReversed,
    SettlementRecorded,
    PlatformRecordAttached,
    ev.CommandRecorded,
)


class Reevaluator:
    """Scans the log once. It keeps the persons' states in memory, advanced event by event in the
    global order (an LRU of at most STATES_MAX; an evicted or missing state is loaded with
    `repository.get(id, version=...)`), so "the state just before a decision" costs no replay."""

    def __init__(
        self,
        app: LedgerApp,
        rules_name: str,
        catalogue: Catalogue,
        date_from: date | None = None,
        date_to: date | None = None,
        page_size: int = PAGE_SIZE,
    ):
        self.app = app
        self.rules_name = rules_name
        self.catalogue = catalogue
        self.date_from = date_from
        self.date_to = date_to
        self.page_size = page_size
        self.states: OrderedDict[UUID, Any] = OrderedDict()
        self.marks: dict[UUID, tuple[int, type[Any], Any, Any]] = {}  # person -> (version, type, counterpart, at)
        self.report = Report(rules=rules_name)
        if rules_name != RECORDED:
            catalogue.named(rules_name, date_from or date(2100, 1, 1))  # unknown names fail before the scan

    def rules_at(self, event: Any) -> RuleSet:
        if self.rules_name == RECORDED:
            rules = self.catalogue.get(event.rule_version)
            if event.rule_digest is None:
                self.report.digests_not_recorded += 1
            elif event.rule_digest != rules.digest:
                self.report.rules_changed[(event.rule_version, event.rule_digest, rules.digest)] += 1
            return rules
        return self.catalogue.named(self.rules_name, local_date(event.timestamp))

    def run(self) -> Report:
        report = self.report = Report(rules=self.rules_name)
        for notification in self.app.recorder.iter_log(page_size=self.page_size):
            event = self.app.mapper.to_domain_event(notification)
            if self._in_range(event):
                self._decide(event, report)
            self._advance(event)
        return report

    def _in_range(self, event: Any) -> bool:
        day = local_date(event.timestamp)
        return (self.date_from is None or day >= self.date_from) and (self.date_to is None or day <= self.date_to)

    # --- states -------------------------------------------------------------------------
    def _advance(self, event: Any) -> None:
        if isinstance(event, _NOT_PERSON):
            return
        person = event.originator_id
        state = self.states.pop(person, None)
        if event.originator_version == 1:
            state = None
        elif state is None or state.version != event.originator_version - 1:
            state = self.app.repository.get(person, version=event.originator_version - 1)
        self.states[person] = event.mutate(state)
        if len(self.states) > STATES_MAX:
            self.states.popitem(last=False)
        self.marks[person] = (
            event.originator_version,
            type(event),
            getattr(event, "counterpart", None),
            event.timestamp,
        )

    def _at(self, person: UUID, version: int) -> Any:
        state = self.states.get(person)
        if state is not None and state.version == version:
            self.states.move_to_end(person)
            return state
        return self.app.repository.get(person, version=version)

    def _originator(self, event: Any) -> Any:
        return self._at(event.originator_id, event.originator_version - 1)

    def _before(self, person: UUID, decision: Any) -> Any:
        """`person` just before `decision`: its latest earlier event, unless that event is the
        decision's own mirror on this person (recorded in the same save), then the one before."""
        version, kind, counterpart, at = self.marks[person]
        if kind is type(decision) and counterpart == decision.originator_id and at == decision.timestamp:
            version -= 1
        return self._at(person, version)

    def _decide(self, event: Any, report: Report) -> None:
        """A decision is recorded on its decider's event (the binder's, the authorizer's, the
        patient's); the mirror event on the other party is not a decision of its own."""
        name = _DECISIONS.get(topic_of(event.__class__))
        if name is None or getattr(event, "role", None) in _MIRROR_ROLES:
            return
        report.decisions += 1
        change = getattr(self, name)(event)
        if change is not None:
            report.changed.append(change)

    @handles(ev.BindingStarted, ev.BindRejected)
    def _bind(self, event: ev.BindingStarted | ev.BindRejected) -> Change | None:
        binder = self._originator(event)
        member = self._before(event.counterpart, event)
        request = BindRequest(
            relationship=event.relationship,
            channel=event.channel,
            verification=event.verification,
            member_age_years=event.member_age_years,
            at=event.timestamp,
        )
        decision = decide_bind(binder, member, request, self.rules_at(event))
        rejected = isinstance(event, ev.BindRejected)
        recorded = {"ok": not rejected, "code": event.code if isinstance(event, ev.BindRejected) else None}
        if decision.as_outcome() == recorded:
            return None
        rule = decision.rule if not decision.ok else event.rule  # type: ignore[union-attr]
        return Change(
            event.timestamp, "bind", [binder.masked, member.masked], recorded, decision.as_outcome(), rule or ""
        )

    @handles(ev.AuthorizationGranted)
    def _authorize(self, event: ev.AuthorizationGranted) -> Change | None:
        authorizer = self._originator(event)
        beneficiary = self._before(event.counterpart, event)
        decision = decide_authorize(authorizer, beneficiary, event.relationship, self.rules_at(event))
        recorded = {"ok": True, "code": None}
        if decision.ok:
            return None
        return Change(
            event.timestamp,
            "authorize",
            [authorizer.masked, beneficiary.masked],
            recorded,
            decision.as_outcome(),
            decision.rule or "",
        )

    @handles(ev.DeductionSettled)
    def _deduct(self, event: ev.DeductionSettled) -> Change | None:
        patient = self._originator(event)
        presenter = None
        if event.presented_by is not None:
            presenter = patient if event.presented_by == patient.id else self._before(event.presented_by, event)
        authorizers = {i: self._before(i, event) for i in sorted(patient.authorizers)}
        rules = self.rules_at(event)
        request = DeductRequest(
            settlement_id=event.settlement_id,
            amount_fen=event.amount_fen,
            category=event.category,
            institution=event.institution,
            presented_by=event.presented_by,
            at=event.timestamp,
        )
        recorded = {
            "ok": True,
            "code": None,
            "lines": [{"person": line.masked, "amount_fen": line.amount_fen} for line in event.lines],
            "out_of_pocket_fen": event.out_of_pocket_fen,
        }
        try:
            check_deduct(patient, presenter, request, rules)
        except LedgerError as error:
            return Change(
                event.timestamp,
                "deduct",
                [patient.masked],
                recorded,
                {"ok": False, "code": error.code},
                error.rule or error.code,
            )
        own, others = accounts_for(patient, authorizers)
        allocation = allocate(event.amount_fen, own, others, rules.spending)
        reevaluated = {
            "ok": True,
            "code": None,
            "lines": [{"person": masked, "amount_fen": amount} for _, masked, amount in allocation.lines],
            "out_of_pocket_fen": allocation.out_of_pocket_fen,
        }
        if reevaluated == recorded:
            return None
        return Change(event.timestamp, "deduct", [patient.masked], recorded, reevaluated, "spending")


_DECISIONS = handler_table(Reevaluator)
_MIRROR_ROLES = ("member", "beneficiary")  # the other party's copy of a bind or an authorization

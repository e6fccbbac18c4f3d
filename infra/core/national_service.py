"""The national platform's records, for every front end (docs/national.md): a 2207 or 2208 line
in, the ledger's answer with its discrepancies out (`ledger import national`, POST
/v1/national/{infno}); the ledger's settlements in the platform's shape (`ledger export
national`); statements and an institution's detail reconciled with the ledger (`ledger reconcile
national`, the console's page, a 3201 over HTTP). The pure work is infra.national's; this module
reads the ledger's side (infra.core.national_reads) and writes through the one write path.

An import line is decided in two steps, so that the service can hand the write to its group
commit: `prepare` (parse, translate, look at the settlement already recorded under the id)
gives at most one submission; `conclude` turns its answer into the import answer. What the
ledger decides stands: a record's figures are compared with the decision, never adopted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from domain import deduction
from domain.clock import CST
from domain.errors import InvalidInputError, LedgerError, SettlementConflictError
from domain.rules.model import RuleSet
from infra.commands.answers import Answer, answer, deduction_result
from infra.commands.deductions import institution_of
from infra.commands.parsing import validate
from infra.core.command_service import CommandService
from infra.core.national_reads import LedgerSide
from infra.eventstore.application import LedgerApp
from infra.national.answers import answer_envelope, refusal_envelope, stmtinfo_output
from infra.national.discrepancies import discrepancies
from infra.national.export import export_detail_line, export_setlinfo
from infra.national.lines import parse_detail_line, parse_import_line, parse_statement_line
from infra.national.reconcile import reconcile
from infra.national.records import DetailLine, Reversal2208, Settlement2207, Statement3201
from infra.national.translate import (
    check_reversal,
    in_record_terms,
    patient_of,
    record_command,
    record_fields,
    translate_reversal,
    translate_settlement,
)
from infra.roles import ForbiddenError, Principal
from infra.writing.write_path import Submission

Record = Settlement2207 | Reversal2208 | Statement3201


@dataclass(frozen=True)
class Prepared:
    """One line made ready: the submission to write (if any), or the answer already known (a
    refusal, or a settlement already holding this very record: a duplicate that writes nothing)."""

    infno: str | None
    record: Record | None = None
    submission: Submission | None = None
    answer: Answer | None = None
    fields: dict[str, str] = field(default_factory=dict)  # the command's field names -> the record's

    @property
    def submissions(self) -> list[Submission]:
        return [self.submission] if self.submission is not None else []


@dataclass(frozen=True)
class Reconciliation:
    """`result` in the JSON shape of docs/national.md; `replayable`: the settlement ids whose
    deduction has a replay (a settlement the accounts did not pay has none)."""

    result: dict[str, Any]
    replayable: frozenset[str]


def refused(error: LedgerError, infno: str | None = None) -> Prepared:
    return Prepared(infno, answer=answer(None, None, error=error))


class NationalService:
    def __init__(self, app: LedgerApp, commands: CommandService, attest: Callable[[], dict[str, Any]]):
        self.app = app
        self.commands = commands
        self.attest = attest  # the integrity verdict an HTML report carries (EvidenceService.verify)
        self.side = LedgerSide(app)

    # --- one line of the platform's records -----------------------------------------------
    def import_lines(self, lines: Iterable[str | bytes], sender: Principal | None = None) -> Iterator[Answer]:
        """Numbered answers, one per line, each written before the next line is read (a line's
        settlement, its re-import and its reversal may follow one another in one file)."""
        for number, raw in enumerate(lines, start=1):
            prepared = self.prepare(raw, sender)
            answers = self.commands.execute(prepared.submissions) if prepared.submissions else []
            yield {"line": number, **self.conclude(prepared, answers)}

    def prepare(self, raw: str | bytes, sender: Principal | None = None, infno: str | None = None) -> Prepared:
        """`infno`: the interface the line must be (the service's path); None: a 2207 or 2208."""
        parsed = parse_statement_line(raw) if infno == "3201" else parse_import_line(raw)
        if isinstance(parsed, LedgerError):
            return refused(parsed, infno)
        if infno is not None and parsed.infno != infno:
            return refused(InvalidInputError(f"infno: must be {infno} on this path", field="infno"), infno)
        try:
            if sender is not None and sender.institution != parsed.fixmedins_code:
                raise ForbiddenError(f"fixmedins_code: this key settles for institution {sender.institution} only")
            if isinstance(parsed, Statement3201):
                return Prepared("3201", parsed)
            if isinstance(parsed, Reversal2208):
                return self._prepare_reversal(parsed, sender)
            return self._prepare_settlement(parsed, sender)
        except LedgerError as error:
            fields = record_fields(parsed) if not isinstance(parsed, Statement3201) else {}
            return Prepared(parsed.infno, parsed, answer=answer(None, None, error=error), fields=fields)

    def _prepare_settlement(self, record: Settlement2207, sender: Principal | None) -> Prepared:
        translation = translate_settlement(record, self._rules_for_patient(record).national)
        fields = record_fields(record)
        known = self.side.settlement(translation.settlement_id)
        if known is None:
            command = translation.command or record_command(record, translation, attach=False)
            return Prepared("2207", record, self._submission(command, sender), fields=fields)
        held = deduction.holds_record(  # SETTLEMENT_CONFLICT when the record is another settlement's
            known,
            settled_by=institution_of(self.app, known),
            patient=self.app.person_ref(translation.patient, "patient").id,
            institution=record.fixmedins_code,
            platform=translation.platform,
        )
        if held:  # the very record is kept already: a duplicate, nothing written
            kind = "deduct" if known.deducted else "record-settlement"
            result = deduction_result(known, duplicate=True) | ({} if known.deducted else {"deducted": False})
            return Prepared(
                "2207", record, answer=answer(kind, translation.settlement_id, result=result), fields=fields
            )
        command = record_command(record, translation, attach=True)
        return Prepared("2207", record, self._submission(command, sender), fields=fields)

    def _prepare_reversal(self, record: Reversal2208, sender: Principal | None) -> Prepared:
        command = translate_reversal(record)
        known = self.side.settlement(record.input.data.setl_id)
        if known is not None:  # a 2208 names the settlement as it was recorded
            settled_by = institution_of(self.app, known) or ""
            if known.platform is not None:
                check_reversal(record, known.platform, settled_by)
            elif settled_by != record.fixmedins_code:
                raise SettlementConflictError(
                    "fixmedins_code: the settlement was settled by another", field="fixmedins_code"
                )
        return Prepared("2208", record, self._submission(command, sender), fields=record_fields(record))

    def _submission(self, command: dict[str, Any], sender: Principal | None) -> Submission:
        typed = validate(command)
        if sender is not None:
            self.commands.check(sender, typed)
        return Submission(typed, sender)

    def _rules_for_patient(self, record: Settlement2207) -> RuleSet:
        """The rule set in force for the patient on the settlement date, as the deduction is
        decided (by the region the ID number names, for someone not enrolled: refused anyway)."""
        ref = self.app.person_ref(patient_of(record), "patient")
        person = self.side.person(ref.id)
        region = person.region if person is not None else ref.facts.region
        return self.app.rules_for(record.output.setlinfo.setl_time, region)

    def conclude(self, prepared: Prepared, answers: Sequence[Answer]) -> Answer:
        """The import answer: the ledger's answer (its error's field named as in the record),
        with `discrepancies` between a 2207's figures and what the ledger decided."""
        given = prepared.answer if prepared.answer is not None else answers[0]
        out = in_record_terms_answer(given, prepared.fields)
        found: list[dict[str, str]] = []
        record = prepared.record
        if out["ok"] and isinstance(record, Settlement2207):
            settlement = self.side.settlement(record.output.setlinfo.setl_id)
            if settlement is not None:
                decision = self.side.recorded(settlement).decision
                found = discrepancies(record.output.setlinfo, decision, self.side.rules_of(settlement))
        return {**out, "discrepancies": found}

    # --- the platform's envelope --------------------------------------------------------------
    def envelope(self, prepared: Prepared, answers: Sequence[Answer], position: int) -> dict[str, Any]:
        """The answer in the platform's envelope: `infcode` 0 with the ledger's settlement (2207,
        2208) or the statement's result (3201), or -1 with the ledger's code in `err_msg`."""
        refmsgid = self.refmsgid(position)
        if isinstance(prepared.record, Statement3201) and prepared.answer is None:
            try:
                statement = self.reconcile_records([prepared.record]).result["statements"][0]
            except LedgerError as error:
                return refusal_envelope(refmsgid, error)
            return answer_envelope(refmsgid, stmtinfo_output(statement))
        concluded = self.conclude(prepared, answers)
        if not concluded["ok"]:
            return refusal_envelope(refmsgid, concluded["error"])
        settlement = self.side.settlement(str(concluded["settlement_id"]))
        if settlement is None:
            raise LedgerError(f"settlement {concluded['settlement_id']} answered but not found")
        recorded, rules = self.side.recorded(settlement), self.side.rules_of(settlement)
        if isinstance(prepared.record, Reversal2208):
            return answer_envelope(refmsgid, {"setlinfo": export_detail_line(recorded, rules)})
        output = {"setlinfo": export_setlinfo(recorded, rules), "discrepancies": concluded["discrepancies"]}
        return answer_envelope(refmsgid, output)

    def refmsgid(self, position: int) -> str:
        """The ledger's own message id for an answer: its time (UTC+8) and the log position."""
        return f"{self.app.clock().astimezone(CST):%Y%m%d%H%M%S}{position:012d}"

    # --- the ledger's settlements in the platform's shape ---------------------------------------
    def export(self, date_from: date, date_to: date, institution: str | None = None) -> Iterator[dict[str, Any]]:
        """3202 detail lines (2207 setlinfo and `refd_setl_flag`, reversals counted up to the end
        of `date_to`) of every settlement dated in [date_from, date_to] (UTC+8), by time and id."""
        if date_to < date_from:
            raise InvalidInputError("to: must not be before from", field="to")
        found = self.side.settlements_between(date_from, date_to, [institution] if institution else None)
        for settlement in sorted(found, key=lambda s: (s.opened_at, s.settlement_id)):
            yield export_detail_line(self.side.recorded(settlement), self.side.rules_of(settlement), until=date_to)

    # --- reconciliation ---------------------------------------------------------------------
    def reconcile(
        self,
        statement_lines: Iterable[str | bytes],
        detail_lines: Iterable[str | bytes] | None = None,
        principal: Principal | None = None,
    ) -> Reconciliation:
        """Statement lines (3201 envelopes) and, if given, the institution's detail lines (3202)
        against the ledger. A bad line refuses the whole file, naming the line and the field."""
        statements = [_parsed(parse_statement_line, raw, "statement", n) for n, raw in enumerate(statement_lines, 1)]
        detail = None
        if detail_lines is not None:
            detail = [_parsed(parse_detail_line, raw, "detail", n) for n, raw in enumerate(detail_lines, 1)]
        return self.reconcile_records(statements, detail, principal)

    def reconcile_records(
        self,
        statements: Sequence[Statement3201],
        detail: Sequence[DetailLine] | None = None,
        principal: Principal | None = None,
    ) -> Reconciliation:
        """`principal`: a key reconciles the statements of its region only (a statement's region is
        its clearing agency's, `setl_optins`); an institution key has no region, and its
        institution was checked on the envelope."""
        if not statements:
            raise InvalidInputError("statement: no 3201 statement given: nothing to reconcile", field="statement")
        if principal is not None:
            for statement in statements:
                principal.check_region(statement.input.data.setl_optins)
        data = [s.input.data for s in statements]
        begin, end = min(d.stmt_begndate for d in data), max(d.stmt_enddate for d in data)
        settlements = self.side.settlements_between(begin, end, {s.fixmedins_code for s in statements})
        latest = max(statements, key=lambda s: (s.input.data.stmt_enddate, s.input.data.setl_optins))
        rules = self.app.rules_for(datetime.combine(end, time(12), CST), latest.input.data.setl_optins).national
        rows = [self.side.recorded(s) for s in settlements]
        result = reconcile(statements, rows, rules, detail)
        return Reconciliation(result, frozenset(s.settlement_id for s in settlements if s.deducted))

    def attestation(self) -> dict[str, Any]:
        """The integrity verdict a report carries: whether the whole history verifies, how far it
        is sealed, and the anchor to compare with a copy kept elsewhere."""
        checked = self.attest()
        checkpoint = checked.get("checkpoint")
        return {
            "verified": bool(checked["ok"] and checkpoint),
            "sealed_through": checkpoint["position"] if checkpoint else None,
            "anchor": checkpoint["checkpoint_sha256"] if checkpoint else None,
            "sealed_at": checkpoint["sealed_at"] if checkpoint else None,
            "problems": checked["problem_count"],
            "unsealed": checked["unsealed"],
        }


def in_record_terms_answer(given: Answer, fields: dict[str, str]) -> Answer:
    if given.get("ok") or "error" not in given:
        return given
    return {**given, "error": in_record_terms(given["error"], fields)}


def _parsed(parse: Callable[[str | bytes], Any], raw: str | bytes, name: str, number: int) -> Any:
    parsed = parse(raw)
    if isinstance(parsed, LedgerError):
        raise InvalidInputError(f"{name} line {number}: {parsed.message}", field=parsed.field)
    return parsed

"""Reconciliation with the platform: 3201 statement totals and the 3202 detail against what the
ledger recorded, as one answer (JSON) or its CSV rendering. Pure: the caller gathers the rows.

Statements. For each 3201 statement the ledger totals its own settlements with the statement's
keys: institution `fixmedins_code`; `insutype`, `clr_type` and `setl_optins` against the kept
platform record's `insutype`, `clr_type` and `clr_optins` (a setlinfo carries the clearing agency,
`clr_optins`, and no other agency); settlement time in [`stmt_begndate`, `stmt_enddate`] as dates in
UTC+8. `refd_setl_flag` says how reversed settlements count: `0`, the statement covers settlements
that stand, so a settlement reversed by the end of `stmt_enddate` is left out (amounts and count);
`1`, it covers every settlement of the period, reversed or not. A settlement recorded without a
platform record has no `insutype` or `clr_type` and is counted in no statement. The totals are
`medfee_sumamt`, `fund_pay_sumamt` (from the platform records), `acct_pay` (the ledger's own, as
the province reports it) and `fixmedins_setl_cnt`; `stmt_rslt` is `0` when all four agree.

Detail. The institution's lines and the ledger's settlements are matched by `setl_id`:
`missing_in_ledger` (in the detail only), `missing_in_detail` (the ledger's settlements of a
statement's institution and period that the detail does not list), `reversed_on_one_side`, and
`differing` (every setlinfo field the ledger knows, compared as exported: amounts as two-decimal
strings, `certno` masked). Lists are sorted by `setl_id`, then by the setlinfo's field order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from typing import Any

from domain.clock import CST, local_date
from domain.errors import InvalidInputError, LedgerInvariantError
from domain.money import format_fen
from domain.rules.model import NationalRules
from infra.national.discrepancies import reported_fen
from infra.national.export import AMOUNT_FIELDS, SETLINFO_FIELDS, TIME_FORMAT, RecordedSettlement, export_detail_line
from infra.national.platform_record import masked_certno
from infra.national.records import DetailLine, Statement3201

TOTAL_FIELDS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt")
CSV_COLUMNS = (
    "section",
    "fixmedins_code",
    "setl_optins",
    "insutype",
    "clr_type",
    "stmt_begndate",
    "stmt_enddate",
    "stmt_rslt",
    "setl_id",
    "field",
    "ledger",
    "platform",
)


def reconcile(
    statements: Sequence[Statement3201],
    rows: Sequence[RecordedSettlement],
    rules: NationalRules,
    detail: Sequence[DetailLine] | None = None,
) -> dict[str, Any]:
    """`{"balanced", "statements", "detail"}`; `detail` is null when no detail was given (not
    compared), and `balanced` is true only when every statement and the detail agree."""
    if not statements:
        raise InvalidInputError("statement: no 3201 statement given: nothing to reconcile", field="statement")
    results = sorted((reconcile_statement(s, rows, rules) for s in statements), key=_statement_order)
    found = reconcile_detail(detail, rows, statements, rules) if detail is not None else None
    balanced = all(r["stmt_rslt"] == "0" for r in results) and not (found and any(found.values()))
    return {"balanced": balanced, "statements": results, "detail": found}


def reconcile_statement(statement: Statement3201, rows: Sequence[RecordedSettlement], rules: NationalRules) -> dict:
    data = statement.input.data
    counted = [row for row in rows if _in_statement(row, statement)]
    ledger = {
        "medfee_sumamt": sum(row.platform.medfee_sumamt_fen for row in counted if row.platform),
        "fund_pay_sumamt": sum(row.platform.fund_pay_sumamt_fen for row in counted if row.platform),
        "acct_pay": sum(reported_fen(row.decision, rules)["acct_pay"] for row in counted),
        "fixmedins_setl_cnt": len(counted),
    }
    claimed = {name: getattr(data, name) for name in TOTAL_FIELDS}
    differing = [name for name in TOTAL_FIELDS if ledger[name] != claimed[name]]
    described = "; ".join(
        f"{name}: ledger {_total(name, ledger[name])}, statement {_total(name, claimed[name])}" for name in differing
    )
    return {
        "fixmedins_code": statement.fixmedins_code,
        "setl_optins": data.setl_optins,
        "insutype": data.insutype,
        "clr_type": data.clr_type,
        "stmt_begndate": data.stmt_begndate.isoformat(),
        "stmt_enddate": data.stmt_enddate.isoformat(),
        "stmt_rslt": "1" if differing else "0",
        "stmt_rslt_dscr": f"not balanced: {described}" if differing else "balanced",
        "ledger": {name: _total(name, value) for name, value in ledger.items()},
        "statement": {name: _total(name, value) for name, value in claimed.items()},
    }


def _in_statement(row: RecordedSettlement, statement: Statement3201) -> bool:
    data = statement.input.data
    platform = row.platform
    return (
        platform is not None
        and row.institution == statement.fixmedins_code
        and (platform.insutype, platform.clr_type, platform.clr_optins)
        == (data.insutype, data.clr_type, data.setl_optins)
        and data.stmt_begndate <= local_date(row.at) <= data.stmt_enddate
        and (data.refd_setl_flag == "1" or not row.reversed_by(data.stmt_enddate))
    )


def _total(name: str, value: int) -> str | int:
    return value if name == "fixmedins_setl_cnt" else format_fen(value)


def _statement_order(result: dict) -> tuple:
    return tuple(
        result[k] for k in ("fixmedins_code", "setl_optins", "insutype", "clr_type", "stmt_begndate", "stmt_enddate")
    )


def reconcile_detail(
    detail: Sequence[DetailLine],
    rows: Sequence[RecordedSettlement],
    statements: Sequence[Statement3201],
    rules: NationalRules,
) -> dict[str, list]:
    listed = _by_setl_id(detail)
    recorded = {row.settlement_id: row for row in rows}
    if len(recorded) != len(rows):
        raise LedgerInvariantError("the ledger's rows name one settlement twice")
    until = _period_ends(rows, statements)
    found: dict[str, list] = {
        "missing_in_ledger": sorted(set(listed) - set(recorded)),
        "missing_in_detail": sorted(set(until) - set(listed)),
        "reversed_on_one_side": [],
        "differing": [],
    }
    for setl_id in sorted(set(listed) & set(recorded)):
        ledger_row = export_detail_line(recorded[setl_id], rules, until=until.get(setl_id))
        detail_row = detail_setlinfo(listed[setl_id])
        if ledger_row["refd_setl_flag"] != detail_row["refd_setl_flag"]:
            side = "ledger" if ledger_row["refd_setl_flag"] == "1" else "detail"
            found["reversed_on_one_side"].append({"setl_id": setl_id, "reversed_in": side})
        for name in SETLINFO_FIELDS:
            if ledger_row[name] is not None and ledger_row[name] != detail_row[name]:
                found["differing"].append(
                    {"setl_id": setl_id, "field": name, "ledger": ledger_row[name], "detail": detail_row[name]}
                )
    return found


def _by_setl_id(detail: Sequence[DetailLine]) -> dict[str, DetailLine]:
    listed: dict[str, DetailLine] = {}
    for line in detail:
        if line.setl_id in listed:
            raise InvalidInputError("setl_id: the detail lists one settlement twice", field="setl_id")
        listed[line.setl_id] = line
    return listed


def _period_ends(rows: Sequence[RecordedSettlement], statements: Sequence[Statement3201]) -> dict[str, date]:
    """The ledger's settlements the detail should list (a statement's institution and period),
    each with the latest end of a period that covers it (reversals count up to then)."""
    ends: dict[str, date] = {}
    for statement in statements:
        data = statement.input.data
        for row in rows:
            if (
                row.institution == statement.fixmedins_code
                and data.stmt_begndate <= local_date(row.at) <= data.stmt_enddate
            ):
                ends[row.settlement_id] = max(ends.get(row.settlement_id, data.stmt_enddate), data.stmt_enddate)
    return ends


def detail_setlinfo(line: DetailLine) -> dict[str, Any]:
    """An institution's detail line written as the ledger's export writes its rows."""
    row: dict[str, Any] = {name: getattr(line, name) for name in SETLINFO_FIELDS}
    row.update({name: format_fen(row[name]) for name in AMOUNT_FIELDS})
    row["certno"] = masked_certno(line.psn_cert_type, line.certno.get_secret_value())
    row["setl_time"] = line.setl_time.astimezone(CST).strftime(TIME_FORMAT)
    return row | {"refd_setl_flag": line.refd_setl_flag}


def reconciliation_csv(result: dict[str, Any]) -> str:
    """The answer as CSV (CSV_COLUMNS): a `summary` row, one row per statement total, one row per
    detail finding; `platform` holds the statement's or the detail's value."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerow({"section": "summary", "field": "balanced", "ledger": str(result["balanced"]).lower()})
    for statement in result["statements"]:
        keys = {k: statement[k] for k in CSV_COLUMNS[1:8]}
        for name in TOTAL_FIELDS:
            ledger, claimed = statement["ledger"][name], statement["statement"][name]
            writer.writerow({"section": "statement", **keys, "field": name, "ledger": ledger, "platform": claimed})
    for section, findings in (result["detail"] or {}).items():
        for finding in findings:
            writer.writerow(_detail_csv_row(section, finding))
    return out.getvalue()


def _detail_csv_row(section: str, finding: Any) -> dict[str, Any]:
    if isinstance(finding, str):
        return {"section": section, "setl_id": finding}
    if section == "reversed_on_one_side":
        ledger, detail = ("1", "0") if finding["reversed_in"] == "ledger" else ("0", "1")
        return {
            "section": section,
            "setl_id": finding["setl_id"],
            "field": "refd_setl_flag",
            "ledger": ledger,
            "platform": detail,
        }
    return {
        "section": section,
        **{k: finding[k] for k in ("setl_id", "field", "ledger")},
        "platform": finding["detail"],
    }

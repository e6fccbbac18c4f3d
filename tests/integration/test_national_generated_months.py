"""Reconciliation on generated months, on SQLite and PostgreSQL: the workload of `ledger
simulate` applied to the ledger, the platform's records of it (`--national-out`) imported,
then the platform's 3201 statements and 3202 detail of each month reconciled with the ledger,
first as the platform would send them, then with one discrepancy of each kind injected.

Method: the platform's side is computed from the national file alone (tests.support.national),
the ledger's side read by the core from the store; each injection must be found exactly where it
was made and nowhere else. Round trips: the ledger's export is the platform's detail, and
importing it back writes nothing and finds nothing."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from infra.core.bootstrap import ledger_of
from infra.core.ledger import Ledger as Core
from infra.eventstore.application import LedgerApp
from infra.tools.national_workload import national_lines
from infra.tools.simulate import simulate
from tests.support import apply_batch
from tests.support.backends import settings_for
from tests.support.national import lines_of, month_ends, platform_detail, platform_statements

PERSONS, MONTHS, SEED = 150, 2, 23
MONTH_BOUNDS = month_ends(date(2025, 1, 1), MONTHS)


@pytest.fixture
def generated(durable_url: str):
    app = LedgerApp(settings_for(durable_url))
    # A relative's resident premium is no institution's settlement: the platform's files never
    # list it, so a ledger holding it is rightly not balanced with them (missing_in_detail).
    lines = [line for line in simulate(PERSONS, MONTHS, SEED) if '"resident_premium"' not in line]
    apply_batch(app, lines)
    records = [json.loads(text) for text in national_lines(settings_for("memory://"), lines)]
    core = ledger_of(app)
    yield core, records
    app.close()


def reconciled(core: Core, statements: list[dict], detail: list[dict] | None) -> dict[str, Any]:
    found = core.national.reconcile(lines_of(statements), lines_of(detail) if detail is not None else None)
    return found.result


def test_generated_months_reconcile_and_each_injected_discrepancy_is_found(generated):
    core, records = generated
    settlements = [r for r in records if r["infno"] == "2207"]
    assert len(settlements) > 150 and any(r["infno"] == "2208" for r in records)
    answers = list(core.national.import_lines(json.dumps(r) for r in settlements))
    assert all(a["ok"] and a["command"] == "record-settlement" and a["discrepancies"] == [] for a in answers)
    for first, last in MONTH_BOUNDS:
        statements, detail = platform_statements(records, first, last), platform_detail(records, first, last)
        result = reconciled(core, statements, detail)
        assert result["balanced"], (first, result)
        assert len(result["statements"]) == len(statements) > 5
        injected_statement_totals_are_found(core, statements, detail)
        injected_detail_findings_are_found(core, statements, detail)


def injected_statement_totals_are_found(core: Core, statements: list[dict], detail: list[dict]) -> None:
    for name, value in (("medfee_sumamt", "0.01"), ("fund_pay_sumamt", "0.01"), ("acct_pay", "0.01"),
                        ("fixmedins_setl_cnt", 999)):  # fmt: skip
        altered = copy.deepcopy(statements)
        altered[3]["input"]["data"][name] = value
        result = reconciled(core, altered, detail)
        off = [s for s in result["statements"] if s["stmt_rslt"] == "1"]
        assert not result["balanced"] and len(off) == 1, name
        assert off[0]["stmt_rslt_dscr"].startswith(f"not balanced: {name}: ledger "), off[0]
        assert result["detail"] == {k: [] for k in result["detail"]}


def injected_detail_findings_are_found(core: Core, statements: list[dict], detail: list[dict]) -> None:
    standing = next(row for row in detail if row["refd_setl_flag"] == "0" and row["acct_mulaid_pay"] != "0.00")
    dropped = detail[0]["setl_id"]
    cases = {
        "missing_in_detail": ([row for row in detail if row["setl_id"] != dropped], [dropped]),
        "missing_in_ledger": ([*detail, {**detail[1], "setl_id": "NOT-IN-LEDGER-1"}], ["NOT-IN-LEDGER-1"]),
        "reversed_on_one_side": (
            [{**row, "refd_setl_flag": "1"} if row is standing else row for row in detail],
            [{"setl_id": standing["setl_id"], "reversed_in": "detail"}],
        ),
        "differing": (
            [{**row, "acct_mulaid_pay": "0.00"} if row is standing else row for row in detail],
            [{"setl_id": standing["setl_id"], "field": "acct_mulaid_pay", "ledger": standing["acct_mulaid_pay"],
              "detail": "0.00"}],
        ),
    }  # fmt: skip
    for section, (altered, expected) in cases.items():
        result = reconciled(core, statements, altered)
        assert not result["balanced"] and result["detail"][section] == expected, (section, result["detail"])
        assert all(findings == [] for name, findings in result["detail"].items() if name != section), section
        assert all(s["stmt_rslt"] == "0" for s in result["statements"]), section


def test_the_export_is_the_platforms_detail_and_importing_it_back_writes_nothing(generated):
    core, records = generated
    settlements = [r for r in records if r["infno"] == "2207"]
    list(core.national.import_lines(json.dumps(r) for r in settlements))
    first, last = MONTH_BOUNDS[0]
    exported = [row for row in core.national.export(first, last) if row["insutype"] is not None]
    masked = [
        row | {"certno": row["certno"][:6] + "********" + row["certno"][-4:]}
        for row in platform_detail(records, first, last)
    ]
    assert exported == sorted(masked, key=lambda row: (row["setl_time"], row["setl_id"]))
    by_id = {r["output"]["setlinfo"]["setl_id"]: r for r in settlements}
    again = []
    for row in exported:  # the export read back as the platform's answer (certno as the platform has it)
        original = by_id[row["setl_id"]]
        setlinfo = {k: v for k, v in row.items() if k != "refd_setl_flag"} | {
            "certno": original["output"]["setlinfo"]["certno"]
        }
        again.append(json.dumps(original | {"output": {"setlinfo": setlinfo}}))
    before = core.app.recorder.max_notification_id()
    answers = list(core.national.import_lines(again))
    assert all(a["ok"] and a["duplicate"] is True and a["discrepancies"] == [] for a in answers), answers[:3]
    assert core.app.recorder.max_notification_id() == before  # the same history: nothing written

"""Reconciliation with the platform: 3201 statement totals and the 3202 detail against the ledger.

Goal: on generated months (one institution, both insurance types, outpatient and pharmacy
clearing, some settlements reversed within the month and some after it) a ledger that agrees
with the platform is balanced, and each injected discrepancy is found where it belongs and
nowhere else: missing on either side, reversed on one side, a differing amount, and a statement
total off by one fen. Method: the month's truth is generated once; the institution's detail,
its statements and the ledger's rows are each derived from it independently, then one side is
changed."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.clock import CST, local_date
from domain.money import format_fen
from domain.rules.model import NationalRules
from infra.national.answers import stmtinfo_output
from infra.national.export import RecordedSettlement
from infra.national.reconcile import CSV_COLUMNS, reconcile, reconciliation_csv
from infra.national.records import DetailLine, Statement3201
from tests.support import id_number
from tests.support.national import (
    INSTITUTION,
    data_2207,
    detail,
    line_2207,
    recorded_from,
    setlinfo,
    settlement,
    statement,
)

RULES = NationalRules()
MONTH_END = date(2025, 4, 30)
KEYS = [("310", "11"), ("310", "41"), ("390", "11"), ("390", "41")]


@dataclass(frozen=True)
class Truth:
    """One settlement as it happened: what the platform and the ledger both know."""

    info: dict
    data: dict
    own_fen: int
    aid_fen: int
    balance_fen: int
    reversed_at: datetime | None

    @property
    def setl_id(self) -> str:
        return self.info["setl_id"]

    def reversed_in_month(self) -> bool:
        return self.reversed_at is not None and local_date(self.reversed_at) <= MONTH_END


def generate_month(seed: int, count: int) -> list[Truth]:
    rng = random.Random(seed)
    month = []
    for i in range(count):
        insutype, clr_type = rng.choice(KEYS)
        part, fund = rng.randint(1, 50_000), rng.randint(0, 100_000)
        own = rng.randint(0, part)
        aid = rng.randint(0, part - own)
        at = datetime(2025, 4, 1, tzinfo=CST) + timedelta(minutes=rng.randrange(30 * 24 * 60))
        reversed_at = at + timedelta(days=rng.randint(0, 20)) if rng.random() < 0.2 else None
        patient = id_number("420102", f"19{rng.randint(40, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}", i % 1000)
        shared = {
            "psn_no": f"P{seed}-{i}",
            "mdtrt_id": f"M{seed}-{i}",
            "insutype": insutype,
            "medfee_sumamt": format_fen(part + fund),
        }
        info = setlinfo(
            **shared,
            setl_id=f"S{seed:05d}{i:05d}",
            certno=patient,
            setl_time=at.strftime("%Y-%m-%d %H:%M:%S"),
            fund_pay_sumamt=format_fen(fund),
            psn_part_amt=format_fen(part),
            acct_pay=format_fen(own),
            acct_mulaid_pay=format_fen(aid),
            psn_cash_pay=format_fen(part - own - aid),
            balc=format_fen(rng.randint(0, 10**6)),
            medins_setl_id=f"MS{seed}-{i}",
            clr_type=clr_type,
        )
        data = data_2207(**shared, mdtrt_cert_no=patient, med_type="41" if clr_type == "41" else "11")
        month.append(Truth(info, data, own, aid, int(info["balc"].replace(".", "")), reversed_at))
    return month


def ledger_rows(month: list[Truth]) -> list[RecordedSettlement]:
    return [
        recorded_from(settlement(line_2207(t.data, t.info)), t.own_fen, t.aid_fen, t.balance_fen, t.reversed_at)
        for t in month
    ]


def institution_detail(month: list[Truth]) -> list[DetailLine]:
    return [detail(t.info | {"refd_setl_flag": "1" if t.reversed_in_month() else "0"}) for t in month]


def statements(month: list[Truth], refd_setl_flag: str = "0") -> list[Statement3201]:
    out = []
    for insutype, clr_type in KEYS:
        counted = [
            t
            for t in month
            if (t.info["insutype"], t.info["clr_type"]) == (insutype, clr_type)
            and (refd_setl_flag == "1" or not t.reversed_in_month())
        ]
        out.append(
            statement(
                insutype=insutype,
                clr_type=clr_type,
                medfee_sumamt=_sum(counted, "medfee_sumamt"),
                fund_pay_sumamt=_sum(counted, "fund_pay_sumamt"),
                acct_pay=_sum(counted, "acct_pay"),
                fixmedins_setl_cnt=len(counted),
                refd_setl_flag=refd_setl_flag,
            )
        )
    return out


def _sum(month: list[Truth], name: str) -> str:
    return format_fen(sum(int(t.info[name].replace(".", "")) for t in month))


MONTHS = st.tuples(st.integers(min_value=0, max_value=10**4), st.integers(min_value=3, max_value=25))


@settings(max_examples=25, deadline=None)
@given(MONTHS, st.sampled_from(["0", "1"]))
def test_a_ledger_that_agrees_with_the_platform_is_balanced(month_spec, refd_setl_flag):
    month = generate_month(*month_spec)
    result = reconcile(statements(month, refd_setl_flag), ledger_rows(month), RULES, institution_detail(month))
    assert result["balanced"] is True, result
    assert {s["stmt_rslt"] for s in result["statements"]} == {"0"}
    assert result["detail"] == {
        "missing_in_ledger": [],
        "missing_in_detail": [],
        "reversed_on_one_side": [],
        "differing": [],
    }


@settings(max_examples=15, deadline=None)
@given(MONTHS, st.data())
def test_a_settlement_missing_in_the_ledger_is_listed_and_unbalances_its_statement(month_spec, data):
    month = generate_month(*month_spec)
    gone = data.draw(st.sampled_from(month))
    rows = [r for r in ledger_rows(month) if r.settlement_id != gone.setl_id]
    result = reconcile(statements(month), rows, RULES, institution_detail(month))
    assert result["balanced"] is False
    assert result["detail"]["missing_in_ledger"] == [gone.setl_id]
    assert result["detail"]["missing_in_detail"] == result["detail"]["differing"] == []
    unbalanced = [s for s in result["statements"] if s["stmt_rslt"] == "1"]
    if gone.reversed_in_month():
        assert unbalanced == []  # a statement of standing settlements never counted it
    else:
        assert [(s["insutype"], s["clr_type"]) for s in unbalanced] == [(gone.info["insutype"], gone.info["clr_type"])]
        assert "fixmedins_setl_cnt" in unbalanced[0]["stmt_rslt_dscr"]


@settings(max_examples=15, deadline=None)
@given(MONTHS, st.data())
def test_a_settlement_missing_in_the_detail_is_listed(month_spec, data):
    month = generate_month(*month_spec)
    gone = data.draw(st.sampled_from(month))
    lines = [line for line in institution_detail(month) if line.setl_id != gone.setl_id]
    result = reconcile(statements(month), ledger_rows(month), RULES, lines)
    assert result["balanced"] is False
    assert result["detail"]["missing_in_detail"] == [gone.setl_id]
    assert result["detail"]["missing_in_ledger"] == []
    assert {s["stmt_rslt"] for s in result["statements"]} == {"0"}


@settings(max_examples=15, deadline=None)
@given(MONTHS, st.data())
def test_a_settlement_reversed_on_one_side_only_is_listed_with_the_side(month_spec, data):
    month = generate_month(*month_spec)
    standing = [t for t in month if t.reversed_at is None]
    if not standing:
        return
    target = data.draw(st.sampled_from(standing))
    rows = [
        replace(r, reversed_at=r.at + timedelta(hours=1)) if r.settlement_id == target.setl_id else r
        for r in ledger_rows(month)
    ]
    result = reconcile(statements(month), rows, RULES, institution_detail(month))
    assert result["detail"]["reversed_on_one_side"] == [{"setl_id": target.setl_id, "reversed_in": "ledger"}]
    assert result["detail"]["differing"] == [] and result["balanced"] is False
    # The detail alone reversing it is the other side.
    lines = [replace_flag(line, "1") if line.setl_id == target.setl_id else line for line in institution_detail(month)]
    other = reconcile(statements(month), ledger_rows(month), RULES, lines)
    assert other["detail"]["reversed_on_one_side"] == [{"setl_id": target.setl_id, "reversed_in": "detail"}]


def replace_flag(line: DetailLine, flag: str) -> DetailLine:
    return line.model_copy(update={"refd_setl_flag": flag})


def test_a_reversal_after_the_period_does_not_count_against_it():
    month = generate_month(7, 12)
    after = replace(month[0], reversed_at=datetime(2025, 5, 3, tzinfo=CST))
    month = [after, *month[1:]]
    result = reconcile(statements(month), ledger_rows(month), RULES, institution_detail(month))
    assert result["balanced"] is True


@settings(max_examples=15, deadline=None)
@given(MONTHS, st.data())
def test_a_differing_amount_is_listed_field_by_field_and_unbalances_acct_pay(month_spec, data):
    month = generate_month(*month_spec)
    paid = [t for t in month if t.own_fen > 0]
    if not paid:
        return
    target = data.draw(st.sampled_from(paid))
    rows = [
        recorded_from(settlement(line_2207(t.data, t.info)), t.own_fen - 1, t.aid_fen, t.balance_fen, t.reversed_at)
        if t is target
        else row
        for t, row in zip(month, ledger_rows(month), strict=True)
    ]
    result = reconcile(statements(month), rows, RULES, institution_detail(month))
    own = format_fen(target.own_fen)
    cash = int(target.info["psn_cash_pay"].replace(".", ""))
    assert result["detail"]["differing"] == [
        {"setl_id": target.setl_id, "field": "acct_pay", "ledger": format_fen(target.own_fen - 1), "detail": own},
        {
            "setl_id": target.setl_id,
            "field": "psn_cash_pay",
            "ledger": format_fen(cash + 1),
            "detail": format_fen(cash),
        },
    ]
    unbalanced = [s for s in result["statements"] if s["stmt_rslt"] == "1"]
    assert len(unbalanced) == (0 if target.reversed_in_month() else 1)


@settings(max_examples=15, deadline=None)
@given(MONTHS, st.integers(min_value=0, max_value=3), st.sampled_from(["medfee_sumamt", "fund_pay_sumamt", "acct_pay"]))
def test_a_statement_total_off_by_one_fen_unbalances_that_statement_alone(month_spec, which, name):
    month = generate_month(*month_spec)
    claimed = statements(month)
    data = claimed[which].input.data
    off = data.model_copy(update={name: getattr(data, name) + 1})
    claimed[which] = claimed[which].model_copy(update={"input": claimed[which].input.model_copy(update={"data": off})})
    result = reconcile(claimed, ledger_rows(month), RULES, institution_detail(month))
    rslt = {(s["insutype"], s["clr_type"]): s for s in result["statements"]}
    assert [k for k, s in rslt.items() if s["stmt_rslt"] == "1"] == [KEYS[which]]
    bad = rslt[KEYS[which]]
    assert bad["stmt_rslt_dscr"] == (
        f"not balanced: {name}: ledger {bad['ledger'][name]}, statement {format_fen(getattr(data, name) + 1)}"
    )
    assert result["balanced"] is False and not any(result["detail"].values())


def test_the_answer_has_the_issues_shape_and_a_statement_answer_for_3201():
    month = generate_month(1, 6)
    result = reconcile(statements(month), ledger_rows(month), RULES)
    assert set(result) == {"balanced", "statements", "detail"} and result["detail"] is None
    first = result["statements"][0]
    assert set(first) == {
        "fixmedins_code",
        "setl_optins",
        "insutype",
        "clr_type",
        "stmt_begndate",
        "stmt_enddate",
        "stmt_rslt",
        "stmt_rslt_dscr",
        "ledger",
        "statement",
    }
    assert first["fixmedins_code"] == INSTITUTION and first["stmt_begndate"] == "2025-04-01"
    assert set(first["ledger"]) == {"medfee_sumamt", "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt"}
    assert stmtinfo_output(first) == {"stmtinfo": {"stmt_rslt": "0", "stmt_rslt_dscr": "balanced"}}


def test_the_csv_has_a_summary_a_row_per_statement_total_and_a_row_per_finding():
    month = generate_month(3, 10)
    lines = institution_detail(month)[1:]
    result = reconcile(statements(month), ledger_rows(month), RULES, lines)
    rows = list(csv.DictReader(io.StringIO(reconciliation_csv(result))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert rows[0]["section"] == "summary" and rows[0]["ledger"] == "false"
    assert len([r for r in rows if r["section"] == "statement"]) == 4 * len(KEYS)
    assert [r["setl_id"] for r in rows if r["section"] == "missing_in_detail"] == [month[0].setl_id]

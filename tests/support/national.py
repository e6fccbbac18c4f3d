"""Builders for the national platform's records (2207, 2208, 3201, 3202) in tests: valid by
default, any field overridden, any field left out (`None` removes it)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from domain.clock import CST
from domain.masking import mask
from domain.money import format_fen
from domain.rules.model import NationalRules
from infra.national.export import RecordedLine, RecordedSettlement
from infra.national.fields import yuan_to_fen
from infra.national.lines import parse_detail_line, parse_import_line, parse_statement_line
from infra.national.records import DetailLine, Reversal2208, Settlement2207, Statement3201
from infra.national.translate import translate_settlement
from tests.support import id_number

PATIENT = id_number("420102", "19800101", 62)  # a Wuhan woman
RELATIVE = id_number("420102", "19520301", 45)
INSTITUTION = "H42010200017"


def wuhan_family(ledger: Any, own: str | None = "70.00", aid: str | None = "500.00") -> Any:
    """The patient (`own` in her account) and her father (`aid`), who authorized mutual aid for
    her: the family of every builder below (`ledger`: a tests.support.Ledger)."""
    ledger.enroll(PATIENT, balance=own)
    ledger.enroll(RELATIVE, balance=aid)
    ledger.ok(
        "authorize", authorizer=RELATIVE, beneficiary=PATIENT, relationship="child", at="2025-02-01T09:00:00+08:00"
    )
    return ledger


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = {**base, **over}
    return {k: v for k, v in out.items() if v is not None}


def setlinfo(**over: Any) -> dict[str, Any]:
    base = {
        "setl_id": "42010000000410043005",
        "mdtrt_id": "420000088057",
        "psn_no": "42000000000001112535",
        "psn_cert_type": "01",
        "certno": PATIENT,
        "insutype": "310",
        "setl_time": "2025-04-10 09:30:00",
        "medfee_sumamt": "300.00",
        "fund_pay_sumamt": "180.00",
        "psn_part_amt": "120.00",
        "acct_pay": "70.00",
        "psn_cash_pay": "0.00",
        "acct_mulaid_pay": "50.00",
        "balc": "0.00",
        "medins_setl_id": "H42010200017202504100930000001",
        "clr_optins": "420100",
        "clr_way": "1",
        "clr_type": "11",
    }
    return _merged(base, over)


def data_2207(**over: Any) -> dict[str, Any]:
    base = {
        "psn_no": "42000000000001112535",
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": PATIENT,
        "med_type": "11",
        "medfee_sumamt": "300.00",
        "psn_setlway": "01",
        "mdtrt_id": "420000088057",
        "chrg_bchno": "CB20250410093000",
        "insutype": "310",
        "acct_used_flag": "1",
    }
    return _merged(base, over)


def envelope(infno: str, data: dict[str, Any], **over: Any) -> dict[str, Any]:
    base = {
        "infno": infno,
        "msgid": f"{INSTITUTION}202504100930001234",
        "fixmedins_code": INSTITUTION,
        "insuplc_admdvs": "420102",
        "mdtrtarea_admvs": "420102",
        "inf_time": "2025-04-10 09:30:00",
        "opter": "op-017",
        "input": {"data": data},
    }
    return _merged(base, over)


def line_2207(data: dict[str, Any] | None = None, info: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    body = envelope("2207", data if data is not None else data_2207(), **over)
    return body | {"output": {"setlinfo": info if info is not None else setlinfo()}}


def line_2208(**over: Any) -> dict[str, Any]:
    data = {"setl_id": "42010000000410043005", "mdtrt_id": "420000088057", "psn_no": "42000000000001112535"}
    return envelope("2208", data, **({"inf_time": "2025-04-12 15:00:00"} | over))


def data_3201(**over: Any) -> dict[str, Any]:
    base = {
        "insutype": "310",
        "clr_type": "11",
        "setl_optins": "420100",
        "stmt_begndate": "2025-04-01",
        "stmt_enddate": "2025-04-30",
        "medfee_sumamt": "300.00",
        "fund_pay_sumamt": "180.00",
        "acct_pay": "70.00",
        "fixmedins_setl_cnt": 1,
        "refd_setl_flag": "0",
    }
    return _merged(base, over)


def settlement(body: dict[str, Any] | None = None) -> Settlement2207:
    parsed = parse_import_line(json.dumps(body if body is not None else line_2207()))
    if not isinstance(parsed, Settlement2207):
        raise AssertionError(f"not a 2207: {parsed}")
    return parsed


def reversal(body: dict[str, Any] | None = None) -> Reversal2208:
    parsed = parse_import_line(json.dumps(body if body is not None else line_2208()))
    if not isinstance(parsed, Reversal2208):
        raise AssertionError(f"not a 2208: {parsed}")
    return parsed


def statement(**over: Any) -> Statement3201:
    parsed = parse_statement_line(json.dumps(envelope("3201", data_3201(**over))))
    if not isinstance(parsed, Statement3201):
        raise AssertionError(f"not a 3201: {parsed}")
    return parsed


def detail(row: dict[str, Any]) -> DetailLine:
    parsed = parse_detail_line(json.dumps(row))
    if not isinstance(parsed, DetailLine):
        raise AssertionError(f"not a detail line: {parsed}")
    return parsed


def recorded_from(
    record: Settlement2207,
    own_fen: int,
    aid_fen: int,
    balance_after_fen: int,
    reversed_at: datetime | None = None,
) -> RecordedSettlement:
    """What the ledger would record for `record` if it paid `own_fen` from the patient's account
    and `aid_fen` from one relative's (no deduction when the record says the accounts pay nothing)."""
    translation = translate_settlement(record, NationalRules())
    setlinfo_ = record.output.setlinfo
    patient = mask(translation.patient)
    lines: tuple[RecordedLine, ...] = ()
    if translation.command is None:
        amount, out_of_pocket = 0, 0
    else:
        amount = setlinfo_.psn_part_amt
        lines = tuple(
            line
            for line in (RecordedLine(patient, own_fen, True), RecordedLine(mask(RELATIVE), aid_fen, False))
            if line.amount_fen > 0
        )
        out_of_pocket = amount - own_fen - aid_fen
    return RecordedSettlement(
        settlement_id=setlinfo_.setl_id,
        institution=record.fixmedins_code,
        at=setlinfo_.setl_time,
        amount_fen=amount,
        lines=lines,
        out_of_pocket_fen=out_of_pocket,
        patient_masked=patient,
        balance_after_fen=balance_after_fen,
        reversed_at=reversed_at,
        platform=translation.platform,
    )


def at_cst(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)


# --- the platform's side of generated months (ledger simulate --national-out) ------------------
def month_ends(first: date, months: int) -> list[tuple[date, date]]:
    """[(first day, last day)] of `months` natural months from `first` (a first of a month)."""
    out, start = [], first
    for _ in range(months):
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        out.append((start, following - timedelta(days=1)))
        start = following
    return out


def reversed_on(records: list[dict[str, Any]]) -> dict[str, date]:
    """When each settlement was reversed, by the 2208 lines (their inf_time, UTC+8)."""
    return {
        r["input"]["data"]["setl_id"]: date.fromisoformat(r["inf_time"][:10]) for r in records if r["infno"] == "2208"
    }


def platform_statements(records: list[dict[str, Any]], first: date, last: date) -> list[dict[str, Any]]:
    """The platform's 3201 statements of a period for every institution, agency, scheme and
    clearing type, counting the settlements that stand at its end (refd_setl_flag 0)."""
    gone = reversed_on(records)
    totals: dict[tuple[str, ...], list[int]] = {}
    for record in records:
        if record["infno"] != "2207":
            continue
        info = record["output"]["setlinfo"]
        day = date.fromisoformat(info["setl_time"][:10])
        if not first <= day <= last or (info["setl_id"] in gone and gone[info["setl_id"]] <= last):
            continue
        key = (record["fixmedins_code"], info["clr_optins"], info["insutype"], info["clr_type"])
        sums = totals.setdefault(key, [0, 0, 0, 0])
        for i, name in enumerate(("medfee_sumamt", "fund_pay_sumamt", "acct_pay")):
            sums[i] += yuan_to_fen(info[name])
        sums[3] += 1
    return [
        envelope("3201", data_3201(
            insutype=insutype, clr_type=clr_type, setl_optins=agency, stmt_begndate=first.isoformat(),
            stmt_enddate=last.isoformat(), medfee_sumamt=format_fen(sums[0]), fund_pay_sumamt=format_fen(sums[1]),
            acct_pay=format_fen(sums[2]), fixmedins_setl_cnt=sums[3]), fixmedins_code=institution)
        for (institution, agency, insutype, clr_type), sums in sorted(totals.items())
    ]  # fmt: skip


def platform_detail(records: list[dict[str, Any]], first: date, last: date) -> list[dict[str, Any]]:
    """The institutions' 3202 detail of a period: each settlement's setlinfo and whether it was
    reversed by the period's end."""
    gone = reversed_on(records)
    rows = []
    for record in records:
        info = record.get("output", {}).get("setlinfo")
        if info is None or not first <= date.fromisoformat(info["setl_time"][:10]) <= last:
            continue
        reversed_ = info["setl_id"] in gone and gone[info["setl_id"]] <= last
        rows.append(info | {"refd_setl_flag": "1" if reversed_ else "0"})
    return rows


def lines_of(objects: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(item, ensure_ascii=False) for item in objects]

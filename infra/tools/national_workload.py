"""A generated workload's settlements in the national platform's shape (`ledger simulate
--national-out FILE`): for each deduction the ledger makes of it, a 2207 import line (the
request envelope, and the platform's `output.setlinfo` with the figures the ledger decided), and
for each reversal a 2208, in time order (docs/national.md).

The workload is applied to a scratch ledger in memory, through the core, so the figures are the
ledger's own decisions: imported into a ledger that applied the same workload, every record is
kept with its deduction and shows no discrepancy. What only the platform knows is generated from
the settlement id (the same workload, the same bytes): the pooled fund's part (`fund_pay_sumamt`,
so `medfee_sumamt` = fund + `psn_part_amt`), the visit and person numbers, the clearing keys
(`clr_optins` the patient's city; `clr_type` 41 for a pharmacy purchase, else 11). A deduction
of a relative's resident premium is no settlement of an institution: it has no 2207.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from domain.clock import CST
from domain.money import format_fen
from infra.core.bootstrap import open_ledger
from infra.core.ledger import Ledger
from infra.national.discrepancies import reported_fen
from infra.national.export import TIME_FORMAT
from infra.settings import Settings
from infra.writing.write_path import BATCH_SIZE_DEFAULT

MED_TYPE_OF = {"pharmacy": "41", "hospital_self_pay": "11"}  # the catalogue's national.category_by_med_type


def national_lines(settings: Settings, lines: Iterable[str]) -> Iterator[str]:
    """The workload's 2207 and 2208 lines, as JSON text, decided by a scratch ledger in memory
    (`settings`: its rules; its store is replaced by memory://)."""
    scratch = open_ledger(dataclasses.replace(settings, db="memory://", read_only=False))
    try:
        yield from _records(scratch, lines)
    finally:
        scratch.close()


def _records(ledger: Ledger, lines: Iterable[str]) -> Iterator[str]:
    sent: deque[dict[str, Any]] = deque()  # the commands read, in the order their answers come
    insurance: dict[str, str] = {}
    visits: dict[str, dict[str, Any]] = {}  # settlement id -> its 2207 request, for its 2208

    def reading() -> Iterator[str]:
        for text in lines:
            command = json.loads(text)
            sent.append(command)
            if command["type"] == "enroll":
                insurance[command["person"]] = command["insurance"]
            yield text

    for answer in ledger.commands.stream(reading(), batch_size=BATCH_SIZE_DEFAULT):
        command = sent.popleft()
        if not answer["ok"] or answer.get("duplicate"):
            continue
        if command["type"] == "deduct" and command["category"] in MED_TYPE_OF:
            line = settlement_line(ledger, command, insurance[command["patient"]] == "employee")
            visits[command["settlement_id"]] = line
            yield json.dumps(line, ensure_ascii=False, separators=(",", ":"))
        elif command["type"] == "reverse" and command["settlement_id"] in visits:
            yield json.dumps(reversal_line(visits.pop(command["settlement_id"]), command), separators=(",", ":"))


def settlement_line(ledger: Ledger, command: dict[str, Any], employee: bool) -> dict[str, Any]:
    side = ledger.national.side
    settlement = side.settlement(command["settlement_id"])
    if settlement is None:
        raise LookupError(f"settlement {command['settlement_id']} was answered but not stored")
    decided = reported_fen(side.recorded(settlement).decision, side.rules_of(settlement))
    setl_id, patient = command["settlement_id"], command["patient"]
    digest = hashlib.sha256(f"{setl_id}|{patient}".encode()).hexdigest()
    part_fen = settlement.amount_fen
    fund_fen = part_fen * int(digest[:2], 16) // 128  # 0 to 2 times the patient's part
    med_type = MED_TYPE_OF[command["category"]]
    at = settlement.opened_at.astimezone(CST).strftime(TIME_FORMAT)
    common = {
        "psn_no": f"PSN{digest[2:18]}",
        "mdtrt_id": f"M{setl_id}"[:30],
        "insutype": "310" if employee else "390",
        "medfee_sumamt": format_fen(part_fen + fund_fen),
    }
    data = (
        common
        | {
            "mdtrt_cert_type": "01",  # the e-voucher: its token is no ID number
            "mdtrt_cert_no": f"EV{digest[18:42]}",
            "med_type": med_type,
            "psn_setlway": "01",
            "chrg_bchno": f"C{setl_id}"[:30],
            "acct_used_flag": "1",
        }
    )
    setlinfo = common | {
        "setl_id": setl_id,
        "psn_cert_type": "01",
        "certno": patient,
        "setl_time": at,
        "fund_pay_sumamt": format_fen(fund_fen),
        "psn_part_amt": format_fen(part_fen),
        **{name: format_fen(fen) for name, fen in decided.items()},
        "medins_setl_id": f"S{setl_id}"[:30],
        "clr_optins": patient[:4] + "00",
        "clr_way": "1",
        "clr_type": "41" if med_type == "41" else "11",
    }
    line = envelope("2207", command["institution"], data, at, setl_id, patient[:6])
    return line | {"output": {"setlinfo": setlinfo}}


def reversal_line(settled: dict[str, Any], command: dict[str, Any]) -> dict[str, Any]:
    data = settled["input"]["data"]
    at = datetime.fromisoformat(command["at"]).astimezone(CST).strftime(TIME_FORMAT)
    reverse = {"setl_id": command["settlement_id"], "mdtrt_id": data["mdtrt_id"], "psn_no": data["psn_no"]}
    region = settled["insuplc_admdvs"]
    return envelope("2208", settled["fixmedins_code"], reverse, at, command["settlement_id"] + "R", region)


def envelope(infno: str, institution: str, data: dict[str, Any], at: str, serial: str, region: str) -> dict[str, Any]:
    """The request envelope; its regions (the insured's and the treatment's: the patient's here)
    and its transport fields are read and never kept."""
    return {
        "infno": infno,
        "msgid": hashlib.sha256(f"{infno}|{serial}".encode()).hexdigest()[:30],
        "fixmedins_code": institution,
        "insuplc_admdvs": region,
        "mdtrtarea_admvs": region,
        "inf_time": at,
        "opter": "simulate",
        "input": {"data": data},
    }

"""The data-subject report as a page (infra.audit.subject_report builds it): the rows of each
section, for the offline file (`ledger subject-report --format html`, the API's `?format=html`)
and the console's page, which include the same body template."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from infra.pages.describing import event_facts
from infra.pages.formatting import term, when, yuan
from infra.pages.templating import render


def _ties(ties: list[dict[str, Any]], fields: tuple[str, ...]) -> list[list[Any]]:
    return [[tie["person"], *(term(tie[f], f) for f in fields), when(tie["since"])] for tie in ties]


def _sender(event: dict[str, Any]) -> Markup:
    """Who sent the change: the key's role and tenant, with the key id as a tag."""
    sent = event.get("sent_by")
    if not sent:
        return Markup("—")
    return Markup("{} <code class=\"tag\">{}</code>").format(term(sent["role"], "key_role")
                                                           if sent["role"] != "ledger" else "ledger 账本",
                                                           sent["key_id"] or sent["tenant"])  # fmt: skip


def _event(event: dict[str, Any]) -> Markup:
    return Markup("{} — {}").format(term(event["type"], "event"), event_facts(event))


def subject_report_context(report: dict[str, Any]) -> dict[str, Any]:
    p, c = report["person"], report["completeness"]
    bindings, aid, deductions = report["bindings"], report["authorizations"], report["deductions"]
    sections = [
        ("Bound by this person 本人绑定的成员", ["Member 成员", "Relationship 关系", "Channel 渠道", "Since 起始"],
         _ties(bindings["members"], ("relationship", "channel")), (), "members"),
        ("Who bound this person 绑定本人者", ["Binder 绑定人", "Relationship 关系", "Channel 渠道", "Since 起始"],
         _ties(bindings["binders"], ("relationship", "channel")), (), "binders"),
        ("Who pays for this person 为本人共济者", ["Authorizer 授权人", "Relationship 关系", "Since 起始"],
         _ties(aid["authorizers"], ("relationship",)), (), "authorizers"),
        ("Whom this person pays for 本人为其共济", ["Beneficiary 受益人", "Relationship 关系", "Since 起始"],
         _ties(aid["beneficiaries"], ("relationship",)), (), "beneficiaries"),
        ("Deductions as patient 本人就医扣款", ["Settlement 结算号", "At 时间", "Amount 金额", "Institution 机构",
         "Paid by 支付账户", "Out of pocket 自付", "Reversed 已冲正"],
         [[d["settlement_id"], when(d["at"]), yuan(d["amount_fen"]), d["institution"],
           ", ".join(f"{x['person']} {yuan(x['amount_fen'])}" for x in d["paid_by"]), yuan(d["out_of_pocket_fen"]),
           d["reversed"]] for d in deductions["as_patient"]], (2, 5), "as-patient"),
        ("Paid for others 为他人共济支付", ["Settlement 结算号", "At 时间", "Patient 患者", "Amount 金额",
         "Reversed 已冲正"],
         [[d["settlement_id"], when(d["at"]), d["patient"], yuan(d["amount_fen"]), d["reversed"]]
          for d in deductions["as_payer"]], (3,), "as-payer"),
        ("Who read this person's data 访问记录", ["At 时间", "Key 密钥", "Role 角色", "Endpoint 接口", "Purpose 目的"],
         [[when(a["at"]), Markup("<code>{}</code>").format(a["key_id"]), term(a["role"], "key_role"),
           Markup("<code>{}</code>").format(a["endpoint"]), a["purpose"]] for a in report["access"]], (), "access"),
        (f"History 历史 ({len(report['events'])} event(s))", ["Position 位置", "At 生效", "Recorded 记录",
         "Event 事件", "Sent by 发送方", "Balance after 余额"],
         [[e["position"], when(e["at"]), when(e["recorded_at"]), _event(e), _sender(e), yuan(e["balance_after_fen"])]
          for e in report["events"]], (0, 5), "events"),
    ]  # fmt: skip
    person_rows = [
        ["ID number (masked) 身份证号（脱敏）", p["person"]], ["region 地区", p["region"]],
        ["insurance 险种", term(p["insurance"], "insurance")], ["status 状态", term(p["status"], "status")],
        ["balance 余额", yuan(p["balance_fen"])], ["enrolled 参保时间", when(p["enrolled_at"])],
        ["version 版本", p["version"]],
    ]  # fmt: skip
    return {
        "report": report,
        "person_rows": person_rows,
        "sections": [dict(zip(("title", "headers", "rows", "numeric", "id"), s, strict=True)) for s in sections],
        "complete": bool(c["evidence_ok"] and c["sealed"] == c["events"]),
    }


def render_subject_report(report: dict[str, Any]) -> str:
    return render("subject_report.html", title=f"Personal data report {report['person']['person']}",
                  **subject_report_context(report))  # fmt: skip

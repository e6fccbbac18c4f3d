"""Self-contained HTML pages (no scripts, no network, no external assets): charts are inline
SVG drawn here. Labels are bilingual so a non-programmer can read them."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from html import escape
from typing import Any

from domain.money import format_fen

STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",Arial,sans-serif;margin:24px 32px;color:#1d2733;
background:#fff;max-width:1100px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #d8e0ea;padding-bottom:4px}
.sub{color:#5b6b7d;margin:0 0 16px}table{border-collapse:collapse;margin:8px 0 12px;min-width:50%}
th,td{border:1px solid #d8e0ea;padding:5px 10px;text-align:left;font-size:14px;vertical-align:top}
th{background:#f1f5f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:10px 18px;border-radius:6px;font-size:20px;font-weight:bold;margin:8px 0}
.ok{background:#dcfce7;color:#14532d;border:2px solid #16a34a}
.bad{background:#fee2e2;color:#7f1d1d;border:2px solid #dc2626}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.card{border:1px solid #d8e0ea;border-radius:8px;padding:10px 14px;
min-width:150px;background:#f8fafc}.card b{display:block;font-size:22px}.card span{color:#5b6b7d;font-size:13px}
.charts{display:flex;flex-wrap:wrap;gap:18px}
.chart{border:1px solid #d8e0ea;border-radius:8px;padding:8px;background:#fff}
code{font-size:12px;word-break:break-all}.small{font-size:12px;color:#5b6b7d}
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")


def _yuan(fen: int | None) -> str:
    return "—" if fen is None else f"¥{format_fen(fen)}"


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes 是" if value else "no 否"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]], numeric: AbstractSet[int] = frozenset()) -> str:
    rows = [[_shown(v) for v in row] for row in rows]
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{escape(str(v))}</td>' if i in numeric else f"<td>{escape(str(v))}</td>"
                         for i, v in enumerate(row)) + "</tr>" for row in rows)
    if not rows:
        body = f'<tr><td colspan="{len(headers)}">(none 无)</td></tr>'
    return f"<table><tr>{head}</tr>{body}</table>"


def _card(label: str, value: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


# --- charts --------------------------------------------------------------------------------------
def column_chart(title: str, points: list[tuple[str, int]], color: str, width: int = 520, height: int = 220) -> str:
    """Vertical bars, one per day; every 5th day labelled."""
    top = max([v for _, v in points] + [1])
    left, bottom, plot_h = 40, 30, height - 60
    step = (width - left - 10) / max(len(points), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}"><text x="{left}" y="16" font-size="14" font-weight="bold" '
             f'fill="#1d2733">{escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#94a3b8"/>',
             f'<text x="{left - 6}" y="{height - bottom - plot_h + 4}" font-size="11" text-anchor="end" '
             f'fill="#5b6b7d">{top}</text><text x="{left - 6}" y="{height - bottom + 4}" font-size="11" '
             f'text-anchor="end" fill="#5b6b7d">0</text>']
    for i, (label, value) in enumerate(points):
        bar_h = plot_h * value / top
        x = left + i * step + 1
        parts.append(f'<rect x="{x:.1f}" y="{height - bottom - bar_h:.1f}" width="{max(step - 2, 1):.1f}" '
                     f'height="{bar_h:.1f}" fill="{color}"><title>{escape(label)}: {value}</title></rect>')
        if i % 5 == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="10" fill="#5b6b7d">'
                         f'{escape(label[5:])}</text>')
    parts.append("</svg>")
    return '<div class="chart">' + "".join(parts) + "</div>"


def bar_chart(title: str, items: list[tuple[str, int]], color: str, width: int = 520) -> str:
    """Horizontal bars, one per category, largest first."""
    items = sorted(items, key=lambda kv: (-kv[1], kv[0])) or [("(none 无)", 0)]
    top = max([v for _, v in items] + [1])
    row_h = 26
    label_w = max(120, int(7.4 * max(len(label) for label, _ in items)) + 12)  # ~7 px a character at 12 px
    width = max(width, label_w + 310)
    height = 30 + row_h * len(items)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}"><text x="4" y="16" font-size="14" font-weight="bold" '
             f'fill="#1d2733">{escape(title)}</text>']
    for i, (label, value) in enumerate(items):
        y = 26 + i * row_h
        bar_w = (width - label_w - 50) * value / top
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end" fill="#1d2733">'
                     f'{escape(label)}</text><rect x="{label_w}" y="{y + 3}" width="{bar_w:.1f}" height="{row_h - 8}" '
                     f'fill="{color}"/><text x="{label_w + bar_w + 6:.1f}" y="{y + 15}" font-size="12" '
                     f'fill="#1d2733">{value}</text>')
    parts.append("</svg>")
    return '<div class="chart">' + "".join(parts) + "</div>"


# --- the audit of one deduction ------------------------------------------------------------------
def render_audit(result: dict[str, Any]) -> str:
    ok = result["verdict"] == "consistent"
    verdict = ("✔ Consistent 一致: replaying the recorded rules on the recorded balances gives exactly the "
               "recorded split"
               if ok else "✘ Mismatch 不一致: the recorded split is NOT what the rules give")
    body = [f"<h1>Deduction audit 扣款核查 — {escape(result['settlement_id'])}</h1>",
            f'<p class="sub">Computed from the event store itself. Patient 患者 {escape(result["patient"])} · '
            f"{escape(result['at'])} (UTC+8) · rule set 规则版本 <b>{escape(result['rule_version'])}</b></p>",
            f'<div class="verdict {"ok" if ok else "bad"}">{escape(verdict)}</div>']
    if result["differences"]:
        body.append("<ul>" + "".join(f"<li>{escape(d)}</li>" for d in result["differences"]) + "</ul>")
    paid_fen = sum(line["amount_fen"] for line in result["recorded"]["lines"])
    body.append('<div class="cards">' + _card("Amount 结算金额", _yuan(result["amount_fen"]))
                + _card("Paid from accounts 账户支付", _yuan(paid_fen))
                + _card("Out of pocket 自付现金", _yuan(result["recorded"]["out_of_pocket_fen"]))
                + _card("Category 类别", result["category"]) + _card("Institution 机构", result["institution"])
                + _card("Reversed 已冲正", "yes 是" if result["reversed"] else "no 否") + "</div>")
    if result.get("presented_by"):
        body.append(f"<p>Presented by 代为出示凭证: {escape(result['presented_by'])}</p>")
    body.append("<h2>1. Accounts just before the payment 扣款前各账户</h2>")
    body.append(_table(["Order 顺序", "Account 账户", "Role 角色", "Balance before 扣前余额", "May use 可用",
                        "Authorized at 授权时间", "Why this place 排序依据", "Paid 支付"],
                       [[c["rank"] if c["rank"] is not None else "excluded 排除", c["person"], c["role"],
                         _yuan(c["balance_before_fen"]), _yuan(c["available_fen"]), c["authorized_at"] or "—",
                         c["why"], _yuan(c["paid_fen"])] for c in result["candidates"]], {3, 4, 7}))
    body.append("<h2>2. The split, step by step 逐步分摊</h2>")
    body.append(_table(["Step 步骤", "Account 账户", "Still to pay 待付", "Paid 支付", "Left 剩余"],
                       [[s["step"], s["person"], _yuan(s["remaining_before_fen"]), _yuan(s["paid_fen"]),
                         _yuan(s["remaining_after_fen"])] for s in result["steps"]], {2, 3, 4}))
    body.append("<h2>3. Recorded vs replayed 记录与重算对比</h2>")
    recorded = {line["person"]: line["amount_fen"] for line in result["recorded"]["lines"]}
    replayed = {line["person"]: line["amount_fen"] for line in result["replayed"]["lines"]}
    people = list(dict.fromkeys([*recorded, *replayed]))
    rows = [[p, _yuan(recorded.get(p, 0)), _yuan(replayed.get(p, 0)),
             "✔" if recorded.get(p, 0) == replayed.get(p, 0) else "✘"] for p in people]
    rows.append(["out of pocket 自付", _yuan(result["recorded"]["out_of_pocket_fen"]),
                 _yuan(result["replayed"]["out_of_pocket_fen"]),
                 "✔" if result["recorded"]["out_of_pocket_fen"] == result["replayed"]["out_of_pocket_fen"] else "✘"])
    body.append(_table(["Account 账户", "Recorded 记录", "Replayed 重算", "Same 相同"], rows, {1, 2}))
    rules = result["rules"]
    body.append("<h2>4. Rules in force 当时适用的规则</h2>")
    body.append(_table(["Rule 规则", "Value 取值"], [
        ["version 版本", rules["version"]], ["own account first 先用本人账户", rules["own_account_first"]],
        ["order 使用顺序", rules["order"]], ["one authorizer per payment 每次仅一位授权人", rules["single_authorizer"]],
        ["only balance above (fen) may be shared 仅超出部分可共济", rules["shareable_above_fen"]],
        ["category eligible 类别可用", rules["category_eligible"]]]))
    if result["reversals"]:
        body.append("<h2>5. Reversals 冲正</h2>")
        body.append(_table(["At 时间", "Reason 原因", "Refunded 退回", "Exact 原路退回"],
                           [[r["at"], r["reason"] or "—", ", ".join(f"{x['person']} {_yuan(x['amount_fen'])}"
                                                                     for x in r["refunded"]),
                             "✔" if r["refunds_exact"] else "✘"] for r in result["reversals"]]))
    body.append("<h2>Evidence 证据 (events in the ledger's global order)</h2>")
    check = result.get("time_check")
    if check is not None:
        verdict = ("every account it read was effective and recorded before it 所用事实均早于本次扣款" if check["ok"]
                   else "it read facts from its own future 使用了晚于本次扣款的事实: "
                   + ", ".join(f"{x['person']} v{x['version']}" for x in check["inputs_from_its_future"]))
        body.append(f"<p>Decided at {escape(str(check['decision_at']))}, recorded at "
                    f"{escape(str(check['decision_recorded_at'] or 'unknown'))}: {escape(verdict)}.</p>")
    body.append(_table(["Position 位置", "Person 人员", "Event 事件", "At 生效时间", "Recorded 记录时间",
                        "Chain hash 链哈希", "Sealed 已封存"],
                       [[e["position"], e["person"], e["type"], e["at"], e.get("recorded_at") or "unknown 未知",
                         e["hash"] or "—",
                         "yes 是" if e["sealed"] else "not yet 未封存"] for e in result["evidence"]]))
    body.append('<p class="small">Amounts in yuan (¥), stored as integer fen. ID numbers are masked. '
                "A sealed hash can be checked against the ledger's published checkpoint with "
                "<code>ledger verify</code> or, offline, with <code>ledger verify-bundle</code>.</p>")
    return _page(f"Deduction audit {result['settlement_id']}", "".join(body))


# --- the compliance report -----------------------------------------------------------------------
def render_report(report: dict[str, Any]) -> str:
    b, a, d, m, r, i = (report[k] for k in ("bindings", "authorizations", "deductions", "mutual_aid", "reversals",
                                            "integrity"))
    region = report["region"] or "all regions 全部地区"
    days = report["by_day"]
    verified = "✔ verified 已验证" if i["verified"] else "✘ NOT verified 未通过验证"
    body = [f"<h1>Compliance report 合规报告 — {escape(report['month'])}</h1>",
            f'<p class="sub">Region 地区: {escape(region)} · months in China Standard Time (UTC+8) · '
            'amounts in yuan</p>',
            f'<div class="verdict {"ok" if i["verified"] else "bad"}">History integrity 历史完整性: {escape(verified)}'
            + (f' — sealed through position {i["sealed_through"]}' if i["sealed_through"] is not None
               else " — nothing sealed yet 尚未封存 (run ledger seal)") + "</div>",
            '<div class="cards">' + _card("Bindings created 新增绑定", str(b["created"]))
            + _card("Unbinds 解绑", str(b["ended"]["count"]))
            + _card("Rejected binds 拒绝绑定", str(b["rejected"]["count"]))
            + _card("Active bindings at month end 月末有效绑定", str(b["active_at_month_end"]))
            + _card("Authorizations 新增共济授权", str(a["created"]))
            + _card("Deductions 扣款笔数", str(d["count"])) + _card("Deducted 结算金额", _yuan(d["amount_fen"]))
            + _card("Paid for others 共济支付", _yuan(m["paid_for_others_fen"]))
            + _card("Reversals 冲正", f"{r['count']} · {_yuan(r['amount_fen'])}") + "</div>",
            "<h2>Charts 图表</h2><div class=\"charts\">",
            column_chart("Bindings created by day 每日新增绑定", [(x["date"], x["bindings"]) for x in days], "#2563eb"),
            column_chart("Deductions by day 每日扣款笔数", [(x["date"], x["deductions"]) for x in days], "#059669"),
            bar_chart("Unbinds by reason 解绑原因", list(b["ended"]["by_reason"].items()), "#d97706"),
            bar_chart("Rejected binds by code 拒绝原因", list(b["rejected"]["by_code"].items()), "#dc2626"),
            "</div>",
            "<h2>Bindings 亲情账户绑定</h2>",
            _table(["Channel 渠道", "Created 新增"], [[k, v] for k, v in b["by_channel"].items()], {1}),
            "<h2>Mutual aid 家庭共济</h2>",
            _table(["Figure 指标", "Value 数值"], [
                ["authorizations created 新增授权", a["created"]], ["authorizations ended 终止授权", a["ended"]],
                ["active at month end 月末有效", a["active_at_month_end"]],
                ["paid from others' accounts 他人账户支付", _yuan(m["paid_for_others_fen"])],
                ["authorizer–patient pairs 授权人-患者对数", m["pairs"]],
                ["deductions using aid 使用共济的扣款", m["deductions_with_aid"]]]),
            "<h2>Deductions 扣款</h2>",
            _table(["Figure 指标", "Value 数值"], [
                ["count 笔数", d["count"]], ["amount 金额", _yuan(d["amount_fen"])],
                ["paid from accounts 账户支付", _yuan(d["paid_from_accounts_fen"])],
                ["out of pocket 自付", _yuan(d["out_of_pocket_fen"])]]),
            _table(["Category 类别", "Count 笔数", "Amount 金额"],
                   [[k, v.get("count", 0), _yuan(v.get("amount_fen", 0))] for k, v in d["by_category"].items()],
                   {1, 2}),
            "<h2>Integrity 完整性</h2>",
            _table(["Figure 指标", "Value 数值"], [
                ["sealed through position 封存至位置", i["sealed_through"]], ["sealed at 封存时间", i["sealed_at"]],
                ["checkpoint hash 检查点哈希", i["checkpoint_sha256"]], ["problems found 发现问题", i["problems"]],
                ["records not yet sealed 未封存记录", i["unsealed"]]]),
            '<p class="small">Computed by one pass over the event log (not from views), up to position '
            f'{escape(str(report["log_position"]))}.</p>']
    return _page(f"Compliance report {report['month']}", "".join(body))

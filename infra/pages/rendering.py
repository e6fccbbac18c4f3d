"""Self-contained HTML pages (no scripts, no network, no external assets), rendered from the
templates beside this module (infra/pages/templates: audit.html, report.html, and their bodies,
which the console's pages include too). Charts are inline SVG: their geometry is computed here,
their markup is in templates/macros.html. Labels are bilingual so a non-programmer can read them."""

from __future__ import annotations

from typing import Any

from infra.pages import formatting
from infra.pages.formatting import yuan
from infra.pages.templating import render
from infra.pages.vocabulary import term


# --- charts: geometry only ---------------------------------------------------------------------
def column_chart(
    title: str, points: list[tuple[str, int]], color: str, width: int = 520, height: int = 220
) -> dict[str, Any]:
    """Vertical bars, one per day; every 5th day labelled."""
    top = max([v for _, v in points] + [1])
    left, bottom, plot_h = 40, 30, height - 60
    step = (width - left - 10) / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        bar_h = plot_h * value / top
        x = left + i * step + 1
        bars.append(
            {
                "x": f"{x:.1f}",
                "y": f"{height - bottom - bar_h:.1f}",
                "w": f"{max(step - 2, 1):.1f}",
                "h": f"{bar_h:.1f}",
                "label": label,
                "value": value,
                "tick": label[5:] if i % 5 == 0 else "",
            }
        )
    return {
        "title": title,
        "color": color,
        "width": width,
        "height": height,
        "left": left,
        "base": height - bottom,
        "plot_h": plot_h,
        "top": top,
        "bars": bars,
    }


def label_width_px(text: str, font_px: int = 12) -> int:
    """About how wide `text` is at `font_px`: a CJK character is about one em, other characters
    about 0.6 em (the chart's labels are bilingual)."""
    wide = sum(1 for ch in text if ord(ch) > 0x2E7F)
    return int(font_px * (wide + 0.62 * (len(text) - wide)))


def bar_chart(title: str, items: list[tuple[str, int]], color: str, kind: str, width: int = 520) -> dict[str, Any]:
    """Horizontal bars, one per code of vocabulary `kind` (labelled bilingually), largest first."""
    items = sorted(items, key=lambda kv: (-kv[1], kv[0]))
    labelled = [(term(kind, code).label, code, value) for code, value in items] or [("(none 无)", "", 0)]
    top = max([v for _, _, v in labelled] + [1])
    row_h = 26
    label_w = max(120, max(label_width_px(label) for label, _, _ in labelled) + 12)
    width = max(width, label_w + 310)
    bars = []
    for i, (label, code, value) in enumerate(labelled):
        bar_w = (width - label_w - 50) * value / top
        bars.append(
            {
                "y": 26 + i * row_h,
                "w": f"{bar_w:.1f}",
                "value_x": f"{label_w + bar_w + 6:.1f}",
                "label": label,
                "code": code or label,
                "value": value,
            }
        )
    return {
        "title": title,
        "color": color,
        "width": width,
        "height": 30 + row_h * len(labelled),
        "row_h": row_h,
        "label_w": label_w,
        "bars": bars,
    }


# --- the audit of one deduction ------------------------------------------------------------------
def audit_context(result: dict[str, Any]) -> dict[str, Any]:
    """What audit_body.html shows beyond the replay itself (the same for the file and the console)."""
    recorded = {line["person"]: line["amount_fen"] for line in result["recorded"]["lines"]}
    replayed = {line["person"]: line["amount_fen"] for line in result["replayed"]["lines"]}
    comparison = [
        {"person": p, "recorded": recorded.get(p, 0), "replayed": replayed.get(p, 0)}
        for p in dict.fromkeys([*recorded, *replayed])
    ]
    comparison.append(
        {
            "person": "Out of pocket 自付",
            "recorded": result["recorded"]["out_of_pocket_fen"],
            "replayed": result["replayed"]["out_of_pocket_fen"],
        }
    )
    rules = result["rules"]
    above = rules["shareable_above_fen"]
    rule_rows = [
        ["Rule version 规则版本", rules["version"]],
        [formatting.term("spending.own_account_first", "rule"), rules["own_account_first"]],
        [formatting.term("spending.order", "rule"), formatting.term(rules["order"], "spending_order")],
        [formatting.term("spending.single_authorizer", "rule"), rules["single_authorizer"]],
        [formatting.term("spending.shareable_above_fen", "rule"), yuan(above) if above else "no limit 不限"],
        ["Category payable from accounts 该类别可用账户支付", rules["category_eligible"]],
    ]
    return {"result": result, "paid_fen": sum(recorded.values()), "comparison": comparison, "rule_rows": rule_rows}


def render_audit(result: dict[str, Any]) -> str:
    return render("audit.html", title=f"Deduction audit {result['settlement_id']}", **audit_context(result))


# --- the compliance report -----------------------------------------------------------------------
def report_context(report: dict[str, Any]) -> dict[str, Any]:
    b, days = report["bindings"], report["by_day"]
    return {
        "report": report,
        "columns": [
            column_chart("Bindings created by day 每日新增绑定", [(x["date"], x["bindings"]) for x in days], "#2563eb"),
            column_chart("Deductions by day 每日扣款笔数", [(x["date"], x["deductions"]) for x in days], "#059669"),
        ],
        "bars": [
            bar_chart("Unbinds by reason 解绑原因", list(b["ended"]["by_reason"].items()), "#d97706", "unbind_reason"),
            bar_chart("Rejected binds by reason 拒绝原因", list(b["rejected"]["by_code"].items()), "#dc2626", "code"),
        ],
        "channels": [[formatting.term(k, "channel"), v] for k, v in b["by_channel"].items()],
        "reasons": [[formatting.term(k, "unbind_reason"), v] for k, v in b["ended"]["by_reason"].items()],
        "rejections": [[formatting.term(k, "code"), v] for k, v in b["rejected"]["by_code"].items()],
        "categories": [
            [formatting.term(k, "category"), v.get("count", 0), yuan(v.get("amount_fen", 0))]
            for k, v in report["deductions"]["by_category"].items()
        ],
    }


def render_report(report: dict[str, Any]) -> str:
    return render("report.html", title=f"Compliance report {report['month']}", **report_context(report))

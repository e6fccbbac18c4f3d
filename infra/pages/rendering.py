"""Self-contained HTML pages (no scripts, no network, no external assets), rendered from the
templates beside this module (infra/pages/templates: audit.html, report.html, and their bodies,
which the console's pages include too). Charts are inline SVG: their geometry is computed here,
their markup is in templates/macros.html. Labels are bilingual so a non-programmer can read them."""

from __future__ import annotations

from typing import Any

from infra.pages.templating import render, yuan


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


def bar_chart(title: str, items: list[tuple[str, int]], color: str, width: int = 520) -> dict[str, Any]:
    """Horizontal bars, one per category, largest first."""
    items = sorted(items, key=lambda kv: (-kv[1], kv[0])) or [("(none 无)", 0)]
    top = max([v for _, v in items] + [1])
    row_h = 26
    label_w = max(120, int(7.4 * max(len(label) for label, _ in items)) + 12)  # ~7 px a character at 12 px
    width = max(width, label_w + 310)
    bars = []
    for i, (label, value) in enumerate(items):
        bar_w = (width - label_w - 50) * value / top
        bars.append(
            {
                "y": 26 + i * row_h,
                "w": f"{bar_w:.1f}",
                "value_x": f"{label_w + bar_w + 6:.1f}",
                "label": label,
                "value": value,
            }
        )
    return {
        "title": title,
        "color": color,
        "width": width,
        "height": 30 + row_h * len(items),
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
            "person": "out of pocket 自付",
            "recorded": result["recorded"]["out_of_pocket_fen"],
            "replayed": result["replayed"]["out_of_pocket_fen"],
        }
    )
    rules = result["rules"]
    rule_rows = [
        ["version 版本", rules["version"]],
        ["own account first 先用本人账户", rules["own_account_first"]],
        ["order 使用顺序", rules["order"]],
        ["one authorizer per payment 每次仅一位授权人", rules["single_authorizer"]],
        ["only balance above (fen) may be shared 仅超出部分可共济", rules["shareable_above_fen"]],
        ["category eligible 类别可用", rules["category_eligible"]],
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
            bar_chart("Unbinds by reason 解绑原因", list(b["ended"]["by_reason"].items()), "#d97706"),
            bar_chart("Rejected binds by code 拒绝原因", list(b["rejected"]["by_code"].items()), "#dc2626"),
        ],
        "categories": [
            [k, v.get("count", 0), yuan(v.get("amount_fen", 0))] for k, v in report["deductions"]["by_category"].items()
        ],
    }


def render_report(report: dict[str, Any]) -> str:
    return render("report.html", title=f"Compliance report {report['month']}", **report_context(report))

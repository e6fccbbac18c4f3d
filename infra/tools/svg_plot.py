"""A small, dependency-free SVG writer for `ledger bench --curve`: line charts on linear or log
axes, laid out side by side in one image.

Why not a plotting library: the machine's Python has none installed (matplotlib would be a large
dependency, with its own native build, for four line charts), and a chart of a few points each
needs only axes, ticks, polylines and a legend. The output is plain SVG 1.1 text, deterministic
for the same figures (so a committed plot changes only when the figures do).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 420, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 36, 64
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#555555")


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    series: Sequence[Series]
    log_x: bool = False
    log_y: bool = False
    y_from_zero: bool = True


class _Axis:
    """Maps data values to pixels on one axis (log10 if `log`)."""

    def __init__(self, values: Sequence[float], log: bool, from_zero: bool, start: float, end: float):
        self.log, self.start, self.end = log, start, end
        finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)] or [1.0]
        low, high = min(finite), max(finite)
        self.low: float
        self.high: float
        if log:
            # a value a few percent past a decade (1,004,026 events) does not open the next one
            self.low, self.high = math.floor(math.log10(low)), math.ceil(math.log10(high) - 0.01)
            if self.high == self.low:
                self.high += 1
        else:
            low = 0.0 if from_zero and low >= 0 else low
            step = nice_step((high - low) or abs(high) or 1.0)
            self.low, self.high = math.floor(low / step) * step, math.ceil(high / step) * step
            if self.high == self.low:
                self.high += step

    def _t(self, value: float) -> float:
        return math.log10(value) if self.log else value

    def pixel(self, value: float) -> float:
        return self.start + (self._t(value) - self.low) / (self.high - self.low) * (self.end - self.start)

    def ticks(self) -> list[float]:
        if self.log:
            return [10.0**e for e in range(int(self.low), int(self.high) + 1)]
        step = nice_step(self.high - self.low)
        count = round((self.high - self.low) / step)
        return [self.low + i * step for i in range(count + 1)]


def nice_step(span: float) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about five ticks over `span`."""
    raw = span / 5
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def tick_label(value: float) -> str:
    if value == 0:
        return "0"
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def chart_svg(chart: Chart, left: float = 0, top: float = 0) -> list[str]:
    """The elements of one chart, placed at (left, top)."""
    xs = [x for s in chart.series for x, _ in s.points]
    ys = [y for s in chart.series for _, y in s.points]
    plot_left, plot_right = left + MARGIN_LEFT, left + WIDTH - MARGIN_RIGHT
    plot_top, plot_bottom = top + MARGIN_TOP, top + HEIGHT - MARGIN_BOTTOM
    x_axis = _Axis(xs, chart.log_x, False, plot_left, plot_right)
    y_axis = _Axis(ys, chart.log_y, chart.y_from_zero, plot_bottom, plot_top)
    out = [
        f'<text x="{left + WIDTH / 2:.1f}" y="{top + 20:.1f}" text-anchor="middle" font-weight="bold">'
        f"{escape(chart.title)}</text>",
        f'<rect x="{plot_left:.1f}" y="{plot_top:.1f}" width="{plot_right - plot_left:.1f}" '
        f'height="{plot_bottom - plot_top:.1f}" fill="none" stroke="#888"/>',
    ]
    for tick in x_axis.ticks():
        x = x_axis.pixel(tick)
        out.append(f'<line x1="{x:.1f}" y1="{plot_top:.1f}" x2="{x:.1f}" y2="{plot_bottom:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{plot_bottom + 14:.1f}" text-anchor="middle">{tick_label(tick)}</text>')
    for tick in y_axis.ticks():
        y = y_axis.pixel(tick)
        out.append(f'<line x1="{plot_left:.1f}" y1="{y:.1f}" x2="{plot_right:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{plot_left - 4:.1f}" y="{y + 4:.1f}" text-anchor="end">{tick_label(tick)}</text>')
    out.append(
        f'<text x="{(plot_left + plot_right) / 2:.1f}" y="{plot_bottom + 30:.1f}" text-anchor="middle">'
        f"{escape(chart.x_label)}</text>"
    )
    middle = (plot_top + plot_bottom) / 2
    out.append(
        f'<text x="{left + 14:.1f}" y="{middle:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 {left + 14:.1f} {middle:.1f})">{escape(chart.y_label)}</text>'
    )
    for n, series in enumerate(chart.series):
        out.extend(_series(series, COLOURS[n % len(COLOURS)], x_axis, y_axis))
        legend_y = plot_bottom + 44 + 12 * (n // 2)
        legend_x = plot_left + (n % 2) * (plot_right - plot_left) / 2
        dash = ' stroke-dasharray="4 3"' if series.dashed else ""
        out.append(
            f'<line x1="{legend_x:.1f}" y1="{legend_y - 4:.1f}" x2="{legend_x + 16:.1f}" y2="{legend_y - 4:.1f}" '
            f'stroke="{COLOURS[n % len(COLOURS)]}" stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{legend_x + 20:.1f}" y="{legend_y:.1f}">{escape(series.name)}</text>')
    return out


def _series(series: Series, colour: str, x_axis: _Axis, y_axis: _Axis) -> list[str]:
    usable = [(x, y) for x, y in series.points if _plottable(x, x_axis.log) and _plottable(y, y_axis.log)]
    if not usable:
        return []
    path = " ".join(f"{x_axis.pixel(x):.1f},{y_axis.pixel(y):.1f}" for x, y in usable)
    dash = ' stroke-dasharray="4 3"' if series.dashed else ""
    out = [f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>']
    if not series.dashed:
        out += [
            f'<circle cx="{x_axis.pixel(x):.1f}" cy="{y_axis.pixel(y):.1f}" r="3" fill="{colour}"/>' for x, y in usable
        ]
    return out


def _plottable(value: float, log: bool) -> bool:
    return math.isfinite(value) and (value > 0 or not log)


def render(charts: Sequence[Chart], columns: int = 2, caption: str = "") -> str:
    """One SVG image: the charts in a grid of `columns`, and a caption line under them."""
    rows = math.ceil(len(charts) / columns) if charts else 1
    width, height = WIDTH * columns, HEIGHT * rows + (24 if caption else 0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for n, chart in enumerate(charts):
        out.extend(chart_svg(chart, (n % columns) * WIDTH, (n // columns) * HEIGHT))
    if caption:
        out.append(f'<text x="8" y="{height - 8}" fill="#555">{escape(caption)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"

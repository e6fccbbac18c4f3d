"""The benchmark's SVG writer: round ticks, log axes by decades, points inside the plot area,
and a deterministic, well-formed document."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from infra.tools.svg_plot import HEIGHT, WIDTH, Chart, Series, _Axis, nice_step, render, tick_label

SVG = "{http://www.w3.org/2000/svg}"


@given(st.floats(min_value=1e-6, max_value=1e12))
def test_a_tick_step_is_one_two_or_five_times_a_power_of_ten_and_gives_at_most_ten_ticks(span):
    step = nice_step(span)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)
    assert span / step <= 5.000001


def test_a_log_axis_runs_over_whole_decades():
    axis = _Axis([12_000, 980_000], log=True, from_zero=False, start=0, end=100)
    assert axis.ticks() == [1e4, 1e5, 1e6]
    assert axis.pixel(1e4) == 0 and axis.pixel(1e6) == 100


def test_tick_labels_are_short():
    assert [tick_label(v) for v in (0, 0.5, 250, 10_000, 1_000_000)] == ["0", "0.5", "250", "10k", "1M"]


def test_points_land_inside_their_plot_and_the_document_is_deterministic():
    chart = Chart("t", "x", "y", [Series("a", [(10, 1.0), (100, 3.0), (1000, 2.0)])], log_x=True)
    text = render([chart, chart], columns=2, caption="c")
    assert text == render([chart, chart], columns=2, caption="c")
    root = ET.fromstring(text)
    assert (root.get("width"), root.get("height")) == (str(2 * WIDTH), str(HEIGHT + 24))
    circles = list(root.iter(SVG + "circle"))
    assert len(circles) == 6
    assert all(0 < float(c.attrib["cx"]) < 2 * WIDTH and 0 < float(c.attrib["cy"]) < HEIGHT for c in circles)


def test_values_a_log_axis_cannot_show_are_left_out():
    chart = Chart("t", "x", "y", [Series("a", [(10, 0.0), (100, float("nan")), (1000, 2.0)])], log_y=True)
    assert len(list(ET.fromstring(render([chart])).iter(SVG + "circle"))) == 1

"""The latency-by-percentile chart: a log axis of nines, lines, round points, crafted input."""

from __future__ import annotations

import math
import re

import pytest

from reports.charts import (
    MAX_MARKERS,
    PALETTE,
    Series,
    lighter,
    nines,
    nines_label,
    percentile_chart,
)

CURVE = [(0.0, 5.0), (50.0, 10.0), (90.0, 20.0), (99.0, 40.0), (99.9, 80.0), (100.0, 120.0)]


def x_labels(svg: str) -> list[str]:
    """The tick labels under the x axis, left to right."""
    return re.findall(r'y="240.0" class="tick" text-anchor="\w+">([^<]+)<', svg)


@pytest.mark.parametrize(
    ("percentile", "position"),
    [
        pytest.param(0, 0.0, id="zero"),
        pytest.param(90, 1.0, id="one-nine"),
        pytest.param(99, 2.0, id="two-nines"),
        pytest.param(99.9, 3.0, id="three-nines"),
    ],
)
def test_nines_axis_is_logarithmic(percentile: float, position: float) -> None:
    """90 % sits at one nine, 99 % at two, 99.9 % at three."""
    assert math.isclose(nines(percentile), position, abs_tol=1e-9)


@pytest.mark.parametrize(
    ("position", "label"),
    [
        pytest.param(0, "0 %", id="zero"),
        pytest.param(1, "90 %", id="90"),
        pytest.param(2, "99 %", id="99"),
        pytest.param(3, "99.9 %", id="99.9"),
        pytest.param(4, "99.99 %", id="99.99"),
    ],
)
def test_whole_nines_are_labelled_as_percentiles(position: int, label: str) -> None:
    """Tick labels read as people say them."""
    assert nines_label(position) == label


def test_axis_ends_one_nine_past_the_last_resolved_percentile_with_the_max_there() -> None:
    """Resolved to 99.9 %, the axis ends at 99.99 %, where the maximum is marked."""
    svg = percentile_chart("t", [Series("corrected", CURVE)])
    assert x_labels(svg) == ["0 %", "50 %", "90 %", "99 %", "99.9 %", "99.99 %"]
    assert "max 120 ms" in svg
    points = re.search(r'<polyline points="([^"]+)"', svg)
    assert points is not None
    xs = [float(pair.split(",")[0]) for pair in points.group(1).split()]
    assert xs == sorted(xs) and len(set(xs)) == len(CURVE)


def test_lines_have_a_legend_and_points_take_a_lighter_shade_of_their_line() -> None:
    """Two lines, two legend entries; each round's points are drawn in its side's light shade."""
    head_round = [(p, y * 1.1) for p, y in CURVE]
    svg = percentile_chart(
        "t",
        [Series("base", CURVE), Series("head", CURVE)],
        [Series("head", head_round), Series("base", CURVE)],
    )
    assert ">base</text>" in svg and ">head</text>" in svg
    assert svg.count(f'fill="{lighter(PALETTE[1])}"') == len(CURVE)
    assert svg.count(f'fill="{lighter(PALETTE[0])}"') == len(CURVE)
    assert "each round" in svg


def test_lighter_mixes_with_white() -> None:
    """A shade lies between the colour and white."""
    assert lighter("#000000", 0.5) == "#808080" and lighter("#ffffff") == "#ffffff"


def test_crafted_distributions_stay_bounded_and_escaped() -> None:
    """Out-of-range or non-finite points are left out, the axis stops at seven nines, and a
    series name is text, never markup."""
    crafted = [
        (50.0, 10.0),
        (99.9999999999, 30.0),
        (150.0, 1e9),
        (-5.0, 1e9),
        (90.0, float("nan")),
        (float("inf"), 1.0),
    ]
    svg = percentile_chart("t", [Series("<script>x</script>", crafted)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert x_labels(svg)[-1] == "99.99999 %"
    assert "1e+09" not in svg and "1,000,000,000" not in svg


def test_scatter_points_are_bounded() -> None:
    """However many rounds a file holds, the chart draws at most MAX_MARKERS points."""
    many = [Series("head", [(i / 100, 1.0) for i in range(5000)]) for _ in range(3)]
    svg = percentile_chart("t", [Series("head", CURVE)], many)
    assert svg.count("<circle") <= MAX_MARKERS + 1


def test_no_data_is_said_in_words() -> None:
    """An empty distribution is a sentence, not an empty frame."""
    assert percentile_chart("Latency", [Series("a", [])]) == (
        '<p class="empty">Latency: no data</p>'
    )

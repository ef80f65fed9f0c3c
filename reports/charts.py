"""Inline SVG charts: no JavaScript, no network, readable in any browser offline.

`line_chart` draws figures over time; `percentile_chart` draws latency by percentile on a log
axis of "nines", HdrHistogram style, where a tail that a p99 alone hides is in plain sight.

Charts draw what a result file holds, and a result file may be crafted: a point that is not a
finite number is drawn as a gap, and the number of ticks is bounded whatever the range (an axis
from 5e18 to 5e18 once looped forever adding a step too small to change the value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c")
WIDTH, HEIGHT = 860, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 36


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float | None]]


@dataclass(frozen=True)
class Threshold:
    label: str
    value: float


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: at most `2 * count + 2` of them, whatever the input.

    A range too narrow to split at its magnitude (or empty) is widened to `max(1, |low|)`.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    span = high - low
    if not span > max(abs(low), abs(high)) * 1e-9:
        span = max(1.0, abs(low))
    raw = span / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step)
    steps = min(max(math.ceil((low + span) / step) - first, 1), 2 * count + 1)
    return [round((first + index) * step, 10) for index in range(steps + 1)]


def _finite(x: float, y: float | None) -> bool:
    return y is not None and math.isfinite(x) and math.isfinite(y)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2g}"


def line_chart(
    title: str,
    series: Sequence[Series],
    y_label: str,
    threshold: Threshold | None = None,
    x_label: str = "seconds since load start",
) -> str:
    xs = [x for s in series for x, y in s.points if _finite(x, y)]
    ys = [y for s in series for x, y in s.points if y is not None and _finite(x, y)]
    if threshold is not None and not math.isfinite(threshold.value):
        threshold = None
    if threshold is not None:
        ys.append(threshold.value)
    if not xs:
        return f'<p class="empty">{escape(title)}: no data</p>'
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = nice_ticks(0.0, max(ys) * 1.05)
    x0, x1, y1 = x_ticks[0], x_ticks[-1], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0 or 1) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - y / (y1 or 1) * plot_h

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" class="chart">',
        f'<text x="{LEFT}" y="16" class="title">{escape(title)}</text>',
    ]
    for y in y_ticks:
        y_px = f"{py(y):.1f}"
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y_px}" y2="{y_px}" class="grid"/>'
        )
        parts.append(_text(LEFT - 6, py(y) + 4, "tick", "end", _fmt(y)))
    for x in x_ticks:
        parts.append(_text(px(x), HEIGHT - BOTTOM + 16, "tick", "middle", _fmt(x)))
    parts.append(_text(LEFT + plot_w / 2, HEIGHT - 4, "axis", "middle", escape(x_label)))
    parts.append(
        f'<text transform="translate(14 {TOP + plot_h / 2}) rotate(-90)" class="axis" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    if threshold is not None:
        y = py(threshold.value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="limit"/>'
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" class="limit-label" text-anchor="end">'
            f"{escape(threshold.label)}</text>"
        )
    for index, s in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        for run in _runs(s.points):
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.8"/>'
            )
        legend_x = LEFT + 8 + index * 130
        parts.append(f'<rect x="{legend_x}" y="{TOP + 2}" width="10" height="10" fill="{color}"/>')
        parts.append(
            f'<text x="{legend_x + 14}" y="{TOP + 11}" class="legend">{escape(s.name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _text(x: float, y: float, css: str, anchor: str, body: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}">{body}</text>'


def _runs(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Split a series at missing (or non-finite) values so gaps show as gaps."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None or not _finite(x, y):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


MAX_MARKERS = 10_000
"""Scatter points drawn at most, whatever a (crafted) compare file holds: the SVG stays small."""
MAX_NINES = 7
"""The "nines" axis ends at 99.99999 % at most: a crafted 99.9999999999 % stays on the page."""


def nines(percentile: float) -> float:
    """Where a percentile sits on the nines axis: log10(1 / (1 - p/100)); 90 % is 1, 99 % is 2."""
    return math.log10(1.0 / (1.0 - percentile / 100.0))


def nines_label(position: int) -> str:
    """The percentile of a whole nine: 0 is "0 %", 1 is "90 %", 3 is "99.9 %"."""
    if position == 0:
        return "0 %"
    return f"{100 - 10.0 ** (2 - position):.{max(position - 2, 0)}f} %"


def lighter(color: str, share: float = 0.55) -> str:
    """`color` (#rrggbb) mixed with `share` of white: the shade of a series' scatter points."""
    channels = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * share):02x}" for c in channels)


def _distribution(points: Sequence[tuple[float, float | None]]) -> list[tuple[float, float]]:
    """The drawable points of a distribution, by percentile: in [0, 100] with a finite latency."""
    kept = [
        (p, y)
        for p, y in points
        if y is not None and math.isfinite(p) and math.isfinite(y) and 0 <= p <= 100
    ]
    return sorted(kept)


def percentile_chart(title: str, series: Sequence[Series], points: Sequence[Series] = ()) -> str:
    """Latency by percentile, HdrHistogram style: x is the percentile on a log axis of nines
    (50 %, 90 %, 99 %, 99.9 %...), y the latency in ms. Each of `series` is a line (x is the
    percentile); each of `points` is a scatter in a lighter shade of the line of the same name.
    The maximum (100 %) cannot sit on a log axis: it is drawn at the axis end, marked "max"."""
    lines = [(s.name, _distribution(s.points)) for s in series]
    dots = [(s.name, _distribution(s.points)) for s in points]
    drawn = [p for _, drawable in (*lines, *dots) for p in drawable]
    if not drawn:
        return f'<p class="empty">{escape(title)}: no data</p>'
    resolved = [nines(p) for p, _ in drawn if p < 100]
    end = min(math.floor(max(resolved, default=0.0)) + 1, MAX_NINES)
    y_ticks = nice_ticks(0.0, max(y for _, y in drawn) * 1.05)
    plot = _Plot(end, y_ticks[-1] or 1.0)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" class="chart">',
        f'<text x="{LEFT}" y="16" class="title">{escape(title)}</text>',
        *_percentile_axes(plot, y_ticks),
    ]
    colors = {name: PALETTE[i % len(PALETTE)] for i, (name, _) in enumerate(lines)}
    markers = 0
    for name, drawable in dots:
        shade = lighter(colors.get(name, "#6b7280"))
        for p, y in drawable[: max(MAX_MARKERS - markers, 0)]:
            parts.append(
                f'<circle cx="{plot.x(p):.1f}" cy="{plot.y(y):.1f}" r="2.6" fill="{shade}"/>'
            )
        markers += len(drawable)
    for index, (name, drawable) in enumerate(lines):
        parts.extend(_percentile_line(plot, name, drawable, colors[name], index))
    if dots:
        parts.append(
            _text(WIDTH - RIGHT - 4, TOP + 11, "legend", "end", "dots: each round's percentiles")
        )
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True)
class _Plot:
    """Pixel positions on a percentile chart whose x axis ends at `end` nines."""

    end: int
    top: float

    def x(self, percentile: float) -> float:
        at = self.end if percentile >= 100 else min(nines(percentile), self.end)
        return LEFT + at / self.end * (WIDTH - LEFT - RIGHT)

    def y(self, latency_ms: float) -> float:
        plot_h = HEIGHT - TOP - BOTTOM
        return TOP + plot_h - latency_ms / self.top * plot_h


def _percentile_axes(plot: _Plot, y_ticks: Sequence[float]) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = []
    for y in y_ticks:
        y_px = f"{plot.y(y):.1f}"
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y_px}" y2="{y_px}" class="grid"/>'
        )
        parts.append(_text(LEFT - 6, plot.y(y) + 4, "tick", "end", _fmt(y)))
    half = LEFT + nines(50) / plot.end * plot_w
    ticks = [(LEFT + n / plot.end * plot_w, nines_label(n)) for n in range(plot.end + 1)]
    for x_px, label in [*ticks[:1], (half, "50 %"), *ticks[1:]]:
        parts.append(
            f'<line x1="{x_px:.1f}" x2="{x_px:.1f}" y1="{TOP}" y2="{TOP + plot_h}" class="grid"/>'
        )
        anchor = "end" if label == ticks[-1][1] else "middle"  # the last one stays on the page
        parts.append(
            _text(x_px + (4 if anchor == "end" else 0), HEIGHT - BOTTOM + 16, "tick", anchor, label)
        )
    parts.append(_text(LEFT + plot_w / 2, HEIGHT - 4, "axis", "middle", "percentile"))
    parts.append(
        f'<text transform="translate(14 {TOP + plot_h / 2}) rotate(-90)" class="axis" '
        'text-anchor="middle">milliseconds</text>'
    )
    return parts


def _percentile_line(
    plot: _Plot, name: str, points: list[tuple[float, float]], color: str, index: int
) -> list[str]:
    parts = []
    path = " ".join(f"{plot.x(p):.1f},{plot.y(y):.1f}" for p, y in points)
    if points:
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.8"/>')
    top = [(p, y) for p, y in points if p >= 100]
    if top:
        x, y = plot.x(top[-1][0]), plot.y(top[-1][1])
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>')
        parts.append(_text(x - 6, y - 6, "legend", "end", f"max {_fmt(top[-1][1])} ms"))
    legend_x = LEFT + 8 + index * 200
    parts.append(f'<rect x="{legend_x}" y="{TOP + 2}" width="10" height="10" fill="{color}"/>')
    parts.append(_text(legend_x + 14, TOP + 11, "legend", "start", escape(name)))
    return parts

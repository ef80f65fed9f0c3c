"""Inline SVG line charts: no JavaScript, no network, readable in any browser offline.

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

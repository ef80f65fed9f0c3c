"""Figures for people: one rounding rule for the console, the HTML reports, JUnit and summary.md.

A float printed as Python stores it misleads: a growth slope of -7.566e-14 MiB is rounding noise
(zero), and a count of 1.219e+04 requests is 12,193. Every place a figure is shown to a person
goes through these functions, so the console, the reports and a pull-request comment agree.
Non-finite values (a gauge the gateway reported as NaN) are shown as they are.
"""

from __future__ import annotations

import math

MIB = 1024 * 1024
NOISE = 0.0005
"""Below this magnitude a figure is shown as 0: `number` keeps four significant digits."""


def number(value: float) -> str:
    """A figure for people: 12,193 not 1.219e+04, 0 not -7.566e-14, 0.9511 as it is."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) < NOISE:
        return "0"
    return f"{value:.4g}"


def measured(value: float | None, unit: str = "") -> str:
    """`number` with its unit, or "unavailable" when the run could not measure it."""
    if value is None:
        return "unavailable"
    return f"{number(value)} {unit}".rstrip()


def count(value: int) -> str:
    """A whole number with thousands separators: 12,193."""
    return f"{value:,}"


def percent(fraction: float | None, digits: int = 2) -> str:
    """A share as a percentage: 0.005 is "0.50 %"; None is "n/a"."""
    if fraction is None:
        return "n/a"
    return f"{fixed(fraction * 100, digits)} %"


def signed_percent(fraction: float | None, digits: int = 1) -> str:
    """A change as a signed percentage: +12.3 %, -4.0 %, 0.0 %; None is "n/a"."""
    if fraction is None:
        return "n/a"
    shown = fixed(fraction * 100, digits)
    positive = math.isfinite(fraction) and not shown.startswith("-") and shown.strip("0.,")
    return f"{'+' if positive else ''}{shown} %"


def ms(value: float | None) -> str:
    """Milliseconds to a tenth: 1,234.5 ms; None is "n/a"."""
    if value is None:
        return "n/a"
    return f"{fixed(value, 1)} ms"


def mib(value: float | None, missing: str = "not set") -> str:
    """Bytes as MiB to a tenth: 60.0 MiB; None is `missing`."""
    if value is None:
        return missing
    return f"{fixed(value / MIB, 1)} MiB"


def cores(value: float | None, missing: str = "not set") -> str:
    """CPU cores: 0.25 cores, 1 core; None is `missing`."""
    if value is None:
        return missing
    shown = number(value)
    return f"{shown} {'core' if shown == '1' else 'cores'}"


def per_second(value: float | None) -> str:
    """A rate to a tenth: 1,234.5 req/s; None is "n/a"."""
    if value is None:
        return "n/a"
    return f"{fixed(value, 1)} req/s"


def fixed(value: float, digits: int) -> str:
    """`value` to `digits` decimals with separators: 1,234.5, never "-0.0" (noise is 0)."""
    if not math.isfinite(value):
        return str(value)
    shown = f"{value:,.{digits}f}"
    return shown[1:] if shown.startswith("-") and not shown.strip("-0.,") else shown

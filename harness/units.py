"""Strict parsers for the units compose files use: memory sizes, CPU counts, durations.

They accept what Docker and Compose accept (`512m`, `512M`, `1.5g`, `1GiB`, `"0.5"`, `1m30s`) and
reject everything else with a message that names the value, instead of guessing.
"""

from __future__ import annotations

import math

MEMORY_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "tib": 1024**4,
}
DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class UnitError(ValueError):
    """A value that is not a valid size, CPU count or duration."""


def _split_number(text: str) -> tuple[float, str]:
    """Split `"1.5g"` into `(1.5, "g")`; the number must be plain decimal."""
    end = 0
    while end < len(text) and (text[end].isdigit() or text[end] == "."):
        end += 1
    number, rest = text[:end], text[end:].strip()
    if not number or number.count(".") > 1 or number == ".":
        raise UnitError(f"{text!r} does not start with a number")
    return float(number), rest


def parse_memory(value: object) -> int:
    """Bytes in a memory size: an integer byte count or a number with a binary unit."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a memory size")
    if isinstance(value, int):
        if value <= 0:
            raise UnitError(f"{value!r} is not a positive memory size")
        return value
    if not isinstance(value, str):
        raise UnitError(f"{value!r} is not a memory size")
    number, unit = _split_number(value.strip())
    factor = MEMORY_UNITS.get(unit.lower())
    if factor is None:
        raise UnitError(f"{value!r} has an unknown unit {unit!r} (use b, k, m, g or t)")
    size = int(number * factor)
    if size <= 0:
        raise UnitError(f"{value!r} is not a positive memory size")
    return size


def parse_cpus(value: object) -> float:
    """A CPU count such as `1`, `0.5` or `"1.5"`: positive and finite."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a CPU count")
    if isinstance(value, int | float):
        cpus = float(value)
    elif isinstance(value, str):
        number, unit = _split_number(value.strip())
        if unit:
            raise UnitError(f"{value!r} is not a CPU count")
        cpus = number
    else:
        raise UnitError(f"{value!r} is not a CPU count")
    if not math.isfinite(cpus) or cpus <= 0:
        raise UnitError(f"{value!r} is not a positive CPU count")
    return cpus


def parse_duration(value: object) -> float:
    """Seconds in a compose duration: `30s`, `1m30s`, `500ms`, or a bare number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise UnitError(f"{value!r} is a negative duration")
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise UnitError(f"{value!r} is not a duration")
    text, total = value.strip(), 0.0
    while text:
        number, rest = _split_number(text)
        unit = next((u for u in ("us", "ms", "s", "m", "h") if rest.startswith(u)), None)
        if unit is None:
            if rest == "" and total == 0.0:
                return number
            raise UnitError(f"{value!r} has an unknown duration unit (use ms, s, m or h)")
        total += number * DURATION_UNITS[unit]
        text = rest[len(unit) :]
    return total

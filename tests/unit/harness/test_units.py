"""Memory, CPU and duration parsing: what Docker accepts, and nothing else."""

from __future__ import annotations

import pytest

from harness.units import UnitError, parse_cpus, parse_duration, parse_memory

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("512M", 512 * MIB, id="512M"),
        pytest.param("512m", 512 * MIB, id="512m"),
        pytest.param("512MiB", 512 * MIB, id="512MiB"),
        pytest.param("1.5g", int(1.5 * 1024 * MIB), id="1.5g"),
        pytest.param("2G", 2 * 1024 * MIB, id="2G"),
        pytest.param("64k", 64 * 1024, id="64k"),
        pytest.param("1048576", MIB, id="bytes-string"),
        pytest.param(1048576, MIB, id="bytes-int"),
    ],
)
def test_memory_sizes_parse_to_bytes(text: str | int, expected: int) -> None:
    """Binary units in any case, with or without i/B, as Docker reads them."""
    assert parse_memory(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("lots", id="word"),
        pytest.param("512X", id="unknown-unit"),
        pytest.param("-1G", id="negative"),
        pytest.param("0", id="zero"),
        pytest.param("", id="empty"),
        pytest.param("1..5G", id="two-dots"),
        pytest.param(True, id="bool"),
        pytest.param(["512M"], id="list"),
    ],
)
def test_bad_memory_sizes_are_rejected(text: object) -> None:
    """Anything that is not a positive size is an error naming the value."""
    with pytest.raises(UnitError):
        parse_memory(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1.0", 1.0, id="str"),
        pytest.param(0.5, 0.5, id="float"),
        pytest.param(2, 2.0, id="int"),
    ],
)
def test_cpus_parse(value: object, expected: float) -> None:
    """CPU counts are positive decimals."""
    assert parse_cpus(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("-1", id="negative"),
        pytest.param("0", id="zero"),
        pytest.param("two", id="word"),
        pytest.param("1c", id="unit"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(None, id="none"),
    ],
)
def test_bad_cpus_are_rejected(value: object) -> None:
    """Negative, zero, non-numeric and NaN CPU counts are refused."""
    with pytest.raises(UnitError):
        parse_cpus(value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("30s", 30.0, id="30s"),
        pytest.param("1m30s", 90.0, id="1m30s"),
        pytest.param("500ms", 0.5, id="500ms"),
        pytest.param("2h", 7200.0, id="2h"),
        pytest.param(15, 15.0, id="int"),
        pytest.param("10", 10.0, id="bare"),
    ],
)
def test_durations_parse_to_seconds(value: object, seconds: float) -> None:
    """Compose durations combine units."""
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("soon", id="word"),
        pytest.param("10x", id="unit"),
        pytest.param("", id="empty"),
        pytest.param(-1, id="negative"),
    ],
)
def test_bad_durations_are_rejected(value: object) -> None:
    """Unknown units and negative durations are errors."""
    with pytest.raises(UnitError):
        parse_duration(value)

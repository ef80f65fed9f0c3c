"""`tune --write` changes the limit values and nothing else in the compose file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ComposeError
from harness.stack.compose import ComposeFile
from harness.tune.compose_edit import LimitValues, format_cpus, format_memory, rewrite_limits

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "compose" / "two-services.yml"
MIB = 1024 * 1024
VARIABLES = {"PROVIDER_AUTH_TOKEN": "t", "UPSTREAM_BASE_URL": "http://m"}


def changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    assert len(old_lines) == len(new_lines)
    return [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]


def test_only_the_four_values_change_in_a_production_file(tmp_path: Path) -> None:
    """Comments, order, quoting and every other line are byte-identical; the values are new."""
    original = FIXTURE.read_text()
    rewritten = rewrite_limits(original, "gateway", LimitValues(0.35, 80 * MIB, 0.3, 64 * MIB))
    assert changed_lines(original, rewritten) == [
        ('          cpus: "1.5"', '          cpus: "0.35"'),
        ("          memory: 768M", "          memory: 80M"),
        ('          cpus: "0.5"', '          cpus: "0.3"'),
        ("          memory: 384M", "          memory: 64M"),
    ]
    path = tmp_path / "docker-compose.prod.yml"
    path.write_text(rewritten)
    gateway = ComposeFile.load(path).service("gateway", VARIABLES)
    assert gateway.limits.cpus == 0.35
    assert gateway.limits.memory_bytes == 80 * MIB
    assert gateway.limits.reserved_memory_bytes == 64 * MIB


def test_other_services_are_untouched() -> None:
    """Rewriting the gateway never touches Redis's identical-looking keys."""
    original = FIXTURE.read_text()
    rewritten = rewrite_limits(original, "gateway", LimitValues(2.0, 1024 * MIB))
    redis_part = original[original.index("  redis:") :]
    assert rewritten.endswith(redis_part)


def test_styles_and_comments_are_kept() -> None:
    """Single quotes, plain numbers and trailing comments survive."""
    text = (
        "services:\n"
        "  gateway:\n"
        "    image: g  # the gateway\n"
        "    deploy:\n"
        "      resources:\n"
        "        limits:\n"
        "          cpus: '2'   # two cores\n"
        "          memory: 1G  # plenty\n"
    )
    rewritten = rewrite_limits(text, "gateway", LimitValues(0.5, 384 * MIB))
    assert "          cpus: '0.5'   # two cores\n" in rewritten
    assert "          memory: 384M  # plenty\n" in rewritten
    assert "image: g  # the gateway" in rewritten


def test_a_missing_reservation_key_is_inserted() -> None:
    """A reservations section without `cpus` gets one above its first key, indented alike."""
    text = (
        "services:\n  gateway:\n    image: g\n    deploy:\n      resources:\n"
        "        limits:\n          cpus: 1\n          memory: 1G\n"
        "        reservations:\n          memory: 128M\n"
    )
    rewritten = rewrite_limits(text, "gateway", LimitValues(0.5, 256 * MIB, 0.25, 64 * MIB))
    assert rewritten.endswith(
        "        reservations:\n          cpus: 0.25\n          memory: 64M\n"
    )


def test_a_service_without_resources_is_an_error() -> None:
    """Nothing to rewrite is a clear usage error naming the path."""
    with pytest.raises(ComposeError, match=r"services\.gateway\.deploy is missing"):
        rewrite_limits("services:\n  gateway:\n    image: g\n", "gateway", LimitValues(1, MIB))


@pytest.mark.parametrize(
    ("cpus", "text"), [(0.35, "0.35"), (1.0, "1.0"), (0.3, "0.3"), (2.0, "2.0"), (0.125, "0.13")]
)
def test_cpus_are_written_compactly(cpus: float, text: str) -> None:
    """CPU values are written with at most two decimals."""
    assert format_cpus(cpus) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(80 * MIB, "80M"), (1024 * MIB, "1G"), (80 * MIB + 1, "81M"), (3072 * MIB, "3G")],
)
def test_memory_is_written_in_whole_mib(size: int, text: str) -> None:
    """Memory is rounded up to whole MiB, or whole GiB when exact."""
    assert format_memory(size) == text

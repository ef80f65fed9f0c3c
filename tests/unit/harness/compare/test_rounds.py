"""The order of a compare's rounds."""

from __future__ import annotations

import pytest

from harness.compare.rounds import round_order


@pytest.mark.parametrize(
    ("rounds", "order"),
    [
        (1, "base head"),
        (2, "base head head base"),
        (3, "base head head base base head"),
    ],
)
def test_rounds_alternate_abba(rounds: int, order: str) -> None:
    """Base and head take turns going first, so drift weighs on both alike."""
    assert " ".join(round_order(rounds)) == order


def test_each_side_runs_as_many_rounds_as_asked() -> None:
    """Ten rounds each, whatever the pattern."""
    order = round_order(10)
    assert order.count("base") == order.count("head") == 10

"""The scenario catalogue: every scenario bounded, and the CLI's overrides applied faithfully."""

from __future__ import annotations

import pytest

from scenarios.arrivals import total_duration
from scenarios.catalog import SCENARIOS, ClosedLoad, OpenLoad, adjusted, scenario

ISSUE_CATALOGUE = [
    "smoke",
    "steady",
    "ramp",
    "spike",
    "soak",
    "cache",
    "slow-upstream",
    "failing-upstream",
    "redis-down",
    "pool-exhaustion",
    "shutdown",
    "oom",
]


def test_catalogue_has_every_named_scenario_and_each_is_bounded() -> None:
    """All scenarios exist, last at most a few minutes, and open ones match their stages."""
    assert set(ISSUE_CATALOGUE) <= set(SCENARIOS)
    for item in SCENARIOS.values():
        assert 0 < item.duration_s <= 300, item.name
        if isinstance(item.load, OpenLoad):
            assert total_duration(item.load.stages) == pytest.approx(item.duration_s), item.name
        assert all(0 <= a.at_s < item.duration_s for a in item.actions), item.name


def test_lookup_names_the_choices() -> None:
    """Known scenarios are found; unknown ones name the choices."""
    assert scenario("smoke") is SCENARIOS["smoke"]
    assert SCENARIOS["smoke"].target_rps == 40
    with pytest.raises(KeyError, match="smoke"):
        scenario("nope")


def test_protocol_picks_the_user_class() -> None:
    """`infer` drives /v1/infer, `openai` drives /v1/chat/completions."""
    assert adjusted(SCENARIOS["smoke"], protocol="openai").user_class == "ChatUser"
    assert adjusted(SCENARIOS["smoke"], protocol="infer").user_class == "InferUser"


def test_shorter_open_scenario_scales_stages_and_actions_together() -> None:
    """Halving a scenario halves every stage and moves its actions with them."""
    short = adjusted(SCENARIOS["failing-upstream"], duration_s=20)
    assert short.duration_s == pytest.approx(20)
    assert [a.at_s for a in short.actions] == pytest.approx([5, 15])
    assert isinstance(short.load, OpenLoad)
    assert short.load.peak_rps == SCENARIOS["failing-upstream"].load.peak_rps


def test_rate_override_sets_the_peak_and_keeps_the_ramp_shape() -> None:
    """--rate on a ramp scales every step so that the last one is the given rate."""
    ramp = adjusted(SCENARIOS["ramp"], rate_rps=600)
    assert isinstance(ramp.load, OpenLoad)
    rates = [s.rate_rps for s in ramp.load.stages]
    assert max(rates) == pytest.approx(600)
    assert rates[0] == pytest.approx(25)  # 100 of 2,400


def test_closed_overrides_spread_the_rate_over_the_users() -> None:
    """--users and --rate on a closed scenario give each user its share."""
    steady = adjusted(SCENARIOS["steady"], users=20, rate_rps=100, duration_s=10)
    assert steady.load == ClosedLoad(users=20, spawn_rate=20, rps_per_user=5)
    assert steady.duration_s == 10


def test_scenarios_that_act_on_containers_say_so() -> None:
    """Actions and imposed limits need the stack; plain load does not."""
    assert SCENARIOS["shutdown"].needs_stack and SCENARIOS["oom"].needs_stack
    assert not SCENARIOS["ramp"].needs_stack

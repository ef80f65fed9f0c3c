"""Scenario payloads are valid requests of the gateway's contract."""

from __future__ import annotations

import random

import pytest

from gateway.schemas import InferRequest
from scenarios.catalog import SCENARIOS, scenario
from scenarios.payloads import infer_payload


def test_payloads_validate_against_the_gateway_schema() -> None:
    """Every generated body passes the gateway's own validation."""
    rng = random.Random(1)
    for _ in range(200):
        InferRequest.model_validate(infer_payload(rng))


def test_payloads_are_deterministic_under_a_seed() -> None:
    """The same seed gives the same bodies."""
    assert [infer_payload(random.Random(4)) for _ in range(3)] == [
        infer_payload(random.Random(4)) for _ in range(3)
    ]


def test_catalogue_lookup() -> None:
    """Known scenarios are found; unknown ones name the choices."""
    assert scenario("smoke") is SCENARIOS["smoke"]
    assert SCENARIOS["smoke"].target_rps == 40
    with pytest.raises(KeyError, match="smoke"):
        scenario("nope")

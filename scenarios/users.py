"""Locust users that drive the gateway."""

from __future__ import annotations

import random

from locust import FastHttpUser, constant_throughput, task

from scenarios.payloads import infer_payload


class InferUser(FastHttpUser):
    """Posts `/v1/infer` requests at `--lg-rps-per-user` each (no wait when 0)."""

    _seed = 0

    def on_start(self) -> None:
        InferUser._seed += 1
        self.rng = random.Random(InferUser._seed)

    def wait_time(self) -> float:
        rate = float(self.environment.parsed_options.lg_rps_per_user or 0)
        if rate <= 0:
            return 0.0
        wait: float = constant_throughput(rate)(self)
        return wait

    @task
    def infer(self) -> None:
        self.client.post("/v1/infer", json=infer_payload(self.rng), name="/v1/infer")

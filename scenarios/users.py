"""Locust users that drive a gateway, over either of the contracts it may speak.

The credentials of a real deployment reach these users through the Locust process's
environment only (`scenarios.credentials`): never on a command line, never in a file.
"""

from __future__ import annotations

import random

from locust import FastHttpUser, constant_throughput, task

from scenarios.credentials import target_headers
from scenarios.payloads import chat_payload, infer_payload


class GatewayUser(FastHttpUser):
    """Paces itself at `--lg-rps-per-user` (no wait when 0) and sends the target's headers."""

    abstract = True
    _seed = 0

    def on_start(self) -> None:
        GatewayUser._seed += 1
        self.rng = random.Random(GatewayUser._seed)
        self.request_headers = target_headers()

    def wait_time(self) -> float:
        rate = float(self.environment.parsed_options.lg_rps_per_user or 0)
        if rate <= 0:
            return 0.0
        wait: float = constant_throughput(rate)(self)
        return wait


class InferUser(GatewayUser):
    """The seed contract: `POST /v1/infer`."""

    @task
    def infer(self) -> None:
        self.client.post(
            "/v1/infer",
            json=infer_payload(self.rng),
            headers=self.request_headers,
            name="/v1/infer",
        )


class ChatUser(GatewayUser):
    """OpenAI's contract: `POST /v1/chat/completions`."""

    @task
    def chat(self) -> None:
        self.client.post(
            "/v1/chat/completions",
            json=chat_payload(self.rng),
            headers=self.request_headers,
            name="/v1/chat/completions",
        )

"""Locust users that drive a gateway, over either of the contracts it may speak.

A user paced at `--lg-rps-per-user` keeps an intended send schedule (`scenarios.pacing`) and
tells the recorder each request's intended send time, so a stall shows in the percentiles; at
rate 0 it sends back to back, unpaced. Redirects are answers, never followed.

The credentials of a real deployment reach these users through the Locust process's
environment only (`scenarios.credentials`): never on a command line, never in a file.
"""

from __future__ import annotations

import random
from typing import Any

import gevent
from locust import FastHttpUser, task
from locust.runners import WorkerRunner

from scenarios.credentials import target_headers
from scenarios.pacing import INTENDED, SendSchedule, stagger_phase
from scenarios.payloads import chat_payload, infer_payload


class GatewayUser(FastHttpUser):
    """Keeps to `--lg-rps-per-user` (no wait when 0) and sends the target's headers."""

    abstract = True
    max_redirects = 0
    _started = 0
    schedule: SendSchedule | None = None

    def on_start(self) -> None:
        GatewayUser._started += 1
        self.rng = random.Random(GatewayUser._started)
        self.request_headers = target_headers()
        self.schedule = self._schedule(GatewayUser._started)
        if self.schedule is not None:
            gevent.sleep(self.schedule.wait_s())  # this user's phase of the interval

    def _schedule(self, number: int) -> SendSchedule | None:
        options = self.environment.parsed_options
        rate = float(options.lg_rps_per_user or 0)
        if rate <= 0:
            return None
        runner = self.environment.runner
        distributed = isinstance(runner, WorkerRunner)
        workers = int(options.expect_workers or 1) if distributed else 1
        worker_index = runner.worker_index if distributed else 0
        phase = stagger_phase(number, options.num_users or 1, worker_index, workers)
        return SendSchedule(rate, phase)

    def wait_time(self) -> float:
        return 0.0 if self.schedule is None else self.schedule.wait_s()

    def send(self, path: str, body: dict[str, Any]) -> None:
        """POST `body`; a paced request carries its intended send time to the recorder."""
        context = {} if self.schedule is None else {INTENDED: self.schedule.take()}
        self.client.post(path, json=body, headers=self.request_headers, name=path, context=context)


class InferUser(GatewayUser):
    """The seed contract: `POST /v1/infer`."""

    @task
    def infer(self) -> None:
        self.send("/v1/infer", infer_payload(self.rng))


class ChatUser(GatewayUser):
    """OpenAI's contract: `POST /v1/chat/completions`, for the model given by `--lg-model`."""

    def on_start(self) -> None:
        self.model = str(self.environment.parsed_options.lg_model or "")
        if not self.model:
            raise ValueError("ChatUser needs --lg-model: every OpenAI body names its model")
        super().on_start()

    @task
    def chat(self) -> None:
        self.send("/v1/chat/completions", chat_payload(self.rng, self.model))

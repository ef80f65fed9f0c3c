"""The open-model load generator process: `python -m scenarios.openmodel --url ... --stages ...`.

One uvloop event loop and one pool of kept-alive connections (`scenarios.h1client`) per
process; each request (head and body) is encoded once, up front, so the generator spends its
CPU on the wire, and a request costs no task and no coroutine: the client's future goes straight
to the driver (`scenarios.arrivals`). It writes the samples file (`scenarios.samples`) as it
goes and, at the end, a JSON summary with what it scheduled, sent and missed and the CPU it
used, so the harness can tell whether the generator kept up. Credentials come from the
environment only (`scenarios.credentials`). Answers are scanned for the provider's token and
the first failures kept (`scenarios.inspection`); a redirect is an answer (recorded as
`http_3xx`), never followed."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import uvloop

from scenarios.arrivals import OpenModelDriver, Outcome, Reply, Stage, intended_offsets
from scenarios.credentials import target_headers
from scenarios.h1client import Answer, H1Client, H1Error, RawHeaders
from scenarios.inspection import ResponseInspector, body_error, header_text, stream_event_error
from scenarios.payloads import chat_payload, infer_payload
from scenarios.samples import SampleWriter, row

ROUTES = {"infer": "/v1/infer", "openai": "/v1/chat/completions"}
BODY_POOL = 256
FLUSH_EVERY_S = 0.5


@dataclass(frozen=True)
class GeneratorSummary:
    scheduled: int
    sent: int
    missed: int
    unfinished: int
    cpu_s: float
    wall_s: float


def parse_stages(text: str) -> list[Stage]:
    """`30:100,10:400` → 30 s at 100 req/s, then 10 s at 400 req/s."""
    stages = []
    for part in text.split(","):
        duration, _, rate = part.partition(":")
        try:
            stage = Stage(float(duration), float(rate))
        except ValueError:
            raise argparse.ArgumentTypeError(f"stage {part!r} is not DURATION:RATE") from None
        if stage.duration_s <= 0 or stage.rate_rps < 0:
            raise argparse.ArgumentTypeError(f"stage {part!r}: duration > 0 and rate >= 0")
        stages.append(stage)
    return stages


def request_bodies(
    protocol: str, prompts: str, stream: bool, seed: int, model: str | None = None
) -> list[bytes]:
    """Encoded bodies to cycle through: varied prompts, or a few repeated ones (cacheable).
    OpenAI bodies name `model`, which that protocol needs."""
    rng = random.Random(seed)
    bodies = []
    count = 8 if prompts == "repeated" else BODY_POOL
    temperature = 0.0 if prompts == "repeated" else 0.7
    for _ in range(count):
        if protocol == "openai":
            if not model:
                raise ValueError("OpenAI bodies name their model: give one")
            body = chat_payload(rng, model, temperature)
            if stream:
                body["stream"] = True
        else:
            body = infer_payload(rng, temperature)
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


def request_headers() -> dict[str, str]:
    return {**target_headers(), "Content-Type": "application/json"}


class StreamReading:
    """One streamed answer, line by line as it arrives: counts the content events and times the
    first; a sampled stream is scanned whole."""

    def __init__(self, inspector: ResponseInspector, route: str, headers: RawHeaders) -> None:
        self._inspector, self._route = inspector, route
        self._scanning = inspector.sampled(200)
        if self._scanning:
            inspector.scan(route, 200, "headers", header_text(headers))
        self.first: float | None = None
        self.tokens = self.size = 0
        self.error = ""

    def line(self, line: bytes) -> None:
        self.size += len(line)
        if self._scanning and self._inspector.scan(self._route, 200, "stream", line):
            self._scanning = False  # one hit a stream is enough to say it leaks
        if stream_event_error(line):
            self.error = "stream_error"
        elif line.startswith(b"data:") and b"[DONE]" not in line and b'"content"' in line:
            if self.first is None:
                self.first = time.monotonic()
            self.tokens += 1

    def reply(self) -> Reply:
        error = self.error
        if not error and self.tokens == 0:
            error = "stream_empty"  # a 200 that streamed no answer is no answer
        if error:
            self._inspector.failure(self._route, 200, error)
        return Reply(200, error, self.size, self.first, self.tokens)


class Client:
    """Sends the prepared requests in turn; notes the answers with `inspector`."""

    def __init__(
        self,
        http: H1Client,
        route: str,
        requests: list[bytes],
        inspector: ResponseInspector,
    ) -> None:
        self._http = http
        self._route = route
        self._requests = requests
        self._count = len(requests)
        self._inspector = inspector
        self._next = 0

    def send(self) -> asyncio.Future[Reply]:
        request = self._requests[self._next % self._count]
        self._next += 1
        return self._http.request(request, self._answered, self._failed, self._open_stream)

    def _answered(self, answer: Answer) -> Reply:
        if answer.sink is not None:
            return cast(StreamReading, answer.sink).reply()
        status, payload = answer.status, answer.body
        error = body_error(payload) if 200 <= status < 300 else f"http_{status}"
        self._inspector.answer(self._route, status, error, answer.headers, payload)
        return Reply(status, error, len(payload))

    def _failed(self, error: H1Error) -> Reply:
        self._inspector.failure(self._route, error.status, error.kind)
        return Reply(error.status, error.kind)

    def _open_stream(self, headers: RawHeaders) -> StreamReading:
        return StreamReading(self._inspector, self._route, headers)


async def generate(args: argparse.Namespace) -> GeneratorSummary:
    route = ROUTES[args.protocol]
    bodies = request_bodies(args.protocol, args.prompts, args.stream, args.seed, args.model)
    writer = SampleWriter(args.samples)
    inspector = ResponseInspector.from_environment(args.samples)
    wall_origin = time.time() - time.monotonic()
    add = writer.add

    def record(outcome: Outcome) -> None:
        intended, lag_s, latency_s, reply = outcome
        first = reply.first_byte_at
        add(
            row(
                wall_origin + intended,
                latency_s * 1000,
                route,
                reply.status,
                reply.error,
                reply.size,
                lag_s * 1000,
                None if first is None else (first - intended) * 1000,
                reply.tokens,
            )
        )

    async def flush_loop() -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            writer.flush()

    http = H1Client(args.url, args.max_in_flight, args.timeout)
    requests = [http.prepare(route, request_headers(), body) for body in bodies]
    cpu_started, wall_started = time.process_time(), time.monotonic()
    async with http:
        client = Client(http, route, requests, inspector)
        driver = OpenModelDriver(client.send, args.max_in_flight, record)
        flusher = asyncio.create_task(flush_loop())
        # SIGINT from the harness ends the schedule early (a ramp past its knee), cleanly.
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, driver.stop)
        offsets = intended_offsets(args.stages, args.arrival, args.seed, (args.index, args.of))
        origin = None if args.start_at is None else time.monotonic() + args.start_at - time.time()
        args.started.write_text(f"{time.time() if args.start_at is None else args.start_at:.6f}")
        report = await driver.run(offsets, drain_s=args.timeout, start=origin)
        flusher.cancel()
    writer.close()
    inspector.close()
    return GeneratorSummary(
        scheduled=report.scheduled,
        sent=report.sent,
        missed=report.missed,
        unfinished=report.unfinished,
        cpu_s=time.process_time() - cpu_started,
        wall_s=time.monotonic() - wall_started,
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scenarios.openmodel", description=__doc__)
    p.add_argument("--url", required=True, help="base URL of the gateway")
    p.add_argument("--protocol", choices=sorted(ROUTES), default="infer")
    p.add_argument("--model", help="the model OpenAI bodies name (required with --protocol openai)")
    p.add_argument("--stages", type=parse_stages, required=True, help="DURATION:RATE,...")
    p.add_argument("--arrival", choices=("uniform", "poisson"), default="uniform")
    p.add_argument("--prompts", choices=("varied", "repeated"), default="varied")
    p.add_argument("--stream", action="store_true", help="OpenAI protocol: stream answers")
    p.add_argument("--max-in-flight", type=int, default=512, help="connections at most")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--index", type=int, default=0, help="this process's share of the schedule")
    p.add_argument("--of", type=int, default=1, help="number of generator processes")
    p.add_argument(
        "--start-at", type=float, help="Unix time the schedule starts (a worker's shared origin)"
    )
    p.add_argument("--samples", type=Path, required=True)
    p.add_argument("--summary", type=Path, required=True)
    p.add_argument("--started", type=Path, required=True, help="gets the start time, at once")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.protocol == "openai" and not args.model:
        parser().error("--protocol openai needs --model: every OpenAI body names its model")
    summary = uvloop.run(generate(args))
    args.summary.write_text(json.dumps(asdict(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

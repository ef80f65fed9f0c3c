"""The open-model load generator process: `python -m scenarios.openmodel --url ... --stages ...`.

One asyncio event loop (uvloop when installed) and one pooled aiohttp session per process;
request bodies are encoded once, up front, so the generator spends its CPU on the wire. It writes
the samples file (`scenarios.samples`) as it goes and, at the end, a JSON summary with what it
scheduled, sent and missed and the CPU it used, so the harness can tell whether the generator
kept up. Credentials come from the environment only (`scenarios.credentials`). Answers are
scanned for the provider's token and the first failures kept (`scenarios.inspection`); a
redirect is an answer (recorded as `http_3xx`), never followed.
"""

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

import aiohttp
import uvloop

from scenarios.arrivals import OpenModelDriver, Outcome, Reply, Stage, intended_offsets
from scenarios.credentials import target_headers
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


class Client:
    """Sends the bodies in turn to `base + route`; notes the answers with `inspector`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        target: tuple[str, str],
        bodies: list[bytes],
        inspector: ResponseInspector,
    ) -> None:
        self._session = session
        base, self._route = target
        self._url = base.rstrip("/") + self._route
        self._bodies = bodies
        self._inspector = inspector
        self._next = 0

    async def send(self) -> Reply:
        body = self._bodies[self._next % len(self._bodies)]
        self._next += 1
        try:
            async with self._session.post(self._url, data=body, allow_redirects=False) as response:
                status = response.status
                if response.content_type == "text/event-stream" and status == 200:
                    return await self._read_stream(response)
                payload = await response.read()
                error = body_error(payload) if 200 <= status < 300 else f"http_{status}"
                self._inspector.answer(self._route, status, error, response.raw_headers, payload)
                return Reply(status, error, len(payload))
        except TimeoutError:
            return self._failed("Timeout")
        except aiohttp.ClientError as exc:
            return self._failed(type(exc).__name__)

    def _failed(self, error: str) -> Reply:
        self._inspector.failure(self._route, 0, error)
        return Reply(0, error)

    async def _read_stream(self, response: aiohttp.ClientResponse) -> Reply:
        """Counts the content events and times the first; a sampled stream is scanned whole."""
        scanning = self._inspector.sampled(200)
        if scanning:
            self._inspector.scan(self._route, 200, "headers", header_text(response.raw_headers))
        first = None
        tokens = size = 0
        error = ""
        async for line in response.content:
            size += len(line)
            if scanning and self._inspector.scan(self._route, 200, "stream", line):
                scanning = False  # one hit a stream is enough to say it leaks
            if stream_event_error(line):
                error = "stream_error"
            elif line.startswith(b"data:") and b"[DONE]" not in line and b'"content"' in line:
                if first is None:
                    first = time.monotonic()
                tokens += 1
        if not error and tokens == 0:
            error = "stream_empty"  # a 200 that streamed no answer is no answer
        if error:
            self._inspector.failure(self._route, 200, error)
        return Reply(200, error, size, first, tokens)


async def generate(args: argparse.Namespace) -> GeneratorSummary:
    name = ROUTES[args.protocol]
    bodies = request_bodies(args.protocol, args.prompts, args.stream, args.seed, args.model)
    writer = SampleWriter(args.samples)
    inspector = ResponseInspector.from_environment(args.samples)
    wall_origin = time.time() - time.monotonic()

    def record(outcome: Outcome) -> None:
        reply = outcome.reply
        ttft = outcome.ttft_s
        writer.add(
            row(
                wall_origin + outcome.intended_at,
                outcome.latency_s * 1000,
                name,
                reply.status,
                reply.error,
                reply.size,
                outcome.lag_s * 1000,
                None if ttft is None else ttft * 1000,
                reply.tokens,
            )
        )

    async def flush_loop() -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            writer.flush()

    connector = aiohttp.TCPConnector(limit=args.max_in_flight, force_close=False)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    cpu_started, wall_started = time.process_time(), time.monotonic()
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=request_headers(), cookie_jar=None
    ) as session:
        client = Client(session, (args.url, name), bodies, inspector)
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

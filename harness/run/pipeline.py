"""One run, start to finish: images → stack → load + sampling → result → report and verdict.

Two runs share everything from the load on: `run` launches the stack (the services of
`harness.run.gateway_services`), samples its containers and tears it down; `run_external` drives
a deployment loadgate did not start and measures only what its clients see. Both drive the load
through `harness.run.drive` and assemble their record in `run_record`, the one place it is built.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.errors import StackNotReadyError, UsageError
from harness.ids import new_id
from harness.progress import ProgressDisplay
from harness.run.actions import StackHandles
from harness.run.drive import Driven, drive
from harness.run.gateway_services import gateway_under_test, scenario_gateway, stack_services
from harness.run.model_choice import resolve_model
from harness.run.record import RunRecord, build_result, response_scan
from harness.run.runner import LoadRun
from harness.settings import ExternalTarget, RunSettings, StackCredentials
from harness.stack.compose import ComposeFile
from harness.stack.docker import DockerEngine, RunningContainer
from harness.stack.images import ImageBuilder, StackImages
from harness.stack.launch import GATEWAY_SERVICE, REDIS_SERVICE, GatewayStack, StackConfig
from harness.stack.sampler import ResourceSample, ResourceSampler
from harness.stack.services import ResourceLimits, ServiceSpec
from harness.stack.wiring import healthcheck_problem
from harness.verdict.budgets import Budgets, load_budgets
from reports.outputs import write_run_outputs
from reports.result import ContainerOutcome, RunEvent, RunResult, ShutdownRecord
from scenarios.samples import HEADER

IDLE_BASELINE_S = 1.0


@dataclass(frozen=True)
class RunOutcome:
    result: RunResult
    run_dir: Path
    report: Path


def new_run_id() -> str:
    return new_id()


def _container_outcome(
    gateway: RunningContainer, token: str, containers: Iterable[RunningContainer]
) -> ContainerOutcome:
    """The gateway's state, and whether the provider token is in any container's logs."""
    state = gateway.state()
    running = state.get("Running", False)
    return ContainerOutcome(
        restarts=gateway.restart_count(),
        oom_killed=bool(state.get("OOMKilled", False)),
        exit_code=None if running else int(state.get("ExitCode", 0)),
        token_in_logs=any(token in container.all_logs() for container in containers),
        healthcheck_problem=healthcheck_problem(gateway.healthcheck_test(), state.get("Health")),
    )


def prepare(settings: RunSettings) -> tuple[ComposeFile, Budgets | None]:
    """Read and check every input before anything is started."""
    compose = ComposeFile.load(settings.compose_file)
    budgets = load_budgets(settings.budgets_file) if settings.budgets_file else None
    gateway_under_test(settings, compose_gateway(settings, compose))
    return compose, budgets


def compose_gateway(settings: RunSettings, compose: ComposeFile) -> ServiceSpec:
    """The compose file's gateway service as a run would launch it (no secrets filled in)."""
    return stack_services(compose, "validation", settings)[0]


def _finish(record: RunRecord, budgets: Budgets | None, run_dir: Path) -> RunOutcome:
    result = build_result(record, budgets)
    result.save(run_dir)
    report = write_run_outputs(result, run_dir)
    return RunOutcome(result=result, run_dir=run_dir, report=report)


def _new_run_dir(settings: RunSettings) -> tuple[str, Path]:
    run_id = new_run_id()
    run_dir = settings.output_dir / run_id
    run_dir.mkdir(parents=True)
    return run_id, run_dir


def run_external(
    settings: RunSettings, target: ExternalTarget, display: ProgressDisplay
) -> RunOutcome:
    """Drive a deployment that is already running: nothing is built, started or sampled."""
    budgets = load_budgets(settings.budgets_file) if settings.budgets_file else None
    settings = with_model(settings, display)
    scenario = settings.scenario
    run_id, run_dir = _new_run_dir(settings)
    display.say(f"run {run_id}: scenario {scenario.name} against {target.url}")
    display.say("external target: container memory, CPU and state are not measured")
    if scenario.needs_stack:
        display.say(f"{scenario.name}: its actions need containers loadgate started; skipped")
    started_at = time.time()
    display.phase("load")
    driven = drive(
        settings,
        target.url,
        StackHandles(),
        (run_dir, display),
        budgets,
        target.locust_environment(),
        target.headers_with_token(),
    )
    record = run_record(RunContext(run_id, run_dir, settings, started_at), target.url, driven)
    return _finish(record, budgets, run_dir)


@dataclass(frozen=True)
class RunContext:
    """One run: its id and directory, its settings, when it started (images built)."""

    run_id: str
    run_dir: Path
    settings: RunSettings
    started_at: float


@dataclass(frozen=True)
class StackFacts:
    """What loadgate's containers told about a run: nothing for a deployment it did not start."""

    resources: list[ResourceSample] = dataclasses.field(default_factory=list)
    resource_source: str = "none"
    images: StackImages | None = None
    limits: ResourceLimits = dataclasses.field(default_factory=ResourceLimits)
    container: ContainerOutcome | None = None
    upstream_calls: Mapping[str, int] | None = None
    shutdown: ShutdownRecord | None = None


def run_record(
    context: RunContext, target_url: str, driven: Driven | None, facts: StackFacts = StackFacts()
) -> RunRecord:
    """The one place a run's record is assembled. `driven` is None when no load was driven (the
    gateway was OOM-killed before it became ready): the samples file is then written empty."""
    common = {
        "run_id": context.run_id,
        "scenario": context.settings.scenario,
        "target_url": target_url,
        "started_at": context.started_at,
        "finished_at": time.time(),
        **{field.name: getattr(facts, field.name) for field in dataclasses.fields(facts)},
    }
    if driven is None:
        samples = context.run_dir / "samples.csv"
        samples.write_text(",".join(HEADER) + "\n")
        return RunRecord(samples_file=samples, **common)
    load, shutdown = driven.load, facts.shutdown
    return RunRecord(
        samples_file=load.samples,
        load_started_at=load.started_at,
        generator=load.generator,
        events=_events(driven.actions.events, load),
        metrics=driven.metrics,
        readiness=driven.readiness(context.settings.ready_path, shutdown),
        readiness_missing=driven.readiness_missing,
        responses=response_scan(load.responses),
        failed_fast=driven.failed_fast,
        **common,
    )


def with_model(settings: RunSettings, display: ProgressDisplay) -> RunSettings:
    """The settings with the model OpenAI bodies name, said once (refused when unknown)."""
    model = resolve_model(settings)
    if model is None:
        return settings
    if settings.model:
        source = "--model"
    elif settings.target is not None:
        source = "the one the target's GET /v1/models lists"
    else:
        source = "the mock provider's; --model names another"
    display.say(f"model: {model} ({source})")
    return dataclasses.replace(settings, model=model)


def _events(events: list[RunEvent], load: LoadRun) -> list[RunEvent]:
    if load.stopped_early is None:
        return events
    t, reason = load.stopped_early
    return [*events, RunEvent(t=t, name="load stopped early", detail=reason)]


def _mock_stats(mock_url: str) -> dict[str, int] | None:
    try:
        response = httpx.get(f"{mock_url}/admin/stats", timeout=5)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    return {k: int(v) for k, v in response.json().items() if isinstance(v, int | float)}


def _reset_mock(mock_url: str) -> None:
    httpx.post(f"{mock_url}/admin/reset", timeout=5).raise_for_status()


def _oom_at_start(
    context: RunContext, exc: StackNotReadyError, token: str, config: StackConfig
) -> RunRecord | None:
    """A gateway OOM-killed before it was ever ready is a finding, not a setup error."""
    if exc.service != GATEWAY_SERVICE or not exc.oom_killed:
        return None
    container = ContainerOutcome(
        restarts=0, oom_killed=True, exit_code=137, token_in_logs=token in exc.logs
    )
    facts = StackFacts(images=config.images, limits=config.gateway.limits, container=container)
    return run_record(context, "", None, facts)


def _stack_secrets(settings: RunSettings) -> tuple[str, str]:
    """The provider token and client key of the stack: made anew for each run, or those the
    workers of a distributed run hold (`--expect-workers`), which loadgate never sends them."""
    if settings.distributed is not None and settings.distributed.credentials is not None:
        held = settings.distributed.credentials
        return held.provider_token, held.client_key
    return "lg-test-" + secrets.token_hex(16), "lg-client-" + secrets.token_hex(16)


def run(settings: RunSettings, display: ProgressDisplay) -> RunOutcome:
    if settings.target is not None:
        return run_external(settings, settings.target, display)
    compose, budgets = prepare(settings)
    settings = with_model(settings, display)
    scenario = settings.scenario
    token, client_key = _stack_secrets(settings)
    gateway_spec, redis_spec = stack_services(compose, token, settings, client_key)
    gateway_spec = scenario_gateway(settings, gateway_under_test(settings, gateway_spec))
    engine = DockerEngine.connect()  # before the run directory: no empty one when it fails
    run_id, run_dir = _new_run_dir(settings)
    try:
        display.say(f"run {run_id}: scenario {scenario.name}, results in {run_dir}")
        display.phase("images")
        builder = ImageBuilder(engine, settings.project_root, settings.base_image, display.say)
        images = builder.build_all(gateway_spec, redis_spec)
        started_at = time.time()
        display.phase("stack")
        config = StackConfig(
            run_id=run_id,
            gateway=gateway_spec,
            redis=redis_spec,
            images=images,
            mock_environment=scenario.mock_environment,
            ready_timeout_s=settings.ready_timeout_s,
            ready_path=settings.ready_path,
            gateway_port=settings.gateway_port,
        )
        context = RunContext(run_id, run_dir, settings, started_at)
        try:
            credentials = StackCredentials(provider_token=token, client_key=client_key)
            record = _run_on_stack(context, engine, config, (credentials, budgets), display)
        except StackNotReadyError as exc:
            oom = _oom_at_start(context, exc, token, config)
            if oom is None:
                raise
            display.say("the gateway was OOM-killed before it became ready")
            record = oom
    except UsageError:  # refused once the image was known (e.g. it exposes several ports)
        _discard_if_empty(run_dir)
        raise
    finally:
        engine.close()
    return _finish(record, budgets, run_dir)


def _discard_if_empty(run_dir: Path) -> None:
    if run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()


def _run_on_stack(
    context: RunContext,
    engine: DockerEngine,
    config: StackConfig,
    judging: tuple[StackCredentials, Budgets | None],
    display: ProgressDisplay,
) -> RunRecord:
    """The stack up, the load with its actions and sampling, the stack down: the record."""
    settings = context.settings
    credentials, budgets = judging
    token = credentials.provider_token
    with GatewayStack(engine, config, display.say) as stack:
        handles = StackHandles(
            gateway=stack.gateway,
            redis=stack.containers[REDIS_SERVICE],
            gateway_url=stack.gateway_url,
            mock_url=stack.mock_url,
            ready_path=settings.ready_path,
            stop_grace_s=stack.gateway.stop_timeout_s,
        )
        sampler = ResourceSampler(stack.gateway, stack.gateway_port)
        sampler.start()
        try:
            time.sleep(IDLE_BASELINE_S)
            _reset_mock(stack.mock_url)
            display.phase("load")
            driven = drive(
                settings,
                stack.gateway_url,
                handles,
                (context.run_dir, display),
                budgets,
                credentials.generator_environment(),
                credentials.headers(),
            )
        finally:
            resources = sampler.stop()
        upstream_calls = _mock_stats(stack.mock_url)
        outcome = _container_outcome(stack.gateway, token, stack.containers.values())
        display.phase("teardown")
    facts = StackFacts(
        resources=resources,
        resource_source=sampler.source,
        images=config.images,
        limits=config.gateway.limits,
        container=outcome,
        upstream_calls=upstream_calls,
        shutdown=driven.actions.shutdown,
    )
    return run_record(context, stack.gateway_url, driven, facts)

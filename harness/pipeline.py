"""One run, start to finish: images → stack → load + sampling → result → report and verdict."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.budgets import Budgets, load_budgets
from harness.collect import RunRecord, build_result
from harness.compose import BuildSpec, ComposeFile, ResourceLimits, ServiceSpec
from harness.docker import DockerEngine, RunningContainer
from harness.errors import UsageError
from harness.images import ImageBuilder
from harness.progress import ProgressDisplay
from harness.runner import LoadPlan, run_locust
from harness.sampler import ResourceSampler
from harness.settings import ExternalTarget, RunSettings
from harness.stack import (
    GATEWAY_SERVICE,
    MOCK_PORT,
    MOCK_SERVICE,
    REDIS_SERVICE,
    GatewayStack,
    StackConfig,
)
from reports.junit import write_junit
from reports.render import write_report
from reports.result import ContainerOutcome, RunResult

IDLE_BASELINE_S = 1.0


@dataclass(frozen=True)
class RunOutcome:
    result: RunResult
    run_dir: Path
    report: Path


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _services(compose: ComposeFile, token: str) -> tuple[ServiceSpec, ServiceSpec]:
    variables = {
        **os.environ,
        "PROVIDER_AUTH_TOKEN": token,
        "UPSTREAM_BASE_URL": f"http://{MOCK_SERVICE}:{MOCK_PORT}",
    }
    return compose.service(GATEWAY_SERVICE, variables), compose.service(REDIS_SERVICE, variables)


def _container_outcome(gateway: RunningContainer, token: str) -> ContainerOutcome:
    state = gateway.state()
    running = state.get("Running", False)
    return ContainerOutcome(
        restarts=gateway.restart_count(),
        oom_killed=bool(state.get("OOMKilled", False)),
        exit_code=None if running else int(state.get("ExitCode", 0)),
        token_in_logs=token in gateway.all_logs(),
    )


def gateway_under_test(settings: RunSettings, spec: ServiceSpec) -> ServiceSpec:
    """The compose file's gateway service, or another gateway in its place (same limits, same
    environment): an existing image, or a directory built with its own Dockerfile."""
    if settings.gateway_image:
        return dataclasses.replace(spec, image=settings.gateway_image, build=None)
    if settings.gateway_build:
        context = settings.gateway_build.resolve()
        if not (context / "Dockerfile").is_file():
            raise UsageError(f"--gateway-build {settings.gateway_build}: no Dockerfile in it")
        tag = (
            "loadgate/gateway-under-test:" + hashlib.sha256(str(context).encode()).hexdigest()[:12]
        )
        build = BuildSpec(context=context, dockerfile="Dockerfile", loadgate_base=False)
        return dataclasses.replace(spec, image=tag, build=build)
    return spec


def prepare(settings: RunSettings) -> tuple[ComposeFile, Budgets | None]:
    """Read and check every input before anything is started."""
    compose = ComposeFile.load(settings.compose_file)
    budgets = load_budgets(settings.budgets_file) if settings.budgets_file else None
    gateway_under_test(settings, _services(compose, "validation")[0])
    return compose, budgets


def _plan(settings: RunSettings) -> LoadPlan:
    s = settings.scenario
    return LoadPlan(s.user_class, s.users, s.spawn_rate, s.duration_s, s.rps_per_user)


def _finish(record: RunRecord, budgets: Budgets | None, run_dir: Path) -> RunOutcome:
    result = build_result(record, budgets)
    result.save(run_dir)
    write_junit(result, run_dir)
    report = write_report(result, run_dir)
    return RunOutcome(result=result, run_dir=run_dir, report=report)


def run_external(
    settings: RunSettings, target: ExternalTarget, display: ProgressDisplay
) -> RunOutcome:
    """Drive a deployment that is already running: nothing is built, started or sampled."""
    budgets = load_budgets(settings.budgets_file) if settings.budgets_file else None
    run_id = new_run_id()
    run_dir = settings.output_dir / run_id
    run_dir.mkdir(parents=True)
    display.say(f"run {run_id}: scenario {settings.scenario.name} against {target.url}")
    display.say("external target: container memory, CPU and state are not measured")
    started_at = time.time()
    display.phase("load")
    samples = run_locust(
        _plan(settings), target.url, run_dir, display.update, target.locust_environment()
    )
    record = RunRecord(
        run_id=run_id,
        scenario=settings.scenario.name,
        target_url=target.url,
        started_at=started_at,
        finished_at=time.time(),
        users=settings.scenario.users,
        target_rps=settings.scenario.target_rps or None,
        samples_file=samples,
        resources=[],
        resource_source="none",
        images=None,
        limits=ResourceLimits(),
        container=None,
    )
    return _finish(record, budgets, run_dir)


def run(settings: RunSettings, display: ProgressDisplay) -> RunOutcome:
    if settings.target is not None:
        return run_external(settings, settings.target, display)
    compose, budgets = prepare(settings)
    scenario = settings.scenario
    token = "lg-test-" + secrets.token_hex(16)
    gateway_spec, redis_spec = _services(compose, token)
    gateway_spec = gateway_under_test(settings, gateway_spec)
    if settings.gateway_limits is not None:
        gateway_spec = dataclasses.replace(gateway_spec, limits=settings.gateway_limits)
    run_id = new_run_id()
    run_dir = settings.output_dir / run_id
    run_dir.mkdir(parents=True)
    display.say(f"run {run_id}: scenario {scenario.name}, results in {run_dir}")

    engine = DockerEngine.connect()
    try:
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
        )
        with GatewayStack(engine, config, display.say) as stack:
            sampler = ResourceSampler(stack.gateway)
            sampler.start()
            time.sleep(IDLE_BASELINE_S)
            display.phase("load")
            try:
                samples = run_locust(_plan(settings), stack.gateway_url, run_dir, display.update)
            finally:
                resources = sampler.stop()
            outcome = _container_outcome(stack.gateway, token)
            display.phase("teardown")
    finally:
        engine.close()

    record = RunRecord(
        run_id=run_id,
        scenario=scenario.name,
        target_url=stack.gateway_url,
        started_at=started_at,
        finished_at=time.time(),
        users=scenario.users,
        target_rps=scenario.target_rps or None,
        samples_file=samples,
        resources=resources,
        resource_source=sampler.source,
        images=images,
        limits=gateway_spec.limits,
        container=outcome,
    )
    return _finish(record, budgets, run_dir)

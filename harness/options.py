"""Options into settings: the namespace `harness.parser` made becomes typed `RunSettings`, and
every value that could hurt (a URL, a token, a header) is checked here, before anything runs.
No message repeats a value that may hold a secret."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import httpx
from pydantic import SecretStr

from harness.errors import UsageError
from harness.parser import PROJECT_ROOT
from harness.settings import Distributed, ExternalTarget, RunSettings, StackCredentials
from harness.stack.wiring import parse_gateway_environment
from scenarios.catalog import OpenLoad, adjusted, scenario
from scenarios.credentials import SCAN_SECRET_ENV, TOKEN_ENV

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP field name (RFC 9110 token)."""


_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
"""What an environment variable's name looks like, so it may be printed (a token would not)."""


def _unsafe_character(text: str) -> str:
    """What is wrong with a header value or token: a control or non-ASCII character, or ''."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text if ch != "\t"):
        return "holds a control character (a trailing newline?)"
    if not text.isascii():
        return "holds a non-ASCII character"
    return ""


def _target_url(text: str) -> str:
    """--target, checked; no message repeats it, for a URL may carry a secret."""
    if _unsafe_character(text) or any(ch.isspace() for ch in text):
        raise UsageError("--target holds whitespace, a control or a non-ASCII character")
    if "?" in text or "#" in text:
        raise UsageError(
            "--target must not carry a query string or a fragment (they may hold secrets and "
            "would be sent as part of every request path): use --token-env or --header"
        )
    try:
        url = httpx.URL(text)
        port = url.port
    except httpx.InvalidURL as exc:
        raise UsageError("--target is not a valid URL: its host or port cannot be read") from exc
    if url.scheme not in ("http", "https") or "://" not in text:
        raise UsageError("--target is not an http(s) URL: it must start with http:// or https://")
    if url.userinfo:
        raise UsageError("--target must not carry credentials: use --token-env")
    if not url.host:
        raise UsageError("--target is not an http(s) URL: it has no host")
    if port is not None and not 0 < port < 65536:
        raise UsageError("--target has a port outside 1-65535")
    return str(url).rstrip("/")


def _token(variable: str) -> SecretStr:
    """The bearer token from the environment variable `variable`, checked."""
    name = variable if _ENV_NAME.fullmatch(variable) else "given"
    value = os.environ.get(variable)
    if not value:
        raise UsageError(f"--token-env: environment variable {name} is not set")
    problem = _unsafe_character(value) or ("holds a tab" if "\t" in value else "")
    if problem:
        raise UsageError(f"--token-env: the token in environment variable {name} {problem}")
    return SecretStr(value)


def _headers(given: list[str]) -> dict[str, str]:
    """--header 'Name: value' options; a message names the header only when its name parses."""
    headers = {}
    for header in given:
        name, sep, value = header.partition(":")
        name = name.strip()
        if not sep:
            raise UsageError("--header is not 'Name: value': it has no colon")
        if not _HEADER_NAME.fullmatch(name):
            raise UsageError("--header is not 'Name: value': the name is not a valid header name")
        problem = _unsafe_character(value)
        if problem:
            raise UsageError(f"--header {name}: the value {problem}")
        headers[name] = value.strip()
    return headers


def external_target(args: argparse.Namespace) -> ExternalTarget | None:
    """The --target options, checked: one clear usage error for each mistake, no secret in it."""
    if args.gateway_image and args.gateway_build:
        raise UsageError("--gateway-image and --gateway-build are alternatives: give one")
    if args.target is None:
        if args.token_env or args.header:
            raise UsageError("--token-env and --header apply to --target only")
        return None
    launch_flags = {
        "--gateway-image": args.gateway_image,
        "--gateway-build": args.gateway_build,
        "--gateway-port": args.gateway_port,
        "--gateway-env": args.gateway_env,
        "--gateway-service": args.gateway_service,
        "--redis-service": args.redis_service,
    }
    given = [flag for flag, value in launch_flags.items() if value]
    if given:
        raise UsageError(
            f"--target drives a running deployment: it launches no gateway ({', '.join(given)} "
            "apply to a gateway loadgate launches)"
        )
    url = _target_url(args.target)
    token = _token(args.token_env) if args.token_env else None
    return ExternalTarget(url=url, token=token, headers=_headers(args.header))


MIN_WORKER_SECRET = 16
"""Characters at least of each secret a launched stack's workers hold (`_worker_secret`)."""


def _worker_secret(variable: str, what: str) -> str:
    value = os.environ.get(variable, "")
    if len(value) < MIN_WORKER_SECRET or _unsafe_character(value) or not value.isprintable():
        raise UsageError(
            f"--expect-workers with a stack loadgate launches: set {variable} ({what}: at least "
            f"{MIN_WORKER_SECRET} printable characters) here and in every worker's environment; "
            "loadgate never sends secrets to its workers"
        )
    return value


def distributed(args: argparse.Namespace, launched: bool) -> Distributed | None:
    """`--expect-workers N --master-bind HOST:PORT`, checked together."""
    if args.expect_workers is None:
        if args.master_bind is not None:
            raise UsageError("--master-bind is where workers join: it needs --expect-workers N")
        return None
    if args.master_bind is None:
        raise UsageError(
            "--expect-workers needs --master-bind HOST:PORT, the address workers connect to "
            "(e.g. 0.0.0.0:5557 on a private network: Locust's master port is unauthenticated)"
        )
    if args.processes > 1:
        raise UsageError("--processes and --expect-workers are alternatives: the workers generate")
    credentials = None
    if launched:
        credentials = StackCredentials(
            provider_token=_worker_secret(SCAN_SECRET_ENV, "the provider token the gateway gets"),
            client_key=_worker_secret(TOKEN_ENV, "the client key the gateway asks for"),
        )
    return Distributed(args.expect_workers, args.master_bind, args.workers_timeout, credentials)


def scenario_budgets(name: str) -> Path:
    """`budgets/<scenario>.yml`, the scenario's own budgets, else `budgets/default.yml`: no
    scenario runs unjudged unless asked to (`--no-budgets`)."""
    path = PROJECT_ROOT / "budgets" / f"{name}.yml"
    return path if path.is_file() else PROJECT_ROOT / "budgets" / "default.yml"


def budgets_file(args: argparse.Namespace, scenario_name: str) -> Path | None:
    if args.no_budgets:
        if args.budgets is not None:
            raise UsageError("--budgets and --no-budgets are alternatives: give one")
        return None
    return args.budgets if args.budgets is not None else scenario_budgets(scenario_name)


def run_settings(args: argparse.Namespace) -> RunSettings:
    chosen = scenario(args.scenario)
    if args.users and isinstance(chosen.load, OpenLoad):
        raise UsageError(f"--users: {chosen.name} is an open-model scenario (use --rate)")
    protocol = args.protocol or chosen.protocol
    if (args.stream or chosen.stream) and protocol != "openai":
        raise UsageError(f"{chosen.name}: streaming needs --protocol openai, not {protocol}")
    final = adjusted(
        chosen,
        protocol=args.protocol,
        duration_s=args.duration,
        rate_rps=args.rate,
        users=args.users,
        stream=True if args.stream else None,
    )
    budgets = budgets_file(args, chosen.name)
    target = external_target(args)
    return RunSettings(
        scenario=final,
        project_root=PROJECT_ROOT,
        compose_file=args.compose,
        output_dir=args.output_dir.resolve(),
        budgets_file=budgets,
        processes=args.processes,
        base_image=args.base_image,
        ready_timeout_s=args.ready_timeout,
        target=target,
        distributed=distributed(args, launched=target is None),
        gateway_image=args.gateway_image,
        gateway_build=args.gateway_build,
        ready_path=args.ready_path,
        gateway_port=args.gateway_port,
        gateway_environment=parse_gateway_environment(args.gateway_env),
        gateway_service=args.gateway_service,
        redis_service=args.redis_service,
        model=args.model,
    )

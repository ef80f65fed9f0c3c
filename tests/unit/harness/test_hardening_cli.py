"""Bad input to the `loadgate` command is one line and exit 2, before anything runs, and never
repeats a secret it refuses.

Each case runs the entry point (`main`, and `python -m harness` in a subprocess for a sample)
pointed at an engine that does not exist, so a refusal that regressed would fail fast on the
missing engine (exit 3) instead of starting containers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[3]
SECRET = "sk-hardening-5e7c1d"
TARGET = "http://127.0.0.1:9"
GOOD_COMPOSE = (
    "services:\n  gateway:\n    image: g\n{gateway}  redis:\n    image: r\n    restart: no\n"
)


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def python_m_harness(
    args: list[str], tmp_path: Path, environment: Mapping[str, str] | None = None
) -> Done:
    """`python -m harness ARGS` against an engine that does not answer (in `environment`, this
    process's by default)."""
    base = os.environ if environment is None else environment
    env = {**base, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )
    return Done(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def loadgate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[[list[str]], Done]:
    """`main(ARGS)` in this process, against an engine that does not answer."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")

    def run(args: list[str]) -> Done:
        try:
            code = main(args)
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


def assert_refused(done: Done, message: str) -> None:
    """Exit 2, one line on stderr naming the problem, no traceback, no secret anywhere."""
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "environment", "message"),
    [
        pytest.param(["--target", f"{TARGET}/v1?api_key={SECRET}"], {}, "query string", id="query"),
        pytest.param(["--target", f"{TARGET}/#{SECRET}"], {}, "fragment", id="fragment"),
        pytest.param(
            ["--target", f"{TARGET}/?"], {}, "must not carry a query string", id="empty-query"
        ),
        pytest.param(
            ["--target", f"https://admin:{SECRET}@127.0.0.1:9"],
            {},
            "must not carry credentials",
            id="userinfo",
        ),
        pytest.param(
            ["--target", f"ftp://admin:{SECRET}@127.0.0.1:9"],
            {},
            "is not an http(s) URL",
            id="userinfo-other-scheme",
        ),
        pytest.param(
            ["--target", f"http://{SECRET}:pw@[::1"], {}, "is not a valid URL", id="bad-ipv6"
        ),
        pytest.param(["--target", "http://[::1"], {}, "is not a valid URL", id="unclosed-ipv6"),
        pytest.param(["--target", "http://h:99999"], {}, "port outside 1-65535", id="port"),
        pytest.param(
            ["--target", f"http://h/{SECRET}\n"], {}, "control or a non-ASCII", id="url-newline"
        ),
        pytest.param(
            ["--target", TARGET, "--header", f"Authorization Bearer {SECRET}"],
            {},
            "--header is not 'Name: value': it has no colon",
            id="header-without-colon",
        ),
        pytest.param(
            ["--target", TARGET, "--header", f"Bearer {SECRET}: x"],
            {},
            "the name is not a valid header name",
            id="header-bad-name",
        ),
        pytest.param(
            ["--target", TARGET, "--header", f"X-Api-Key: {SECRET}\r\nX-Evil: 1"],
            {},
            "--header X-Api-Key: the value holds a control character",
            id="header-crlf",
        ),
        pytest.param(
            ["--target", TARGET, "--header", f"X-Api-Key: {SECRET}\x1b[2J"],
            {},
            "--header X-Api-Key: the value holds a control character",
            id="header-escape",
        ),
        pytest.param(
            ["--target", TARGET, "--header", f"X-Api-Key: {SECRET}é"],
            {},
            "--header X-Api-Key: the value holds a non-ASCII character",
            id="header-non-ascii",
        ),
        pytest.param(
            ["--target", TARGET, "--token-env", "LG_HARDENING_TOKEN"],
            {"LG_HARDENING_TOKEN": SECRET + "\n"},
            "LG_HARDENING_TOKEN holds a control character (a trailing newline?)",
            id="token-trailing-newline",
        ),
        pytest.param(
            ["--target", TARGET, "--token-env", "LG_HARDENING_TOKEN"],
            {"LG_HARDENING_TOKEN": SECRET + "\tx"},
            "LG_HARDENING_TOKEN holds a tab",
            id="token-tab",
        ),
        pytest.param(
            ["--target", TARGET, "--token-env", SECRET],
            {},
            "--token-env: environment variable given is not set",
            id="token-given-instead-of-its-variable",
        ),
    ],
)
def test_target_options_are_refused_without_echoing_secrets(
    args: list[str],
    environment: dict[str, str],
    message: str,
    tmp_path: Path,
    loadgate: Callable[[list[str]], Done],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--target, --header and --token-env mistakes: one line that names the flag, not the value."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    done = loadgate(["run", *args, "--output-dir", str(tmp_path / "runs")])
    assert_refused(done, message)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--rate", "inf"], id="rate-inf"),
        pytest.param(["--rate", "nan"], id="rate-nan"),
        pytest.param(["--ready-timeout", "Infinity"], id="ready-timeout-inf"),
        pytest.param(["--scenario", "ramp", "--rate", "1e999"], id="rate-overflow"),
    ],
)
def test_non_finite_numbers_are_refused(
    args: list[str], tmp_path: Path, loadgate: Callable[[list[str]], Done]
) -> None:
    """A non-finite number is a usage error before anything starts (argparse prints its usage)."""
    done = loadgate(["run", *args, "--output-dir", str(tmp_path / "runs")])
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1].endswith("is not a finite number")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("gateway", "message"),
    [
        pytest.param(
            "    deploy:\n      resources: [1, 2]\n",
            "services.gateway.deploy.resources must be a mapping",
            id="resources-list",
        ),
        pytest.param(
            "    deploy: [1]\n", "services.gateway.deploy must be a mapping", id="deploy-list"
        ),
        pytest.param(
            "    healthcheck: {test: [CMD, x], retries: abc}\n",
            "services.gateway.healthcheck.retries: 'abc' is not a whole number",
            id="retries-abc",
        ),
        pytest.param(
            "    healthcheck: {test: [CMD, x], retries: -1}\n",
            "services.gateway.healthcheck.retries: -1 is not a whole number of 0 or more",
            id="retries-negative",
        ),
        pytest.param(
            "    deploy: {resources: {limits: {cpus: 1000}}}\n",
            "services.gateway.deploy.resources.limits.cpus: 1000 is outside 0.01 to",
            id="cpus-above-machine",
        ),
        pytest.param(
            "    deploy: {resources: {limits: {cpus: 0.001}}}\n",
            "services.gateway.deploy.resources.limits.cpus: 0.001 is outside 0.01 to",
            id="cpus-below-docker-minimum",
        ),
        pytest.param(
            "    deploy: {resources: {limits: {memory: 1k}}}\n",
            "services.gateway.deploy.resources.limits.memory: 1024 bytes is below Docker's",
            id="memory-below-6mib",
        ),
        pytest.param(
            "    deploy: {resources: {limits: {memory: 64M}, reservations: {memory: 128M}}}\n",
            "services.gateway.deploy.resources.reservations.memory is above limits.memory",
            id="reservation-above-limit",
        ),
        pytest.param(
            "    deploy: {resources: {limits: {cpus: 0.5}, reservations: {cpus: 1}}}\n",
            "services.gateway.deploy.resources.reservations.cpus is above",
            id="cpu-reservation-above-limit",
        ),
        pytest.param(
            "    restart: sometimes\n",
            "services.gateway.restart: 'sometimes' is not one of no, always",
            id="restart-sometimes",
        ),
        pytest.param(
            "    environment: &env\n      A: [*env]\n",
            "services.gateway.environment.A.0 is a YAML alias to a node that contains it",
            id="recursive-alias",
        ),
        pytest.param(
            "    x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
            "    y: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "    z: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
            "    w: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "    v: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
            "more than 100000 values once YAML aliases are expanded",
            id="alias-bomb",
        ),
        pytest.param(
            "    deploy: {resources: {limits: {memory: [\n",
            "is not valid YAML: while parsing",
            id="invalid-yaml-in-one-line",
        ),
    ],
)
def test_compose_values_docker_would_refuse_are_refused_up_front(
    gateway: str, message: str, tmp_path: Path, loadgate: Callable[[list[str]], Done]
) -> None:
    """Out-of-range or malformed compose values: one line with the key path, before any run."""
    compose = tmp_path / "compose.yml"
    compose.write_text(GOOD_COMPOSE.format(gateway=gateway))
    done = loadgate(["run", "--compose", str(compose), "--output-dir", str(tmp_path / "runs")])
    assert_refused(done, message)
    assert not (tmp_path / "runs").exists()


def test_a_non_utf8_compose_file_is_refused(tmp_path: Path) -> None:
    """`python -m harness run`: a compose file that is not UTF-8 names the offending byte."""
    compose = tmp_path / "compose.yml"
    compose.write_bytes(GOOD_COMPOSE.format(gateway="    # caf\xe9\n").encode("latin-1"))
    done = python_m_harness(["run", "--compose", str(compose)], tmp_path)
    assert_refused(done, "is not UTF-8 text (byte 0xe9 at offset")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--target", f"{TARGET}/v1?api_key={SECRET}"], "query string", id="query"),
        pytest.param(
            ["--target", f"https://admin:{SECRET}@[::1"], "is not a valid URL", id="userinfo"
        ),
        pytest.param(
            ["--target", TARGET, "--header", f"Authorization Bearer {SECRET}"],
            "it has no colon",
            id="header",
        ),
    ],
)
def test_python_m_harness_refuses_secrets_in_one_line(
    args: list[str], message: str, tmp_path: Path
) -> None:
    """`python -m harness run` itself: exit 2, one line, the secret nowhere in its output."""
    done = python_m_harness(["run", *args, "--output-dir", str(tmp_path / "runs")], tmp_path)
    assert_refused(done, message)


def test_a_deeply_nested_compose_file_is_refused(
    tmp_path: Path, loadgate: Callable[[list[str]], Done]
) -> None:
    """Nesting deeper than the parser can follow is one line, not a RecursionError."""
    compose = tmp_path / "compose.yml"
    compose.write_text("services: " + "[" * 5000 + "]" * 5000 + "\n")
    done = loadgate(["run", "--compose", str(compose)])
    assert_refused(done, "is nested too deeply to be a compose file")


def test_restart_no_reads_as_the_policy_not_as_false(tmp_path: Path) -> None:
    """A bare `restart: no` (YAML 1.1 false) is the policy "no"."""
    from harness.stack.compose import ComposeFile

    compose = tmp_path / "compose.yml"
    compose.write_text(GOOD_COMPOSE.format(gateway=""))
    redis = ComposeFile.load(compose).service("redis", {})
    assert redis.restart == "no"


WORKERS = ["--expect-workers", "2", "--master-bind", "127.0.0.1:5557"]
GOOD_SECRETS = {"LOADGATE_SCAN_SECRET": SECRET + "-provider", "LOADGATE_TARGET_TOKEN": SECRET}


@pytest.mark.parametrize(
    ("args", "secrets", "message"),
    [
        pytest.param(["worker", "--master", "nonsense"], {}, "is not HOST:PORT", id="no-port"),
        pytest.param(["worker", "--master", "host:0"], {}, "is not HOST:PORT", id="port-0"),
        pytest.param(["worker", "--master", "[::1]"], {}, "is not HOST:PORT", id="ipv6-no-port"),
        pytest.param(
            ["worker", "--master", "h:1", "--target", "ftp://x"], {}, "not an http(s)", id="ftp"
        ),
        pytest.param(["run", "--expect-workers", "0"], {}, "must be greater than 0", id="zero"),
        pytest.param(["run", "--expect-workers", "-1"], {}, "must be greater than 0", id="neg"),
        pytest.param(["run", "--expect-workers", "abc"], {}, "is not a whole number", id="abc"),
        pytest.param(
            ["run", "--master-bind", "0.0.0.0:5557"], {}, "it needs --expect-workers", id="bind"
        ),
        pytest.param(
            ["run", "--expect-workers", "2"], {}, "needs --master-bind HOST:PORT", id="no-bind"
        ),
        pytest.param(
            ["run", *WORKERS, "--processes", "2"],
            GOOD_SECRETS,
            "--processes and --expect-workers are alternatives",
            id="processes",
        ),
        pytest.param(["run", *WORKERS], {}, "set LOADGATE_SCAN_SECRET", id="no-secrets"),
        pytest.param(
            ["run", *WORKERS],
            {**GOOD_SECRETS, "LOADGATE_TARGET_TOKEN": "short"},
            "set LOADGATE_TARGET_TOKEN",
            id="short-secret",
        ),
        pytest.param(
            ["run", *WORKERS],
            {**GOOD_SECRETS, "LOADGATE_SCAN_SECRET": SECRET + "-provider\n"},
            "set LOADGATE_SCAN_SECRET",
            id="secret-with-newline",
        ),
    ],
)
def test_distributed_options_are_refused_by_the_real_cli(
    args: list[str], secrets: dict[str, str], message: str, tmp_path: Path
) -> None:
    """`python -m harness run|worker` with bad worker options or a launched stack's secrets
    missing: exit 2, one line, no secret echoed, no run directory, no process left running."""
    env = {k: v for k, v in os.environ.items() if k not in GOOD_SECRETS} | secrets
    output = tmp_path / "runs"
    extra = ["--output-dir", str(output)] if args[0] == "run" else []
    done = python_m_harness([*args, *extra], tmp_path, env)
    last = Done(done.returncode, done.stdout, done.stderr.splitlines()[-1] + "\n")
    assert_refused(last, message)
    assert "Traceback" not in done.stderr and SECRET not in done.stderr
    assert not output.exists()

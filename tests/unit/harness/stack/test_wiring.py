"""Wiring a gateway that is not ours: its port, its variables and its healthcheck."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.stack.wiring import (
    choose_gateway_port,
    fill_placeholders,
    healthcheck_problem,
    parse_gateway_environment,
    rewrite_healthcheck_port,
)

SECRET = "sk-live-0123456789abcdef"
CURL = ["CMD", "curl", "-f", "http://localhost:8080/health"]
OCI_NOT_FOUND = (
    "OCI runtime exec failed: exec failed: unable to start container process: "
    'exec: "curl": executable file not found in $PATH: unknown'
)


def test_gateway_env_items_become_templates() -> None:
    """NAME=VALUE items keep their value verbatim, `=` inside the value included."""
    parsed = parse_gateway_environment(
        ["LLM_API_BASE={upstream_url}", "OPTS=a=b", "EMPTY=", 'JSON={"k": 1}']
    )
    assert parsed == {
        "LLM_API_BASE": "{upstream_url}",
        "OPTS": "a=b",
        "EMPTY": "",
        "JSON": '{"k": 1}',
    }


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(SECRET, "item 1 is not NAME=VALUE", id="no-equals"),
        pytest.param(f"=={SECRET}", "item 1 is not NAME=VALUE", id="empty-name"),
        pytest.param(f"9X={SECRET}", "item 1 is not NAME=VALUE", id="bad-name"),
        pytest.param(
            f"LLM_API_KEY={SECRET}{{provider_tokn}}",
            "--gateway-env LLM_API_KEY: its value has an unknown placeholder",
            id="unknown-placeholder",
        ),
    ],
)
def test_bad_gateway_env_items_are_refused_without_their_value(item: str, expected: str) -> None:
    """A malformed item or an unknown placeholder is a usage error that never repeats the value."""
    with pytest.raises(UsageError) as caught:
        parse_gateway_environment([item])
    message = str(caught.value)
    assert expected in message
    assert SECRET not in message and "provider_tokn" not in message
    assert "\n" not in message


def test_placeholders_are_filled_and_other_braces_kept() -> None:
    """{upstream_url}, {provider_token} and {redis_url} are replaced, anywhere in the value."""
    filled = fill_placeholders(
        {"BASE": "{upstream_url}/v1", "AUTH": "Bearer {provider_token}", "JSON": '{"a": 1}'},
        {"upstream_url": "http://mock:8080", "provider_token": "t0k"},
    )
    assert filled == {"BASE": "http://mock:8080/v1", "AUTH": "Bearer t0k", "JSON": '{"a": 1}'}


@pytest.mark.parametrize(
    ("flag", "declared", "exposed", "chosen"),
    [
        pytest.param(None, [], [], 8000, id="nothing-declared-8000"),
        pytest.param(None, [], [8080], 8080, id="image-exposes-one"),
        pytest.param(None, [8080], [8000], 8080, id="compose-before-image"),
        pytest.param(None, [8080, 8080], [], 8080, id="compose-twice-same"),
        pytest.param(9000, [8080], [8080, 8081], 9000, id="flag-overrides-all"),
    ],
)
def test_the_gateway_port_is_chosen_in_order(
    flag: int | None, declared: list[int], exposed: list[int], chosen: int
) -> None:
    """--gateway-port, else the compose service's port, else the image's, else 8000."""
    assert choose_gateway_port(flag, declared, exposed) == chosen


@pytest.mark.parametrize(
    ("declared", "exposed", "expected"),
    [
        pytest.param([], [8080, 8000], "the image exposes several ports (8000, 8080)", id="image"),
        pytest.param([8080, 9090], [], "the compose service publishes several ports", id="compose"),
    ],
)
def test_several_candidate_ports_are_refused(
    declared: list[int], exposed: list[int], expected: str
) -> None:
    """Two candidates and no flag: one line naming them and --gateway-port."""
    with pytest.raises(UsageError) as caught:
        choose_gateway_port(None, declared, exposed)
    assert expected in str(caught.value)
    assert "--gateway-port" in str(caught.value)


@pytest.mark.parametrize(
    ("test", "declared", "expected"),
    [
        pytest.param(
            ["CMD", "curl", "-f", "http://localhost:8000/health"],
            [],
            ["CMD", "curl", "-f", "http://localhost:8080/health"],
            id="localhost",
        ),
        pytest.param(
            ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8000/ready || exit 1"],
            [8000],
            ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8080/ready || exit 1"],
            id="shell-127",
        ),
        pytest.param(
            ["CMD", "curl", "http://localhost:80001/", "http://[::1]:8000/"],
            [],
            ["CMD", "curl", "http://localhost:80001/", "http://[::1]:8080/"],
            id="longer-port-kept",
        ),
        pytest.param(
            ["CMD", "curl", "http://localhost:9901/ready"],
            [8000],
            ["CMD", "curl", "http://localhost:9901/ready"],
            id="admin-port-kept",
        ),
        pytest.param(
            ["CMD", "curl", "http://gateway.internal:8000/"],
            [],
            ["CMD", "curl", "http://gateway.internal:8000/"],
            id="other-host-kept",
        ),
    ],
)
def test_the_healthcheck_follows_the_chosen_port(
    test: list[str], declared: list[int], expected: list[str]
) -> None:
    """Loopback URLs at the compose file's port move to the chosen port, and nothing else."""
    assert rewrite_healthcheck_port(test, declared, 8080) == expected


@pytest.mark.parametrize(
    ("test", "log", "expected"),
    [
        pytest.param(
            CURL,
            [{"ExitCode": -1, "Output": OCI_NOT_FOUND}],
            "healthcheck `curl -f http://localhost:8080/health` cannot run in the image: "
            'exec: "curl": executable file not found in $PATH',
            id="exec-form-missing-binary",
        ),
        pytest.param(
            ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
            [{"ExitCode": 127, "Output": "/bin/sh: 1: curl: not found\n"}],
            "healthcheck `curl -f http://localhost:8080/health || exit 1` cannot run in the "
            "image: /bin/sh: 1: curl: not found",
            id="shell-form-missing-binary",
        ),
        pytest.param(
            CURL,
            [{"ExitCode": 22, "Output": "curl: (22) The requested URL returned error: 503"}],
            None,
            id="ran-and-failed",
        ),
        pytest.param(CURL, [], None, id="never-ran"),
    ],
)
def test_a_healthcheck_that_cannot_run_is_named(
    test: list[str], log: list[dict[str, Any]], expected: str | None
) -> None:
    """Docker's health log tells a check that cannot run from one that ran and failed."""
    assert healthcheck_problem(test, {"Status": "unhealthy", "Log": log}) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--gateway-env", SECRET], "--gateway-env item 1", id="env-malformed"),
        pytest.param(
            ["--gateway-env", f"KEY={SECRET}{{token}}"], "unknown placeholder", id="env-placeholder"
        ),
        pytest.param(["--gateway-port", "70000"], "is not a port", id="port-out-of-range"),
        pytest.param(["--gateway-port", "http"], "not a port number", id="port-not-a-number"),
    ],
)
def test_the_command_refuses_bad_gateway_options(
    args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`loadgate run` with a bad gateway option: exit 2, one line, no secret, nothing started."""
    try:
        code = main(["run", *args, "--output-dir", str(tmp_path / "runs")])
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err
    assert SECRET not in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()

"""The loadgate command: clear one-line errors and documented exit codes, without Docker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.unit.conftest import MakeResult
    from tests.unit.harness.conftest import Cli


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["run", "--scenario", "nope"], id="unknown-scenario"),
        pytest.param(["run", "--duration", "-1"], id="negative-duration"),
        pytest.param(["run", "--users", "many"], id="users-not-a-number"),
        pytest.param(["run", "--frobnicate"], id="unknown-flag"),
        pytest.param([], id="no-command"),
    ],
)
def test_bad_flags_exit_2_without_traceback(args: list[str], cli: Cli) -> None:
    """argparse refuses bad flags with exit 2 and a message, never a traceback."""
    code, _, err = cli(args)
    assert code == 2
    assert "Traceback" not in err and "error:" in err


def test_bad_budgets_file_stops_before_anything_starts(tmp_path: Path, cli: Cli) -> None:
    """A broken budgets file is one clear line and exit 2, checked before Docker is touched."""
    budgets = tmp_path / "b.yml"
    budgets.write_text("latency_p95_ms: soon\n")
    code, _, err = cli(["run", "--budgets", str(budgets), "--output-dir", str(tmp_path / "runs")])
    assert code == 2
    assert err.strip().count("\n") == 0 and "latency_p95_ms" in err
    assert not (tmp_path / "runs").exists()


def test_bad_compose_file_is_a_usage_error(tmp_path: Path, cli: Cli) -> None:
    """A compose file with an unparsable limit names the key and exits 2."""
    compose = tmp_path / "c.yml"
    compose.write_text(
        "services:\n  gateway:\n    image: g\n    deploy: {resources: {limits: {memory: lots}}}\n"
        "  redis:\n    image: r\n"
    )
    code, _, err = cli(["run", "--compose", str(compose)])
    assert code == 2 and "deploy.resources.limits.memory" in err


def test_report_rerenders_from_a_result_file(
    tmp_path: Path, cli: Cli, make_result: MakeResult
) -> None:
    """`loadgate report` needs only result.json and exits by its verdict."""
    make_result(verdict="pass").save(tmp_path)
    code, out, _ = cli(["report", str(tmp_path)])
    assert code == 0 and "verdict: PASS" in out
    assert (tmp_path / "report.html").exists()


def test_report_rejudges_with_other_budgets(
    tmp_path: Path, cli: Cli, make_result: MakeResult
) -> None:
    """Stricter budgets turn a stored pass into a breach, exit code 1."""
    make_result(verdict="pass").save(tmp_path)
    budgets = tmp_path / "strict.yml"
    budgets.write_text("latency_p95_ms: 10\n")
    code, out, _ = cli(["report", str(tmp_path / "result.json"), "--budgets", str(budgets)])
    assert code == 1
    assert "[FAIL] latency_p95_ms: 110" in out


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{}", id="empty-object"),
        pytest.param("not json", id="not-json"),
        pytest.param(None, id="missing"),
    ],
)
def test_report_refuses_what_is_not_a_result(tmp_path: Path, content: str | None, cli: Cli) -> None:
    """Anything but a loadgate result is exit 2 with one line."""
    path = tmp_path / "result.json"
    if content is not None:
        path.write_text(content)
    code, _, err = cli(["report", str(path)])
    assert code == 2 and err.startswith("loadgate: ") and "Traceback" not in err


def test_scenarios_are_listed(cli: Cli) -> None:
    """`loadgate scenarios` names each scenario with its description."""
    code, out, _ = cli(["scenarios"])
    assert code == 0 and out.startswith("smoke")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--target", "ftp://x"], "is not an http(s) URL", id="scheme"),
        pytest.param(["--target", "localhost:8000"], "is not an http(s) URL", id="no-scheme"),
        pytest.param(
            ["--target", "http://u:p@127.0.0.1:9"], "must not carry credentials", id="userinfo"
        ),
        pytest.param(
            ["--target", "http://127.0.0.1:9", "--token-env", "LG_UNSET_VAR"],
            "is not set",
            id="token",
        ),
        pytest.param(
            ["--target", "http://127.0.0.1:9", "--header", "bad"],
            "is not 'Name: value'",
            id="header",
        ),
        pytest.param(["--header", "X: y"], "apply to --target only", id="header-without-target"),
        pytest.param(
            ["--gateway-image", "a", "--gateway-build", "b"],
            "are alternatives",
            id="image-and-build",
        ),
        pytest.param(
            ["--target", "http://127.0.0.1:9", "--gateway-image", "a"],
            "launches no gateway",
            id="target-and-image",
        ),
    ],
)
def test_bad_target_options_are_one_line_usage_errors(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Cli,
) -> None:
    """Every mistake in --target, --token-env or --header is exit 2 with one clear line."""
    monkeypatch.delenv("LG_UNSET_VAR", raising=False)
    code, _, err = cli(["run", *args, "--output-dir", str(tmp_path)])
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_a_build_directory_without_dockerfile_is_refused(tmp_path: Path, cli: Cli) -> None:
    """--gateway-build needs a Dockerfile; the check happens before anything starts."""
    code, _, err = cli(
        ["run", "--gateway-build", str(tmp_path), "--output-dir", str(tmp_path / "runs")]
    )
    assert code == 2
    assert "no Dockerfile" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--scenario", "ramp", "--users", "5"], "use --rate", id="users-on-open"),
        pytest.param(["--stream"], "streaming needs --protocol openai", id="stream-on-infer"),
        pytest.param(
            ["--scenario", "stream", "--protocol", "infer"],
            "streaming needs --protocol openai, not infer",
            id="stream-scenario-on-infer",
        ),
    ],
)
def test_load_options_that_do_not_fit_the_scenario_are_usage_errors(
    args: list[str], message: str, tmp_path: Path, cli: Cli
) -> None:
    """Options the scenario's load model cannot take are refused in one line, before any run."""
    code, _, err = cli(["run", *args, "--output-dir", str(tmp_path)])
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())

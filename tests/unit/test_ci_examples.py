"""The ready-made CI jobs (examples/ci): they trigger on pull/merge requests, fetch the history
`--base-ref` needs, run a `loadgate compare` command line loadgate accepts, and keep the run
directories whatever the verdict."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import build_parser
from harness.compare.sides import check_ref
from reports.junit import JUNIT_FILE
from scenarios.catalog import SCENARIOS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"


def load(name: str) -> dict[Any, Any]:
    document = yaml.safe_load((EXAMPLES / name).read_text())
    assert isinstance(document, dict)
    return document


def compare_command(scripts: list[str]) -> list[str]:
    """The words of the one `loadgate compare` command in the scripts (continuations joined)."""
    commands = [
        line
        for script in scripts
        for line in script.replace("\\\n", " ").splitlines()
        if "loadgate compare" in line
    ]
    assert len(commands) == 1, commands
    words = shlex.split(commands[0])
    start = next(i for i, word in enumerate(words) if word.endswith("loadgate"))
    assert words[start + 1] == "compare", words
    return words[start + 2 :]


def compare_options(words: list[str]) -> argparse.Namespace:
    """The command line as `loadgate compare` itself parses it (an unknown flag exits 2)."""
    try:
        return build_parser().parse_args(["compare", *words])
    except SystemExit as exc:
        raise AssertionError(f"loadgate compare refuses {words}: exit {exc.code}") from exc


def check_options(options: argparse.Namespace, base_ref: str) -> None:
    """The values mean what loadgate would read: the base branch, a scenario, a duration..."""
    assert options.base_ref == base_ref
    check_ref(
        base_ref.replace("$BASE_REF", "main").replace(
            "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"
        )
    )
    assert options.scenario in SCENARIOS
    assert options.duration > 0
    assert options.output_dir == Path("runs")
    assert options.rounds >= 1


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith(action + "@")]


def test_the_github_workflow_compares_each_pull_request_with_its_base() -> None:
    """Pull requests trigger it; full history, Python 3.11, then the compare against the base."""
    workflow = load("github-actions.yml")
    triggers = workflow[True]  # YAML 1.1 (PyYAML) reads the key `on` as true
    assert set(triggers) == {"pull_request"}
    (job,) = workflow["jobs"].values()
    assert job["runs-on"].startswith("ubuntu-")
    (checkout,) = steps_using(job, "actions/checkout")
    assert checkout["uses"] == "actions/checkout@v4"
    assert checkout["with"]["fetch-depth"] == 0
    (python,) = steps_using(job, "actions/setup-python")
    assert python["with"]["python-version"] == "3.11"
    (compare,) = [step for step in job["steps"] if "loadgate compare" in step.get("run", "")]
    assert compare["env"]["BASE_REF"] == "${{ github.base_ref }}"
    assert job["steps"].index(checkout) < job["steps"].index(compare)
    check_options(compare_options(compare_command([compare["run"]])), "origin/$BASE_REF")


def test_the_github_workflow_uploads_the_runs_whatever_the_verdict() -> None:
    """The upload step runs `if: always()`, after the compare, and takes the output directory."""
    (job,) = load("github-actions.yml")["jobs"].values()
    (upload,) = steps_using(job, "actions/upload-artifact")
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/") == "runs"
    assert job["steps"].index(upload) == len(job["steps"]) - 1


def test_the_gitlab_job_compares_each_merge_request_with_its_target() -> None:
    """Merge requests trigger it; the history and the target branch are fetched first."""
    (job,) = [value for value in load("gitlab-ci.yml").values() if "script" in value]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert job["variables"]["GIT_DEPTH"] == "0"
    script = job["script"]
    fetch = script.index('git fetch origin "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"')
    (compare,) = [i for i, line in enumerate(script) if "loadgate compare" in line]
    assert fetch < compare
    options = compare_options(compare_command(script))
    check_options(options, "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME")


def test_the_gitlab_job_keeps_the_runs_whatever_the_verdict() -> None:
    """Artifacts `when: always`: the output directory, and the compare's JUnit file (not the
    rounds': a base round over an absolute budget is no failure of the merge request)."""
    (job,) = [value for value in load("gitlab-ci.yml").values() if "script" in value]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert [path.rstrip("/") for path in artifacts["paths"]] == ["runs"]
    report = artifacts["reports"]["junit"]
    assert report == f"runs/compare-*/{JUNIT_FILE}", "the compare's own JUnit, not its rounds'"


@pytest.mark.parametrize(
    "script",
    [
        pytest.param("loadgate compare --base-ref x --tag y", id="unknown-flag"),
        pytest.param("loadgate compare --scenario", id="no-value"),
        pytest.param("loadgate compare --scenario nonsense", id="unknown-scenario"),
        pytest.param("loadgate compare --rounds --duration 5", id="flag-as-value"),
    ],
)
def test_a_command_line_with_a_mistake_is_refused(
    script: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checker is loadgate's own parser: what it refuses, the tests above would catch."""
    with pytest.raises(AssertionError, match="loadgate compare refuses"):
        compare_options(compare_command([script]))
    assert "error:" in capsys.readouterr().err

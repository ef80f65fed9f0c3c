"""Driving the load generators: their commands, following their samples, merging them."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import LoadGeneratorError
from harness.run.generator_commands import locust_command, open_model_command
from harness.run.model_choice import LAUNCHED_STACK_MODEL
from harness.run.runner import SampleTail, merge_samples, read_responses
from scenarios.catalog import SCENARIOS, Protocol, adjusted
from scenarios.plan import open_shares
from scenarios.samples import HEADER

HEAD = ",".join(HEADER) + "\n"


def test_tail_counts_rows_as_they_are_appended(tmp_path: Path) -> None:
    """Rows are counted once, partial lines wait for their end, errors are counted."""
    tail = SampleTail(tmp_path)
    tail.poll(now=100.0)
    assert tail.requests == 0  # no file yet
    path = tmp_path / "samples-0.csv"
    path.write_text(
        HEAD + "99.0,10.0,/v1/infer,200,,5,,,\n99.1,30.0,/v1/infer,502,http_502,5,,,\n99.2,20"
    )
    tail.poll(now=100.0)
    assert (tail.requests, tail.errors) == (2, 1)
    with path.open("a") as handle:
        handle.write(".0,/v1/infer,200,,5,,,\n")
    (tmp_path / "samples-1.csv").write_text(HEAD + "98.5,5.0,/v1/infer,200,,5,0.1,,\n")
    tail.poll(now=100.0)
    assert (tail.requests, tail.errors) == (4, 1)
    assert tail.first_start == 98.5
    assert tail.window_p95() == 30.0
    tail.poll(now=200.0)
    assert tail.window_p95() is None  # everything fell out of the 5 s window
    tail.close()


@pytest.mark.parametrize("before", ["", "start,late"], ids=["empty", "half-header"])
def test_tail_skips_a_header_written_after_the_file_was_opened(tmp_path: Path, before: str) -> None:
    """A samples file seen before its header was written is read once the header is complete."""
    tail = SampleTail(tmp_path)
    path = tmp_path / "samples-0.csv"
    path.write_text(before)
    tail.poll(now=100.0)
    path.write_text(HEAD + "99.0,10.0,/v1/infer,200,,5,,,\n")
    tail.poll(now=100.0)
    assert (tail.requests, tail.errors) == (1, 0)
    tail.close()


def test_locust_is_bounded_and_records_samples(tmp_path: Path) -> None:
    """The command is headless, time-bounded, and points the recorder at the run directory."""
    chosen = adjusted(SCENARIOS["smoke"], duration_s=12.4, users=4, rate_rps=10)
    command = locust_command(chosen, "http://127.0.0.1:9", tmp_path / "s.csv", processes=3)
    joined = " ".join(command)
    assert "--headless" in command and "--run-time 12s" in joined and "--stop-timeout 5" in joined
    assert f"--lg-samples {tmp_path / 's.csv'}" in joined and "--lg-rps-per-user 2.5" in joined
    assert command[command.index("-f") + 2] == "InferUser"
    assert "--processes 3" in joined


def test_open_model_processes_split_the_schedule(tmp_path: Path) -> None:
    """Each generator process gets its index, the stages, and its own files."""
    chosen = SCENARIOS["spike"]
    share = open_shares(2, 1024)[1]
    command = open_model_command(chosen, "http://127.0.0.1:9", tmp_path, share)
    joined = " ".join(command)
    assert "--stages 15:100,10:800,20:100" in joined
    assert "--index 1 --of 2" in joined
    assert str(tmp_path / "samples-1.csv") in joined
    assert "--max-in-flight 512" in joined


def test_merge_orders_every_process_rows_by_start(tmp_path: Path) -> None:
    """Merged samples hold each process's rows once, in start order."""
    (tmp_path / "samples-0.csv").write_text(HEAD + "3.0,1,a,200,,1,,,\n1.0,1,a,200,,1,,,\n")
    (tmp_path / "samples-1.csv").write_text(HEAD + "2.0,1,a,200,,1,,,\n")
    merged = merge_samples(tmp_path, tmp_path / "merged.csv")
    starts = [line.split(",")[0] for line in merged.read_text().splitlines()[1:]]
    assert starts == ["1.0", "2.0", "3.0"]


def test_merge_without_samples_is_a_generator_error(tmp_path: Path) -> None:
    """No rows at all means the generator failed, said plainly."""
    with pytest.raises(LoadGeneratorError, match="no samples"):
        merge_samples(tmp_path, tmp_path / "merged.csv")


@pytest.mark.parametrize(
    ("name", "protocol", "model", "expected"),
    [
        ("smoke", "openai", "m1", ["--lg-model", "m1"]),
        ("smoke", "openai", None, ["--lg-model", LAUNCHED_STACK_MODEL]),
        ("smoke", "infer", "m1", []),
        ("spike", "openai", "m1", ["--model", "m1"]),
        ("spike", "openai", None, ["--model", LAUNCHED_STACK_MODEL]),
        ("spike", "infer", "m1", []),
    ],
    ids=["locust", "locust-default", "locust-infer", "open", "open-default", "open-infer"],
)
def test_generators_are_told_the_model_of_openai_bodies(
    tmp_path: Path, name: str, protocol: Protocol, model: str | None, expected: list[str]
) -> None:
    """OpenAI runs pass the model (the launched stack's when none is given); infer runs none."""
    chosen = adjusted(SCENARIOS[name], protocol=protocol)
    if name == "smoke":
        command = locust_command(chosen, "http://127.0.0.1:9", tmp_path / "s.csv", model=model)
    else:
        share = open_shares(1, 1024)[0]
        command = open_model_command(chosen, "http://127.0.0.1:9", tmp_path, share, model=model)
    options = [a for a in command if a in ("--model", "--lg-model")]
    assert options == expected[:1]
    if expected:
        assert command[command.index(expected[0]) + 1] == expected[1]


def test_responses_of_every_process_are_merged_mid_run(tmp_path: Path) -> None:
    """Notes of all processes, in time order; a line still being written waits for its end."""
    (tmp_path / "responses-11.jsonl").write_text(
        '{"kind":"failure","t":5.0,"route":"/r","status":0,"error":"Timeout","body":""}\n'
        '{"kind":"scanned","non_2xx":3,"sampled_2xx":1}\n'
    )
    (tmp_path / "responses-12.jsonl").write_text(
        '{"kind":"failure","t":2.0,"route":"/r","status":503,"error":"http_503","body":"x"}\n'
        '{"kind":"secret","t":2.0,"route":"/r","status":503,"where":"bo'
    )
    notes = read_responses(tmp_path)
    assert [f.t for f in notes.failures] == [2.0, 5.0]
    assert notes.secrets == ()
    assert (notes.non_2xx_scanned, notes.sampled_2xx_scanned) == (3, 1)
    with (tmp_path / "responses-12.jsonl").open("a") as handle:
        handle.write('dy"}\n')
    assert [hit.where for hit in read_responses(tmp_path).secrets] == ["body"]

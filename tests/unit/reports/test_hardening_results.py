"""Result files are input: a crafted one is refused in one line, never hangs or links away;
non-finite gateway metrics survive save and load."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.cli import main
from harness.run.scrape import MetricsScraper
from reports.charts import Series, line_chart, nice_ticks
from reports.result import load_result
from reports.tune_result import TUNE_FILE

if TYPE_CHECKING:
    from tests.unit.conftest import MakeResult

ROOT = Path(__file__).resolve().parents[3]
METRICS = b"""# TYPE gateway_queue_ratio gauge
gateway_queue_ratio NaN
# TYPE gateway_budget_seconds gauge
gateway_budget_seconds +Inf
# TYPE gateway_floor gauge
gateway_floor -Inf
"""


def report(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`loadgate report PATH` in this process: exit code, stdout, stderr."""
    code = main(["report", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


Crafted = Callable[..., Path]


@pytest.fixture
def crafted(tmp_path: Path, make_result: MakeResult) -> Crafted:
    """`crafted(**changes)`: a result.json that is the sample with `changes` applied to its
    JSON (`timeline_t` sets every timeline point's `t`)."""

    def write(**changes: Any) -> Path:
        document = make_result().model_dump(mode="json")
        for key, value in changes.items():
            if key == "timeline_t":
                for point in document["timeline"]:
                    point["t"] = value
            else:
                document[key] = value
        path = tmp_path / "result.json"
        path.write_text(json.dumps(document))
        return path

    return write


@pytest.fixture
def metrics_url() -> Iterator[str]:
    """A real HTTP server whose /metrics holds NaN, +Inf and -Inf gauges."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(METRICS)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()


def test_non_finite_metrics_survive_save_and_load(
    metrics_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], make_result: MakeResult
) -> None:
    """NaN and ±Inf scraped from /metrics are saved as JSON strings and read back as floats."""
    scraper = MetricsScraper(metrics_url, interval_s=0.05)
    scraper.start()
    deadline = time.monotonic() + 10  # two scrapes, however loaded the machine
    while scraper.summary().scrapes < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    metrics = scraper.stop()
    assert metrics.available and metrics.scrapes >= 2
    make_result().model_copy(update={"gateway_metrics": metrics}).save(tmp_path)
    loaded = load_result(tmp_path).gateway_metrics
    assert loaded is not None
    assert math.isnan(loaded.series["gateway_queue_ratio"].last)
    assert loaded.series["gateway_budget_seconds"].max == math.inf
    assert loaded.series["gateway_floor"].first == -math.inf
    json.loads((tmp_path / "result.json").read_text(), parse_constant=pytest.fail)
    code, _, err = report(tmp_path, capsys)
    assert code == 0, err


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"run_id": "javascript:alert(1)"}, "run_id: String should match", id="js"),
        pytest.param({"run_id": "../../etc"}, "run_id: String should match", id="dotdot"),
        pytest.param({"limits": {}}, "limits: Value error, must hold exactly", id="no-limits"),
        pytest.param({"started_at": 1e20}, "started_at: Input should be less", id="1e20"),
        pytest.param({"started_at": -1e20}, "started_at: Input should be greater", id="-1e20"),
        pytest.param({"finished_at": math.inf}, "finished_at: Input should be a finite", id="inf"),
        pytest.param(
            {"timeline_t": math.inf}, "timeline.0.t: Input should be a finite", id="t-inf"
        ),
        pytest.param({"timeline_t": "NaN"}, "timeline.0.t: Input should be a finite", id="t-nan"),
        pytest.param({"timeline_t": 5e18}, "timeline.0.t: Input should be less", id="t-5e18"),
    ],
)
def test_crafted_result_files_are_refused_in_one_line(
    changes: dict[str, Any],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    crafted: Crafted,
) -> None:
    """Unsafe ids, missing limits, non-finite or absurd times: exit 2, one line, no report."""
    code, _, err = report(crafted(**changes), capsys)
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "report.html").exists()


def test_a_non_utf8_result_file_is_refused(tmp_path: Path, make_result: MakeResult) -> None:
    """`python -m harness report` on a file with a stray byte: exit 2, one line naming it."""
    path = tmp_path / "result.json"
    path.write_bytes(make_result().model_dump_json().encode().replace(b"smoke", b"sm\xffke"))
    done = subprocess.run(
        [sys.executable, "-m", "harness", "report", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not UTF-8: byte 0xff at offset" in done.stderr
    assert "Traceback" not in done.stderr


def tune_document(run_id: str, tune_id: str = "tune-20260101-000000-abcd") -> dict[str, Any]:
    """A tune.json with one baseline point pointing at `run_id`."""
    point = {"role": "baseline", "cpus": 1.0, "memory_bytes": 512, "passed": True}
    return {
        "tune_id": tune_id,
        "service": "gateway",
        "scenario": "steady",
        "users": 8,
        "target_rps": None,
        "duration_s": 15.0,
        "budgets": {},
        "compose_file": "docker-compose.prod.yml",
        "started_at": 1_767_225_600.0,
        "finished_at": 1_767_225_700.0,
        "margins": {},
        "points": [{**point, "reason": "", "run_id": run_id}],
        "stop_reason": "done",
        "recommendation": None,
        "confirmed": False,
        "compose_diff": "",
        "written": False,
    }


@pytest.mark.parametrize(
    ("document", "where"),
    [
        pytest.param(tune_document("javascript:alert(1)"), "points.0.run_id", id="js-link"),
        pytest.param(tune_document("../../../home"), "points.0.run_id", id="dotdot-link"),
        pytest.param(tune_document("ok", tune_id="a/b"), "tune_id", id="tune-id-path"),
    ],
)
def test_tune_reports_never_link_outside_the_tune(
    document: dict[str, Any], where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run id that is a URL or a path is refused before tune.html links to it."""
    (tmp_path / TUNE_FILE).write_text(json.dumps(document))
    code, _, err = report(tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1 and f"{where}: String should match" in err
    assert not (tmp_path / "tune.html").exists()


def test_a_plain_tune_file_still_renders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The negative control: the same tune.json with a plain run id renders and links to it."""
    (tmp_path / TUNE_FILE).write_text(json.dumps(tune_document("20260101-000000-abcd")))
    code, _, err = report(tmp_path, capsys)
    assert code == 1, err  # not confirmed
    assert 'href="20260101-000000-abcd/report.html"' in (tmp_path / "tune.html").read_text()


@pytest.mark.parametrize(
    ("low", "high"),
    [
        pytest.param(5e18, 5e18, id="huge-equal"),
        pytest.param(0.0, 5e18, id="huge-range"),
        pytest.param(1e300, 1e300 + 1e290, id="narrow-at-huge-magnitude"),
        pytest.param(0.0, math.inf, id="inf"),
        pytest.param(math.nan, 1.0, id="nan"),
        pytest.param(-1e-300, 1e-300, id="tiny"),
        pytest.param(3.0, -3.0, id="reversed"),
    ],
)
def test_ticks_are_bounded_whatever_the_range(low: float, high: float) -> None:
    """nice_ticks ends with at most 12 ticks for any input, the pathological ones included."""
    ticks = nice_ticks(low, high)
    assert 2 <= len(ticks) <= 12
    assert all(math.isfinite(t) for t in ticks[:-1])


def test_non_finite_points_are_drawn_as_gaps() -> None:
    """NaN and Inf values split a line instead of breaking the chart."""
    svg = line_chart(
        "x", [Series("s", [(0.0, 1.0), (1.0, math.nan), (2.0, math.inf), (3.0, 2.0)])], "y"
    )
    assert svg.count("<polyline") == 2 and "nan" not in svg and "inf" not in svg

"""Verdicts a user can trust, as a user gets them: `loadgate run` against servers that are wrong.

A server that answers 400 to everything must never pass: the load is stopped within seconds and
the run fails with the status and the start of the body, whatever the scenario and protocol.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.conftest import loadgate, only_run_dir

INVALID_MODEL = {"error": {"message": "Invalid model name passed in model=None", "type": "400"}}


class _Refuses(BaseHTTPRequestHandler):
    """Answers 400 to every POST (as an OpenAI-compatible proxy does to a body without a valid
    model); GET answers 200, so its readiness path looks healthy."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps(INVALID_MODEL).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "only-model"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def refusing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("scenario", "protocol"),
    [
        pytest.param("smoke", "infer", id="smoke-infer"),
        pytest.param("steady", "infer", id="steady-infer"),
        pytest.param("smoke", "openai", id="smoke-openai"),
        pytest.param("steady", "openai", id="steady-openai"),
        pytest.param("spike", "infer", id="spike-open-model"),
    ],
)
def test_a_server_that_refuses_everything_fails_fast_with_the_cause(
    refusing_server: str, tmp_path: Path, scenario: str, protocol: str
) -> None:
    """No --budgets: exit 1 within seconds, the status and body on the verdict line, the
    result and report of what ran kept."""
    started = time.monotonic()
    done = loadgate(
        "run",
        "--target",
        refusing_server,
        "--scenario",
        scenario,
        "--protocol",
        protocol,
        "--output-dir",
        str(tmp_path),
        "-q",
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    route = "/v1/chat/completions" if protocol == "openai" else "/v1/infer"
    assert f"verdict: FAIL: every request (POST {route}) answered 400" in done.stdout
    assert "Invalid model name" in done.stdout
    assert elapsed < 25, f"took {elapsed:.0f} s"  # steady alone runs 30 s, spike 45 s
    run_dir = only_run_dir(tmp_path)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["errors"]["rate"] == 1.0 and result["verdict"] == "fail"
    assert (run_dir / "report.html").is_file()

"""Which model OpenAI bodies name, asked of a real HTTP server on 127.0.0.1 when it must be."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr

from harness.errors import UsageError
from harness.options import run_settings as _run_settings
from harness.parser import build_parser
from harness.run.model_choice import LAUNCHED_STACK_MODEL, resolve_model
from harness.settings import ExternalTarget, RunSettings
from scenarios.catalog import SCENARIOS, Protocol, adjusted

TOKEN = "lg-models-token-31f9"


class ModelList(BaseHTTPRequestHandler):
    """Answers GET /v1/models with `server.answer` (bytes) to a caller with the right
    credentials, 401 to any other."""

    server: ModelServer

    def do_GET(self) -> None:
        authorised = self.headers.get("Authorization") == f"Bearer {TOKEN}"
        team = self.headers.get("X-Team") == "perf"
        status, body = (200, self.server.answer) if authorised and team else (401, b"{}")
        self.send_response(status if self.path == "/v1/models" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


class ModelServer(ThreadingHTTPServer):
    answer = b""


@pytest.fixture
def server() -> Iterator[ModelServer]:
    httpd = ModelServer(("127.0.0.1", 0), ModelList)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def settings(
    tmp_path: Path, protocol: Protocol = "openai", url: str | None = None, model: str | None = None
) -> RunSettings:
    target = None
    if url is not None:
        target = ExternalTarget(url, SecretStr(TOKEN), {"X-Team": "perf"})
    return RunSettings(
        scenario=adjusted(SCENARIOS["smoke"], protocol=protocol),
        project_root=tmp_path,
        compose_file=tmp_path / "compose.yml",
        output_dir=tmp_path,
        target=target,
        model=model,
    )


def url_of(server: ModelServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def listing(*names: str) -> bytes:
    return json.dumps(
        {"object": "list", "data": [{"id": n, "object": "model"} for n in names]}
    ).encode()


def test_the_single_listed_model_is_used(server: ModelServer, tmp_path: Path) -> None:
    """A target listing one model (asked with its token and headers) gets that model."""
    server.answer = listing("llama-3-70b")
    assert resolve_model(settings(tmp_path, url=url_of(server))) == "llama-3-70b"


def test_a_given_model_wins_without_asking(tmp_path: Path) -> None:
    """--model is used as given; the target (here unreachable) is not asked."""
    assert resolve_model(settings(tmp_path, url="http://127.0.0.1:9", model="m1")) == "m1"


def test_a_launched_stack_names_the_mock_model(tmp_path: Path) -> None:
    """Without a target, the model is the mock provider's."""
    assert resolve_model(settings(tmp_path)) == LAUNCHED_STACK_MODEL == "mock-gpt"


def test_the_infer_protocol_names_no_model(tmp_path: Path) -> None:
    """/v1/infer bodies carry no model, whatever --model says."""
    assert resolve_model(settings(tmp_path, protocol="infer", model="m1")) is None


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(listing("a", "b", "c"), "lists 3 models (a, b, c): choose one", id="several"),
        pytest.param(listing(), "lists no model", id="none"),
        pytest.param(b"<html>models</html>", "did not answer an OpenAI model list", id="html"),
        pytest.param(b'{"data": [{"name": "x"}]}', "did not answer an OpenAI model", id="shape"),
        pytest.param(listing(*(f"m{i}" for i in range(25))), "lists 25 models (m0, m1,", id="many"),
        pytest.param(b"[" * 100_000, "did not answer an OpenAI model list", id="deep-json"),
        pytest.param(listing("a\x00b"), "not printable ASCII", id="nul-in-a-name"),
        pytest.param(listing("x\n::error::spoofed"), "not printable ASCII", id="newline"),
        pytest.param(listing("\x1b[2Jm"), "not printable ASCII", id="ansi-escape"),
        pytest.param(listing("m" * 300), "over 256 characters", id="long-name"),
        pytest.param(b" " * (2 * 1024 * 1024), "more than 1024 KiB", id="huge-answer"),
    ],
)
def test_a_list_that_does_not_name_one_model_is_refused(
    server: ModelServer, tmp_path: Path, answer: bytes, message: str
) -> None:
    """Several, none or no OpenAI list at all: one line that names --model."""
    server.answer = answer
    with pytest.raises(UsageError) as caught:
        resolve_model(settings(tmp_path, url=url_of(server)))
    text = str(caught.value)
    assert message in text and "--model" in text and "\n" not in text
    assert "m10" not in text  # at most ten names shown
    assert TOKEN not in text


def test_a_refusal_by_the_target_is_said(server: ModelServer, tmp_path: Path) -> None:
    """A target that refuses the credentials: its status, and --model."""
    server.answer = listing("x")
    without_token = dataclasses.replace(settings(tmp_path), target=ExternalTarget(url_of(server)))
    with pytest.raises(UsageError, match=r"answered 401 \(\{\}\): check --target.*--model"):
        resolve_model(without_token)


def test_an_unreachable_target_is_said(tmp_path: Path) -> None:
    """Nothing listening: the target could not be asked, and --model."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UsageError, match=r"could not be asked \(ConnectError\).*--model"):
        resolve_model(settings(tmp_path, url=f"http://127.0.0.1:{port}"))


def test_model_option_reaches_the_run_settings(tmp_path: Path) -> None:
    """`--model` is carried into RunSettings.model; without it the field is unset."""
    parser = build_parser()
    given = parser.parse_args(["run", "--protocol", "openai", "--model", "m7"])
    assert _run_settings(given).model == "m7"
    assert _run_settings(parser.parse_args(["run"])).model is None


def test_a_target_url_ending_in_v1_gets_a_hint(server: ModelServer, tmp_path: Path) -> None:
    """The OpenAI SDK's habit (`.../v1`) doubles the path: the refusal says so."""
    with pytest.raises(UsageError, match=r"ends in /v1: give the base URL"):
        resolve_model(settings(tmp_path, url=url_of(server) + "/v1"))

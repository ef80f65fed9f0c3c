"""The readiness probe: once a second, 1 s timeout, a new connection each time, against a real
HTTP server on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.run.ready_probe import Probe, ReadinessProbe, readiness_record


class _Ready(BaseHTTPRequestHandler):
    delay_s = 0.0
    drip_s = 0.0
    status = 200

    def do_GET(self) -> None:
        time.sleep(type(self).delay_s)
        self.send_response(type(self).status)
        body = b"ready!" if type(self).drip_s else b""
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(type(self).drip_s)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Ready]]]:
    handler = type("Handler", (_Ready,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/ready", handler
    httpd.shutdown()
    httpd.server_close()


def probed(probe: ReadinessProbe, count: int) -> list[Probe]:
    """The probes once `count` were made (or 10 s passed: a loaded machine is slow, not wrong)."""
    probe.start()
    deadline = time.monotonic() + 10
    while probe.count < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return probe.stop()


def test_a_ready_gateway_passes_every_probe(server: tuple[str, type[_Ready]]) -> None:
    """Three probes at a tenth of a second apart all answer 200."""
    url, _ = server
    probe = ReadinessProbe(url, interval_s=0.1)
    probes = probed(probe, 3)
    assert len(probes) >= 3 and all(p.ok for p in probes)


def test_a_readiness_path_slower_than_the_timeout_fails(server: tuple[str, type[_Ready]]) -> None:
    """A /ready that takes 0.5 s against a 0.2 s timeout is a timeout, as for a kubelet."""
    url, handler = server
    handler.delay_s = 0.5
    probe = ReadinessProbe(url, interval_s=0.1, timeout_s=0.2)
    probes = probed(probe, 1)
    assert probes and probes[0].outcome == "timeout" and not probes[0].ok


def test_a_refused_connection_is_a_failure() -> None:
    """Nothing listening: the probe records the connection error."""
    probe = ReadinessProbe("http://127.0.0.1:9/ready", interval_s=0.1)
    probes = probed(probe, 1)
    assert probes and probes[0].outcome == "ConnectError"


def test_the_record_leaves_out_probes_of_a_deliberate_drain() -> None:
    """Probes from SIGTERM on are excluded; the first failure says when and how."""
    probes = [
        Probe(100.0, 2.0, "200"),
        Probe(101.0, 1000.0, "timeout"),
        Probe(102.0, 3.0, "200"),
        Probe(103.0, 1.0, "503"),
    ]
    record = readiness_record("/ready", probes, load_started_at=99.0, drain_from=103.0)
    assert (record.probes, record.failures, record.excluded) == (3, 1, 1)
    assert record.first_failure == "timeout after 1 s at 2.0 s into the load"
    assert record.latency_max_ms == 1000.0


def test_any_status_a_kubelet_accepts_passes(server: tuple[str, type[_Ready]]) -> None:
    """204 is ready for a kubelet (200 to 399), and so for loadgate."""
    url, handler = server
    handler.status = 204
    probe = ReadinessProbe(url, interval_s=0.1)
    probes = probed(probe, 1)
    assert probes and all(p.ok for p in probes)


def test_the_timeout_is_for_the_whole_probe(server: tuple[str, type[_Ready]]) -> None:
    """A body dripped a byte at a time, each read within the timeout, is a timeout in all."""
    url, handler = server
    handler.drip_s = 0.1
    probe = ReadinessProbe(url, interval_s=0.1, timeout_s=0.3)
    probes = probed(probe, 1)
    assert probes and probes[0].outcome == "timeout" and probes[0].latency_ms > 300


def test_a_path_that_answers_404_throughout_is_missing_not_failing() -> None:
    """404 to every answered probe (a cold target's first probe timing out aside) is a missing
    path; one 200 among them is not."""
    from harness.run.ready_probe import path_missing

    cold = [Probe(0.0, 1200.0, "timeout"), Probe(1.0, 2.0, "404"), Probe(2.0, 2.0, "404")]
    assert path_missing(cold)
    assert not path_missing([*cold, Probe(3.0, 2.0, "200")])
    assert not path_missing([Probe(0.0, 1200.0, "timeout")])

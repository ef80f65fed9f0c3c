"""The stack's view of a gateway's listening sockets, and its fast failure on the wrong port."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.stack.launch import ListenWatch, listening_sockets

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
TCP = (
    HEADER
    + "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001\n"
    + "   1: 0100007F:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001\n"
    + "   2: 0200000A:1F90 0300000A:C350 01 00000000:00000000 00:00000000 00000000 10001\n"
)
TCP6 = (
    HEADER
    + "   0: 00000000000000000000000001000000:1F41 00000000000000000000000000000000:0000 0A"
    + " 00000000:00000000 00:00000000 00000000 10001\n"
    + "   1: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A"
    + " 00000000:00000000 00:00000000 00000000 10001\n"
)


def fake_proc(tmp_path: Path, tcp: str, tcp6: str) -> Path:
    net = tmp_path / "42" / "net"
    net.mkdir(parents=True)
    (net / "tcp").write_text(tcp)
    (net / "tcp6").write_text(tcp6)
    return tmp_path


def test_listening_sockets_are_read_from_proc(tmp_path: Path) -> None:
    """State 0A only, v4 and v6, each with whether it is bound to the loopback alone."""
    proc = fake_proc(tmp_path, TCP, TCP6)
    assert listening_sockets(42, proc) == {(8080, False), (9090, True), (8001, True), (443, False)}


def test_unreadable_proc_says_nothing(tmp_path: Path) -> None:
    """No /proc/<pid>/net (a remote engine, a gone process): None, not an empty set."""
    assert listening_sockets(42, tmp_path) is None


@pytest.mark.parametrize(
    ("sockets", "exposed", "expected"),
    [
        pytest.param(
            {(8080, False)},
            [8080],
            "the gateway listens on 8080, not on 8000 (the image exposes 8080): "
            "pass --gateway-port 8080",
            id="elsewhere",
        ),
        pytest.param(
            {(8080, False), (9090, False)},
            [],
            "the gateway listens on 8080, 9090, not on 8000 (the image exposes no port): "
            "pass --gateway-port PORT",
            id="elsewhere-twice",
        ),
        pytest.param(
            {(8000, True)},
            [8000],
            "the gateway listens on 8000 on the loopback only, out of reach of the published "
            "port: make it listen on 0.0.0.0",
            id="loopback-only",
        ),
        pytest.param(
            {(8000, True), (43321, True), (8080, False)},
            [8000],
            "the gateway listens on 8000 on the loopback only, out of reach of the published "
            "port: make it listen on 0.0.0.0",
            id="loopback-only-beside-others",
        ),
    ],
)
def test_listening_elsewhere_is_named_after_the_grace(
    sockets: set[tuple[int, bool]], exposed: list[int], expected: str
) -> None:
    """Listening, but not reachably on the probed port, for 3 s: the reason and the fix."""
    watch = ListenWatch(8000, exposed)
    assert watch.problem(sockets, now=10.0) is None
    assert watch.problem(sockets, now=12.9) is None
    assert watch.problem(sockets, now=13.0) == expected


@pytest.mark.parametrize(
    "sockets",
    [
        pytest.param({(8000, False)}, id="on-the-port"),
        pytest.param({(8000, False), (9090, False)}, id="on-the-port-and-another"),
        pytest.param(set(), id="not-listening-yet"),
        pytest.param({(38517, True)}, id="only-dockers-dns-on-the-loopback"),
        pytest.param(None, id="unreadable"),
    ],
)
def test_a_gateway_on_its_port_or_still_starting_is_left_alone(
    sockets: set[tuple[int, bool]] | None,
) -> None:
    """Nothing to say while it listens on the probed port, listens nowhere yet, or is unseen."""
    watch = ListenWatch(8000, [8000])
    assert watch.problem(sockets, now=0.0) is None
    assert watch.problem(sockets, now=60.0) is None


def test_the_grace_restarts_when_the_port_opens() -> None:
    """An admin port first and the main one a little later is a normal start."""
    watch = ListenWatch(8000, [8000])
    assert watch.problem({(9090, False)}, now=0.0) is None
    assert watch.problem({(9090, False), (8000, False)}, now=2.0) is None
    assert watch.problem({(9090, False)}, now=4.0) is None
    assert watch.problem({(9090, False)}, now=6.9) is None

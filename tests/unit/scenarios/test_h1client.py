"""The generator's HTTP/1.1 client against real loopback servers that answer as scripted."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import uvloop

from scenarios.h1client import MAX_CONNECTING, TOO_LARGE, Answer, H1Client, H1Error, RawHeaders

Action = Callable[[asyncio.StreamWriter], Awaitable[None]]
JSON = b'{"ok":true}'


def answer(body: bytes = JSON, status: str = "200 OK", *headers: str) -> bytes:
    """A whole answer with Content-Length."""
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def send(data: bytes, close: bool = False) -> Action:
    async def act(writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        if close:
            writer.close()

    return act


def hang() -> Action:
    async def act(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    return act


class ScriptedServer:
    """Answers each request with the next action; counts connections and keeps the requests."""

    def __init__(self, *actions: Action) -> None:
        self.actions = list(actions)
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.actions:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                await self.actions.pop(0)(writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


async def exchange(
    server: ScriptedServer, count: int = 1, timeout_s: float = 5.0, **options: Any
) -> list[Answer | H1Error]:
    """`count` POSTs one after the other; each answer, or the error it ended with."""
    results: list[Answer | H1Error] = []
    async with H1Client(f"http://127.0.0.1:{server.port}", 8, timeout_s, **options) as client:
        request = client.prepare("/v1/infer", {"Content-Type": "application/json"}, b'{"a":1}')
        for _ in range(count):
            try:
                results.append(await client.post(request))
            except H1Error as error:
                results.append(error)
    return results


def only_answers(results: list[Answer | H1Error]) -> list[Answer]:
    assert all(isinstance(r, Answer) for r in results), results
    return [r for r in results if isinstance(r, Answer)]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"], ids=["asyncio", "uvloop"])
def test_content_length_answers_reuse_one_kept_alive_connection(loop: str) -> None:
    """Three answers with Content-Length over one connection, the request sent whole."""

    async def scenario() -> tuple[list[Answer | H1Error], ScriptedServer]:
        async with ScriptedServer(*[send(answer())] * 3) as server:
            return await exchange(server, 3), server

    results, server = uvloop.run(scenario()) if loop == "uvloop" else run(scenario())
    answers = only_answers(results)
    assert [(a.status, a.body) for a in answers] == [(200, JSON)] * 3
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /v1/infer HTTP/1.1\r\nHost: 127.0.0.1:")
    assert server.requests[0].endswith(b'Content-Length: 7\r\n\r\n{"a":1}')
    assert (b"Content-Length", b"11") in list(answers[0].headers)


def test_chunked_answer_is_read_whole() -> None:
    """A chunked answer is joined; the connection is kept for the next request."""
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b'4\r\n{"ok\r\n7\r\n":true}\r\n0\r\n\r\n'

    async def scenario() -> tuple[list[Answer | H1Error], int]:
        async with ScriptedServer(send(chunked), send(answer())) as server:
            return await exchange(server, 2), server.connections

    results, connections = run(scenario())
    assert [a.body for a in only_answers(results)] == [JSON, JSON]
    assert connections == 1


@pytest.mark.parametrize(
    "first",
    [send(answer(), close=True), send(answer(b"", "200 OK", "Connection: close"), close=True)],
    ids=["closed-without-saying", "connection-close"],
)
def test_a_connection_the_server_closed_is_not_reused(first: Action) -> None:
    """After a server closes (saying so or not), the next request goes on a new connection."""

    async def scenario() -> tuple[list[Answer | H1Error], int]:
        async with ScriptedServer(first, send(answer())) as server:
            return await exchange(server, 2), server.connections

    results, connections = run(scenario())
    assert [a.status for a in only_answers(results)] == [200, 200]
    assert connections == 2


def test_an_answer_without_length_ends_with_its_connection() -> None:
    """HTTP/1.0 style: no length, the body is what came before the close."""
    old = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + JSON

    async def scenario() -> list[Answer | H1Error]:
        async with ScriptedServer(send(old, close=True)) as server:
            return await exchange(server)

    assert [(a.status, a.body) for a in only_answers(run(scenario()))] == [(200, JSON)]


def test_a_redirect_is_an_answer_never_followed() -> None:
    """A 302 comes back as such; its Location is never requested."""
    redirect = answer(b"", "302 Found", "Location: /elsewhere")

    async def scenario() -> tuple[list[Answer | H1Error], ScriptedServer]:
        async with ScriptedServer(send(redirect), send(answer())) as server:
            return await exchange(server), server

    results, server = run(scenario())
    answers = only_answers(results)
    assert answers[0].status == 302
    assert answers[0].headers.value(b"location") == b"/elsewhere"
    assert len(server.requests) == 1


def test_a_silent_server_times_out_within_the_timeout() -> None:
    """No answer: `Timeout` after about the timeout, and the connection is dropped."""

    async def scenario() -> tuple[list[Answer | H1Error], float]:
        async with ScriptedServer(hang()) as server:
            started = time.monotonic()
            results = await exchange(server, timeout_s=0.3)
            return results, time.monotonic() - started

    results, elapsed = run(scenario())
    assert isinstance(results[0], H1Error)
    assert results[0].kind == "Timeout"
    assert 0.3 <= elapsed < 1.5


def test_a_refused_connection_is_a_connector_error() -> None:
    """Nobody listening: `ClientConnectorError`, at once."""

    async def scenario() -> Answer | H1Error:
        async with ScriptedServer() as server:
            port = server.port
        async with H1Client(f"http://127.0.0.1:{port}", 1, 5) as client:
            try:
                return await client.post(client.prepare("/", {}, b""))
            except H1Error as error:
                return error

    error = run(scenario())
    assert isinstance(error, H1Error)
    assert error.kind == "ClientConnectorError"


def test_a_server_closing_mid_answer_is_a_disconnect() -> None:
    """Half an answer and a close: `ServerDisconnectedError` with the status it had sent."""
    half = answer(b"x" * 100)[:-50]

    async def scenario() -> list[Answer | H1Error]:
        async with ScriptedServer(send(half, close=True)) as server:
            return await exchange(server)

    (error,) = run(scenario())
    assert isinstance(error, H1Error)
    assert (error.kind, error.status) == ("ServerDisconnectedError", 200)


def test_a_malformed_answer_is_a_response_error() -> None:
    """Bytes that are not HTTP: `ClientResponseError`."""

    async def scenario() -> list[Answer | H1Error]:
        async with ScriptedServer(send(b"SMTP ready\r\n\r\n")) as server:
            return await exchange(server)

    (error,) = run(scenario())
    assert isinstance(error, H1Error)
    assert error.kind == "ClientResponseError"


def test_an_oversized_answer_is_cut_and_named() -> None:
    """A body past the cap ends the exchange with `answer_too_large`, its status kept."""
    huge = b"HTTP/1.1 500 Oops\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 200_000

    async def scenario() -> list[Answer | H1Error]:
        async with ScriptedServer(send(huge)) as server:
            return await exchange(server, max_body_bytes=64 * 1024)

    (error,) = run(scenario())
    assert isinstance(error, H1Error)
    assert (error.kind, error.status) == (TOO_LARGE, 500)


class Lines:
    def __init__(self, headers: RawHeaders) -> None:
        self.content_type = headers.value(b"content-type")
        self.lines: list[bytes] = []

    def line(self, line: bytes) -> None:
        self.lines.append(line)


def stream_answer(*pieces: bytes) -> list[Action]:
    """An event stream in chunks, each piece written on its own, a little apart."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
    head += b"Transfer-Encoding: chunked\r\n\r\n"

    async def act(writer: asyncio.StreamWriter) -> None:
        writer.write(head)
        for piece in pieces:
            writer.write(b"%x\r\n%b\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")

    return [act]


async def stream(server: ScriptedServer, **options: Any) -> Answer | H1Error:
    async with H1Client(f"http://127.0.0.1:{server.port}", 1, 5, **options) as client:
        try:
            return await client.post(client.prepare("/v1/chat", {}, b"{}"), Lines)
        except H1Error as error:
            return error


def test_an_event_stream_is_handed_over_line_by_line() -> None:
    """Lines split across chunks are joined; each keeps its newline, the last may lack one."""
    pieces = (b'data: {"content":"a"}\n\nda', b'ta: {"content":"b"}\n\n', b"data: [DONE]")

    async def scenario() -> Answer | H1Error:
        async with ScriptedServer(*stream_answer(*pieces)) as server:
            return await stream(server)

    result = run(scenario())
    assert isinstance(result, Answer)
    assert isinstance(result.sink, Lines)
    assert result.body == b""
    assert result.sink.content_type == b"text/event-stream; charset=utf-8"
    assert result.sink.lines == [
        b'data: {"content":"a"}\n',
        b"\n",
        b'data: {"content":"b"}\n',
        b"\n",
        b"data: [DONE]",
    ]


def test_an_endless_stream_is_cut() -> None:
    """A stream past its cap ends with `answer_too_large`; its lines were never all kept."""
    pieces = tuple(b"data: %d\n" % i * 100 for i in range(50))

    async def scenario() -> Answer | H1Error:
        async with ScriptedServer(*stream_answer(*pieces)) as server:
            return await stream(server, max_stream_bytes=10_000)

    result = run(scenario())
    assert isinstance(result, H1Error)
    assert (result.kind, result.status) == (TOO_LARGE, 200)


def test_only_a_200_event_stream_is_streamed() -> None:
    """An error answer that says event-stream is kept whole, like any other answer."""
    error = answer(b'{"error":"no"}', "500 Oops", "Content-Type: text/event-stream")

    async def scenario() -> Answer | H1Error:
        async with ScriptedServer(send(error)) as server:
            return await stream(server)

    result = run(scenario())
    assert isinstance(result, Answer)
    assert (result.status, result.body, result.sink) == (500, b'{"error":"no"}', None)


@pytest.mark.parametrize(
    ("header", "value"),
    [("X-Bad", "a\r\nInjected: 1"), ("Bad:Name", "v"), ("", "v")],
    ids=["crlf-in-value", "colon-in-name", "empty-name"],
)
def test_a_header_http_cannot_carry_is_refused(header: str, value: str) -> None:
    """No request is prepared with a header that would split or break its head."""
    client = H1Client("http://127.0.0.1:1", 1, 1)
    with pytest.raises(ValueError, match="cannot carry"):
        client.prepare("/", {header: value}, b"")


@pytest.mark.parametrize(
    "url", ["ftp://host/", "127.0.0.1:8000", "http://"], ids=["ftp", "no-scheme", "no-host"]
)
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    """Only http:// and https:// URLs with a host make a client."""
    with pytest.raises(ValueError, match="not an http"):
        H1Client(url, 1, 1)


def test_a_base_path_prefixes_every_request() -> None:
    """`http://host/prefix` sends `POST /prefix/route`."""
    client = H1Client("http://example.test/prefix/", 1, 1)
    assert client.prepare("/v1/infer", {}, b"").startswith(b"POST /prefix/v1/infer HTTP/1.1\r\n")
    assert b"\r\nHost: example.test\r\n" in client.prepare("/", {}, b"")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: the https test needs it to make a certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted"])
def test_https_answers_and_certificates_are_checked(
    certificate: tuple[Path, Path], trusted: bool
) -> None:
    """An https target answers over TLS; an untrusted certificate is refused by name."""
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert) if trusted else None)

    async def scenario() -> Answer | H1Error:
        server = await asyncio.start_server(
            ScriptedServer(send(answer()))._serve, "127.0.0.1", 0, ssl=server_context
        )
        port = server.sockets[0].getsockname()[1]
        try:
            async with H1Client(f"https://127.0.0.1:{port}", 1, 5, client_context) as client:
                try:
                    return await client.post(client.prepare("/", {}, b""))
                except H1Error as error:
                    return error
        finally:
            server.close()
            await server.wait_closed()

    result = run(scenario())
    if trusted:
        assert isinstance(result, Answer)
        assert (result.status, result.body) == (200, JSON)
    else:
        assert isinstance(result, H1Error)
        assert result.kind == "ClientConnectorCertificateError"


def test_many_requests_at_once_each_get_their_own_answer() -> None:
    """Concurrent requests open connections as needed and get the answers meant for them."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                await asyncio.sleep(0.01)
                writer.write(answer(body))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def scenario() -> list[bytes]:
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with H1Client(f"http://127.0.0.1:{port}", 16, 5) as client:
                requests = [client.prepare("/", {}, b"%d" % i) for i in range(40)]
                answers = await asyncio.gather(*(client.post(r) for r in requests))
                return [a.body for a in answers]
        finally:
            server.close()
            await server.wait_closed()

    assert run(scenario()) == [b"%d" % i for i in range(40)]


def test_a_burst_opens_at_most_max_connecting_connections_at_once() -> None:
    """100 requests at once: at most `MAX_CONNECTING` connection attempts in progress, and every
    request answered (those beyond waited for a connection)."""

    async def scenario() -> tuple[int, list[int]]:
        async with ScriptedServer(*[send(answer())] * 100) as server:
            client = H1Client(f"http://127.0.0.1:{server.port}", 200, 5)
            opening = peak = 0
            real_open = client._open

            async def counted(deadline: float) -> Any:
                nonlocal opening, peak
                opening += 1
                peak = max(peak, opening)
                try:
                    await asyncio.sleep(0.01)  # a server slow to accept
                    return await real_open(deadline)
                finally:
                    opening -= 1

            client._open = counted  # type: ignore[method-assign]
            async with client:
                request = client.prepare("/", {}, b"")
                answers = await asyncio.gather(*(client.post(request) for _ in range(100)))
            return peak, [a.status for a in answers]

    peak, statuses = run(scenario())
    assert peak == MAX_CONNECTING
    assert statuses == [200] * 100

"""The guarded outbound client (lti_tool/http.py): only allowed origins, no redirect elsewhere, a total deadline
however slowly an answer drips in, a size cap, private addresses only where registered, short reasons.

Servers here are raw sockets on 127.0.0.1, so they can misbehave exactly (drip bytes, lie about lengths).
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from lti_tool.http import (
    Allowed,
    DeadlineExceeded,
    GuardedClient,
    NoHttp,
    OutboundRefused,
    ResponseTooLarge,
    short_reason,
)


class RawServer:
    """A TCP server on 127.0.0.1 whose handler writes whatever bytes it likes; counts connections."""

    def __init__(self, answer: Callable[[socket.socket, bytes], None]) -> None:
        self.connections = 0
        self.requests: list[bytes] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer.connections += 1
                sock: socket.socket = self.request
                sock.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    data = sock.recv(65536)
                    if not data:
                        return
                    head += data
                outer.requests.append(head)
                with contextlib.suppress(OSError):  # the client hung up (deadline, size cap)
                    answer(sock, head)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def reply(
    status: str, body: bytes, headers: dict[str, str] | None = None
) -> Callable[[socket.socket, bytes], None]:
    def answer(sock: socket.socket, _head: bytes) -> None:
        lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return answer


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket, bytes], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(answer: Callable[[socket.socket, bytes], None]) -> RawServer:
        server = RawServer(answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def client(**limits: Any) -> GuardedClient:
    values: dict[str, Any] = {
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "total_timeout": 5.0,
        "max_bytes": 1024 * 1024,
    }
    values.update(limits)
    return GuardedClient(**values)


def test_a_request_to_an_allowed_origin_is_answered(serve: Any) -> None:
    server = serve(reply("200 OK", b'{"keys": []}', {"Content-Type": "application/json"}))
    response = client().get(server.url + "/jwks", allowed=Allowed.of([server.url]))
    assert response.status_code == 200 and response.json() == {"keys": []}


def test_another_origin_is_refused_before_connecting(serve: Any) -> None:
    platform = serve(reply("200 OK", b"{}"))
    elsewhere = serve(reply("200 OK", b"{}"))
    with pytest.raises(OutboundRefused, match="not on an allowed origin"):
        client().get(elsewhere.url + "/lineitems", allowed=Allowed.of([platform.url]))
    for url in ("http://127.0.0.1:99999/x", "http://127.0.0.1:abc/", "http://[::1", "file:///etc/passwd"):
        with pytest.raises(OutboundRefused):
            client().get(url, allowed=Allowed.of([platform.url]))
    assert elsewhere.connections == 0


def test_redirects_only_within_the_origin_and_only_for_get(serve: Any) -> None:
    elsewhere = serve(reply("200 OK", b"secret"))
    target = serve(reply("200 OK", b"{}"))
    away = serve(reply("302 Found", b"", {"Location": elsewhere.url + "/internal"}))
    with pytest.raises(OutboundRefused, match="another origin"):
        client().get(away.url + "/jwks", allowed=Allowed.of([away.url]))
    assert elsewhere.connections == 0
    answers = iter([reply("302 Found", b"", {"Location": "/moved"}), reply("200 OK", b"{}")])
    home = serve(lambda sock, head: next(answers)(sock, head))
    assert client().get(home.url + "/jwks", allowed=Allowed.of([home.url])).status_code == 200
    assert home.requests[1].startswith(b"GET /moved ")
    posted = serve(reply("307 Temporary Redirect", b"", {"Location": "/again"}))
    with pytest.raises(OutboundRefused, match="not followed"):
        client().post(posted.url + "/scores", data="{}", allowed=Allowed.of([posted.url]))
    assert target.connections == 0


def drip(headers_first: bool) -> Callable[[socket.socket, bytes], None]:
    """Answers one byte every 0.3 s for ever (a server holding the tool with a per-read timeout)."""

    def answer(sock: socket.socket, _head: bytes) -> None:
        if headers_first:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        else:
            sock.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(200):
            sock.sendall(b"x" if headers_first else b"X-Drip: y\r\n"[:1])
            time.sleep(0.3)

    return answer


@pytest.mark.parametrize("headers_first", [True, False])
def test_a_dripping_answer_ends_at_the_total_deadline(serve: Any, headers_first: bool) -> None:
    server = serve(drip(headers_first))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        client(read_timeout=1.0, total_timeout=1.5).get(server.url + "/", allowed=Allowed.of([server.url]))
    took = time.monotonic() - started
    assert 1.4 < took < 2.5, took  # the per-read timeout (1 s) alone would never end it


def test_an_answer_that_stops_after_its_headers_is_a_read_time_out(serve: Any) -> None:
    """requests reports a read time-out in the body as a ConnectionError; the grade worker would log "could not be
    reached (connection failed)" for a platform that received the score and was slow to finish its answer."""

    def stall(sock: socket.socket, _head: bytes) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n12345")
        time.sleep(1.5)

    server = serve(stall)
    with pytest.raises(requests.ReadTimeout) as caught:
        client(read_timeout=0.3).get(server.url + "/scores", allowed=Allowed.of([server.url]))
    assert not isinstance(caught.value, requests.ConnectionError)
    assert "read time-out" in str(caught.value)


def test_the_callers_deadline_is_kept(serve: Any) -> None:
    server = serve(drip(True))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        client(total_timeout=30).get(
            server.url + "/", allowed=Allowed.of([server.url]), deadline=time.monotonic() + 0.8
        )
    assert time.monotonic() - started < 2.0


def test_the_answer_is_cut_at_the_size_cap(serve: Any) -> None:
    big = b"x" * (3 * 1024 * 1024)
    announced = serve(reply("200 OK", big))
    with pytest.raises(ResponseTooLarge, match="announced"):
        client().get(announced.url + "/", allowed=Allowed.of([announced.url]))

    def unannounced(sock: socket.socket, _head: bytes) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        for _ in range(48):
            sock.sendall(b"y" * 65536)

    streamed = serve(unannounced)
    with pytest.raises(ResponseTooLarge, match="more than"):
        client().get(streamed.url + "/", allowed=Allowed.of([streamed.url]))
    bomb = gzip.compress(b"0" * (20 * 1024 * 1024))  # 20 MB in ~20 KB
    zipped = serve(reply("200 OK", bomb, {"Content-Encoding": "gzip"}))
    with pytest.raises(ResponseTooLarge):
        client().get(zipped.url + "/", allowed=Allowed.of([zipped.url]))


def test_private_addresses_only_where_the_platform_is_registered(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host name that resolves to a loopback address (DNS rebinding) is refused unless the operator listed it;
    a platform registered as 127.0.0.1 or localhost is reached there."""
    server = serve(reply("200 OK", b"{}"))
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "moodle.example.org" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    named = f"http://moodle.example.org:{server.port}"
    with pytest.raises(OutboundRefused, match="non-public address"):
        client().get(named + "/jwks", allowed=Allowed.of([named]))
    assert server.connections <= 1 and server.requests == []  # connected, nothing sent
    listed = client(private_hosts=frozenset({"moodle.example.org"}))
    assert listed.get(named + "/jwks", allowed=Allowed.of([named])).status_code == 200
    assert client().get(server.url + "/", allowed=Allowed.of([server.url])).status_code == 200
    local = f"http://localhost:{server.port}"
    assert client().get(local + "/", allowed=Allowed.of([local])).status_code == 200


def test_library_code_cannot_go_around_the_guard() -> None:
    with pytest.raises(OutboundRefused):
        NoHttp().get("http://127.0.0.1:9/")


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (
            {"Content-Type": "text/plain"},
            b"Incorrect score received",
            "400 Bad Request: Incorrect score received",
        ),
        (
            {"Content-Type": "application/json"},
            b'{"error": "invalid_scope", "error_description": "<b>no</b> grades\\nhere"}',
            "400 Bad Request: no grades here",
        ),
        (
            {"Content-Type": "text/html"},
            b"<html><body>" + b"internal secrets " * 200 + b"</body></html>",
            "400 Bad Request",
        ),
        ({"Content-Type": "text/plain"}, b"a" * 5000, "400 Bad Request: " + "a" * 120 + "…"),
    ],
)
def test_short_reason_never_echoes_a_body(headers: dict[str, str], body: bytes, expected: str) -> None:
    response = requests.Response()
    response.status_code = 400
    response.reason = "<script>x</script>"  # the platform's own phrase is not used
    response.headers.update(headers)
    response._content = body
    assert short_reason(response) == expected


@pytest.mark.parametrize(
    ("document", "unstorable"),
    [
        ({"name": "Zoë 😀", "roles": ["a", "b"], "n": 1, "x": None, "f": 1.5, "t": True}, False),
        ({"name": "a\x00b"}, True),
        ({"a\x00": "key"}, True),
        ({"deep": [{"x": ["\ud800"]}]}, True),
        ({"half": "\udfff"}, True),
        ({"text": "\\u0000"}, False),  # the six characters, no NUL
        ({"text": "\\\\u0000"}, False),
        ({"text": "\\\x00"}, True),  # a backslash, then a NUL
        ({"text": 'x"\x00'}, True),
        ({"text": "\\"}, False),
        ({1: "non-string key", "v": float("nan")}, False),
        ({"obj": object()}, False),  # nothing JSON can write: the loop looks
        ({"obj": object(), "s": "\x00"}, True),
    ],
)
def test_unstorable_text_anywhere_in_a_document(document: Any, unstorable: bool) -> None:
    from lti_tool.http import _walk_unstorable, holds_unstorable_text

    assert holds_unstorable_text(document) is unstorable
    assert _walk_unstorable(document) is unstorable  # the loop, for what the JSON encoder cannot write


def test_unstorable_text_in_a_document_nested_deeper_than_the_encoder_goes() -> None:
    from lti_tool.http import holds_unstorable_text

    deep: Any = "\x00"
    for _ in range(5000):
        deep = [deep]
    assert holds_unstorable_text({"deep": deep})
    assert not holds_unstorable_text({"deep": [[[[["fine"]]]]]})

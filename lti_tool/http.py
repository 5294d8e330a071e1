"""The one way out: every outbound request of the tool (platform key sets, token endpoint, AGS line items, scores
and results, NRPS, dynamic registration) goes through `GuardedClient.request`, which

- sends only to the origins it is given (`Allowed`: a platform's registered origins, or the origin of the
  registration endpoint a platform's configuration names), refusing anything else before connecting;
- follows a redirect only for GET and only within the same origin (at most MAX_REDIRECTS);
- connects to private, loopback or link-local addresses only for hosts registered there: an IP literal or
  `localhost` in the platform's registered URLs, or a host the operator lists in OUTBOUND_PRIVATE_HOSTS (an
  intranet Moodle). The address is checked on the connected socket, so a name that resolves to 127.0.0.1 at
  the last moment (DNS rebinding) is refused too;
- ends every request at a total deadline (HTTP_TOTAL_TIMEOUT, or the caller's), however slowly the answer
  drips in: a watchdog shuts the socket down when the time is up;
- reads at most `max_bytes` of the answer (HTTP_MAX_RESPONSE_BYTES; decoded size, so a compressed bomb is cut);
- ignores HTTP(S)_PROXY and .netrc from the environment (a proxy would hide the address the guard checks; an
  intranet CA bundle is still honoured through REQUESTS_CA_BUNDLE or SSL_CERT_FILE).

A refusal raises `OutboundRefused` (a `requests.RequestException`), the deadline `DeadlineExceeded` (a
`requests.Timeout`), so callers that handle requests' errors handle these. `short_reason()` is the one way an
upstream answer is summarised for people: the status, and a short, single-line, markup-free excerpt.
"""

from __future__ import annotations

import contextlib
import functools
import http
import ipaddress
import json as jsonlib
import logging
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests
import urllib3
from flask import Flask, current_app
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from .urls import Origin, origin_of

log = logging.getLogger(__name__)

USER_AGENT = "nama-lti/0.1 (LTI 1.3 tool)"
MAX_REDIRECTS = 3
CHUNK = 64 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class OutboundRefused(requests.RequestException):
    """The tool did not make (or finish) the request: the address, a redirect or the answer's size broke a rule."""


class ResponseTooLarge(OutboundRefused):
    pass


class DeadlineExceeded(requests.Timeout):
    """The request did not finish within its total time."""


@dataclass(frozen=True, slots=True)
class Allowed:
    """Where requests may go: these origins; private addresses only for `private_hosts`."""

    origins: frozenset[Origin]
    private_hosts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, urls: Iterable[str | None]) -> Allowed:
        """The origins of `urls` (malformed ones are left out). A host written as a private IP address or as
        `localhost` is registered there, so it may be reached there (the client adds OUTBOUND_PRIVATE_HOSTS)."""
        origins = frozenset(o for o in (origin_of(u) for u in urls if u) if o is not None)
        return cls(origins, frozenset(o.host for o in origins if _registered_private(o)))

    def permits(self, url: str) -> bool:
        origin = origin_of(url)
        return origin is not None and origin in self.origins

    def __str__(self) -> str:
        return " ".join(sorted(str(o) for o in self.origins)) or "(none)"


def _registered_private(origin: Origin) -> bool:
    if origin.host == "localhost" or origin.host.endswith(".localhost"):
        return True
    ip = origin.ip
    return ip is not None and not _is_global(ip)


def _is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def private_hosts(value: object) -> frozenset[str]:
    """OUTBOUND_PRIVATE_HOSTS as a set of lower-case host names (a list, or a string separated by spaces/commas)."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list | tuple | set | frozenset):
        return frozenset()
    return frozenset(str(v).strip().lower().rstrip(".") for v in value if str(v).strip())


@functools.lru_cache(maxsize=128)  # every launch asks twice; the answer depends only on the four URLs
def platform_allowed(*, issuer: str, auth_login_url: str, auth_token_url: str, jwks_url: str) -> Allowed:
    """A platform's registered origins: those of its issuer, login, token and key set URLs."""
    return Allowed.of((issuer, auth_login_url, auth_token_url, jwks_url))


# --- the request in flight: its rules, deadline and sockets (per thread) ------------------------------------


class _Flight:
    def __init__(self, allowed: Allowed, private: frozenset[str], deadline: float) -> None:
        self.allowed = allowed
        self.private_hosts = allowed.private_hosts | private
        self.deadline = deadline
        self.expired = False
        self.refused: str | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def __enter__(self) -> _Flight:
        self._timer.start()
        _current.flight = self
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _current.flight = None


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()


class _Stop(Exception):
    """Raised inside urllib3 (not an OSError, so urllib3 neither retries nor wraps it)."""


def _flight() -> _Flight:
    flight: _Flight | None = getattr(_current, "flight", None)
    if flight is None:
        raise _Stop("outbound connection outside GuardedClient.request")
    return flight


class _GuardedConnectionMixin:
    host: str
    timeout: Any
    sock: socket.socket | None

    def _new_conn(self) -> socket.socket:
        flight = _flight()
        left = flight.remaining()
        if left <= 0 or flight.expired:
            raise _Stop("deadline")
        if isinstance(self.timeout, int | float):
            self.timeout = min(float(self.timeout), left)
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        try:
            address = sock.getpeername()[0]
            ip = ipaddress.ip_address(str(address).split("%", 1)[0])
        except (OSError, ValueError):
            sock.close()
            raise
        host = self.host.strip("[]").lower().rstrip(".")
        if not _is_global(ip) and host not in flight.private_hosts:
            sock.close()
            flight.refused = f"{host} resolved to the non-public address {ip}"
            raise _Stop(flight.refused)
        flight.watch(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:
            _flight().watch(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)


# --- the client -------------------------------------------------------------------------------------------


@dataclass
class GuardedClient:
    """Pooled, thread-safe for plain calls. One per app (`shared_session`) or per grade worker (`http_session`)."""

    connect_timeout: float
    read_timeout: float
    total_timeout: float
    max_bytes: int
    private_hosts: frozenset[str] = frozenset()  # OUTBOUND_PRIVATE_HOSTS
    session: requests.Session = field(init=False)

    def __post_init__(self) -> None:
        session = requests.Session()
        session.trust_env = False  # no proxy from the environment (it would hide the address we check)
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
        if bundle:
            session.verify = bundle
        session.headers["User-Agent"] = USER_AGENT
        # Retry only failures to connect (nothing was sent), never a request the platform may have applied.
        retry = Retry(
            total=2,
            connect=2,
            read=0,
            status=0,
            other=0,
            redirect=0,
            backoff_factor=0.2,
            allowed_methods=None,
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        adapter = _GuardedAdapter(max_retries=retry, pool_connections=10, pool_maxsize=20)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.session = session

    def request(
        self,
        method: str,
        url: str,
        *,
        allowed: Allowed,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        json: Any = None,
        max_bytes: int | None = None,
        deadline: float | None = None,
        timeout: Any = None,  # accepted for requests' signature; the client's own limits apply
    ) -> requests.Response:
        """Send one request (following same-origin GET redirects) and read its whole answer."""
        limit = self.max_bytes if max_bytes is None else max_bytes
        end = time.monotonic() + self.total_timeout
        if deadline is not None:
            end = min(end, deadline)
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._one(method, current, allowed, headers, data, json, limit, end)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECTS or not location:
                return response
            try:
                target = urljoin(current, location)
            except ValueError:
                target = ""
            if method.upper() not in ("GET", "HEAD"):
                raise OutboundRefused(f"{method} {_short(current)} answered a redirect; not followed")
            if origin_of(target) is None or origin_of(target) != origin_of(current):
                raise OutboundRefused(f"redirect from {_short(current)} to another origin: {_short(target)}")
            current = target
        raise OutboundRefused(f"more than {MAX_REDIRECTS} redirects from {_short(url)}")

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.session.close()

    def _one(
        self,
        method: str,
        url: str,
        allowed: Allowed,
        headers: Mapping[str, str] | None,
        data: Any,
        json: Any,
        limit: int,
        end: float,
    ) -> requests.Response:
        if not allowed.permits(url):
            raise OutboundRefused(f"{_short(url)} is not on an allowed origin ({allowed})")
        left = end - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"no time left for {_short(url)}")
        with _Flight(allowed, self.private_hosts, end) as flight:
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    data=data,
                    json=json,
                    allow_redirects=False,
                    stream=True,
                    timeout=(min(self.connect_timeout, left), min(self.read_timeout, left)),
                )
                try:
                    _read(response, limit, url)
                finally:
                    response.close()
            except _Stop as exc:
                if flight.refused:
                    raise OutboundRefused(flight.refused) from None
                raise DeadlineExceeded(f"{_short(url)}: total time used up") from exc
            except ResponseTooLarge:
                raise
            except requests.RequestException as exc:
                if flight.expired:
                    raise DeadlineExceeded(f"{_short(url)}: total time used up") from exc
                if flight.refused:
                    raise OutboundRefused(flight.refused) from exc
                raise
            if flight.expired:
                raise DeadlineExceeded(f"{_short(url)}: total time used up")
        return response


def _read(response: requests.Response, limit: int, url: str) -> None:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(f"{_short(url)} announced {declared} bytes; at most {limit} are read")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(f"{_short(url)} sent more than {limit} bytes")
            chunks.append(chunk)
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        raise requests.ConnectionError(f"{_short(url)}: the answer broke off ({type(exc).__name__})") from exc
    except requests.ConnectionError as exc:
        # requests reports a read time-out in the body (after the status line and headers) as a ConnectionError
        # around urllib3's ReadTimeoutError: it is a time-out (the platform may well have done what was asked)
        if isinstance(exc.args[0] if exc.args else None, urllib3.exceptions.ReadTimeoutError):
            raise requests.ReadTimeout(f"{_short(url)}: the answer stopped coming (read time-out)") from exc
        raise
    response._content = b"".join(chunks)
    response._content_consumed = True  # type: ignore[attr-defined]


def _short(url: str) -> str:
    """A URL for messages and logs: without its query (it may carry tokens), at most 120 characters."""
    return url.split("?", 1)[0].split("#", 1)[0][:120]


# --- the one summary of an upstream answer ------------------------------------------------------------------

_TAGS = re.compile(r"<[^>]{0,200}>")
_SPACE = re.compile(r"\s+")
REASON_LENGTH = 120


def short_reason(response: requests.Response) -> str:
    """`400 Bad Request: Incorrect score received`: the status with its standard phrase (not the platform's), and
    at most REASON_LENGTH characters of what the platform said (a JSON error field, or plain text), with
    markup, control characters and line breaks removed. Never an HTML page or a long body."""
    status = response.status_code
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    said = _said(response)
    head = f"{status} {phrase}".strip()
    return f"{head}: {said}" if said else head


def _said(response: requests.Response) -> str:
    kind = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    text = ""
    if "json" in kind:
        try:
            body = jsonlib.loads(response.content[:65536] or b"null")
        except (ValueError, RecursionError):  # nested deeper than the parser goes: a RecursionError
            body = None
        if isinstance(body, dict):
            for key in ("error_description", "message", "reason", "error", "detail", "title"):
                if isinstance(body.get(key), str):
                    text = body[key]
                    break
    elif kind in ("text/plain", ""):
        text = response.content[:2048].decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else " " for c in _TAGS.sub(" ", text))
    text = _SPACE.sub(" ", text).strip()
    return text[:REASON_LENGTH] + ("…" if len(text) > REASON_LENGTH else "")


# --- per app --------------------------------------------------------------------------------------------------


def platform_json(response: requests.Response) -> Any:
    """A platform's JSON answer, or ValueError for what the tool can neither read nor store: not JSON, nested
    deeper than the parser goes, an integer longer than Python reads (`sys.get_int_max_str_digits()`, 4,300
    digits by default), NaN, Infinity or a number beyond a float's range (read as Infinity; PostgreSQL's json
    type refuses them), text no database stores (`holds_unstorable_text`)."""
    try:
        document = response.json()
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc
    except ValueError as exc:
        if isinstance(exc, requests.JSONDecodeError):
            raise
        # What else the json module raises on a str: int() refusing a number of more digits than it reads.
        raise ValueError(
            f"JSON holds a number too long to read (over {sys.get_int_max_str_digits()} digits)"
        ) from exc
    try:
        jsonlib.dumps(document, allow_nan=False)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc
    except ValueError as exc:
        raise ValueError("JSON holds NaN, Infinity or a number beyond a float's range") from exc
    if holds_unstorable_text(document):
        raise ValueError("JSON holds a NUL character or half a UTF-16 surrogate pair")
    return document


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# In JSON text written with ensure_ascii=False, a NUL is the escape \u0000 whose backslash is not itself escaped
# (an even run of backslashes before it, none before that run).
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def holds_unstorable_text(document: Any) -> bool:
    """Whether a JSON document holds, in any key or string, a NUL (PostgreSQL's text refuses it) or a lone UTF-16
    surrogate (JSON can spell "\\ud800"; it is no character, and UTF-8 cannot encode it). No platform sends
    either. Every launch asks this of all its claims: written out as JSON by the C encoder (a surrogate stays as
    it is, which UTF-8 refuses to encode; a NUL becomes an escape) instead of a Python loop over every key and
    value; the loop (not recursion: the document may nest deeply) is for what the encoder cannot write."""
    try:
        text = jsonlib.dumps(document, ensure_ascii=False, check_circular=False)
    except (TypeError, ValueError, RecursionError):
        return _walk_unstorable(document)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return "\\u0000" in text and _NUL_ESCAPE.search(text) is not None


def _walk_unstorable(document: Any) -> bool:
    stack: list[Any] = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                return True
        elif isinstance(value, Mapping):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def http_session(app: Flask | None = None) -> GuardedClient:
    """A client with this app's limits. Clients hold connection pools: reuse them where you can."""
    cfg = (app or current_app).config
    return GuardedClient(
        connect_timeout=float(cfg["HTTP_CONNECT_TIMEOUT"]),
        read_timeout=float(cfg["HTTP_READ_TIMEOUT"]),
        total_timeout=float(cfg["HTTP_TOTAL_TIMEOUT"]),
        max_bytes=int(cfg["HTTP_MAX_RESPONSE_BYTES"]),
        private_hosts=private_hosts(cfg.get("OUTBOUND_PRIVATE_HOSTS")),
    )


def shared_session(app: Flask | None = None) -> GuardedClient:
    """One pooled client per app."""
    app = app or current_app
    client = app.extensions.get("nama_http")
    if client is None:
        client = app.extensions.setdefault("nama_http", http_session(app))
    assert isinstance(client, GuardedClient)
    return client


class NoHttp(requests.Session):
    """Given to library code that insists on a requests.Session (pylti1p3's MessageLaunch) but must not use
    it: every request the tool makes goes through GuardedClient."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        raise OutboundRefused("outbound requests go through lti_tool.http.GuardedClient")

"""OIDC third-party initiated login (LTI 1.3 Core §5.1.1, Security Framework §5.1.1).

The state is signed by the tool (HMAC with the secret key, itsdangerous) and carries the nonce, the login's
issuer, client, target_link_uri, a hash of the browser-binding cookie and its time; the launch checks the signature
and age, and consumes the nonce in the launch store, so each state works once. Nothing is written at login (one
write transaction per launch in all). A browser-binding cookie (Partitioned, SameSite=None) is set as well; where
the browser keeps it (first-party window, CHIPS-capable browsers) the launch must present the same value, where it
is blocked (third-party iframe in a strict browser) the signed state and the single-use nonce carry the check.

Every launch starts here, so the request is read and answered with little more than the work it needs (each step
measured in bench/FINDINGS.md step 17c): the parameters parsed as werkzeug parses them but without building its
multi-dicts, the redirect's Location written as a URI (werkzeug need not convert it again) and the cookie's header
written as werkzeug writes it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote_plus, unquote

from flask import Flask, Request
from itsdangerous import Serializer, Signer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, want_bytes
from itsdangerous.signer import HMACAlgorithm
from itsdangerous.timed import TimestampSigner
from sqlalchemy.orm import Session
from werkzeug.http import http_date
from werkzeug.urls import iri_to_uri

from ..errors import LaunchError
from ..i18n import lazy_gettext as _l
from ..responses import ToolResponse
from ..urls import Origin, origin_of
from .toolconf import DbToolConf, RegistrationCache

BROWSER_COOKIE = "nama_lti_browser"
BROWSER_COOKIE_SECONDS = 24 * 3600
_FIXED_QUERY = "scope=openid&response_type=id_token&response_mode=form_post&prompt=none"
# The login initiation's parameters (LTI 1.3 Core §5.1.1.1 and OIDC Core §4): each at most once.
LOGIN_PARAMETERS = frozenset(
    {"iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id"}
)
# Longer than any platform sends (Moodle: a user id and a short JSON text; Canvas: a JWT of ~1 kB as
# lti_message_hint), short enough that the redirect to the platform stays a URL its web server accepts.
MAX_PARAMETER_LENGTH = 4096
# The signed state carries the login's target_link_uri (up to urls.MAX_URL_LENGTH), issuer and client id; the
# launch refuses a longer one before checking its signature, and the login never issues one it would refuse.
MAX_STATE_LENGTH = 8192
_FORM = "application/x-www-form-urlencoded"
_AGAIN = _l(
    "Start the activity again from your course. If this keeps happening, the LMS administrator should check the tool's login URL."
)


def hash_browser(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class _HmacSha1(HMACAlgorithm):
    """itsdangerous's HMAC-SHA1 (its default) in one OpenSSL call: `hmac.new` builds both hashes in Python."""

    def __init__(self) -> None:
        super().__init__(hashlib.sha1)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, "sha1")


class _StateSigner(TimestampSigner):
    """itsdangerous's timestamp signer, its key derived once per secret (it hashed salt and secret per call)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("algorithm", _HmacSha1())
        super().__init__(*args, **kwargs)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self._derived.get(secret_key)
        if key is None:
            key = self._derived[secret_key] = super().derive_key(secret_key)
        return key


_STATE_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # itsdangerous's compact JSON


class StateSerializer(URLSafeTimedSerializer):
    """itsdangerous's URL-safe timed serializer of the OIDC state, without costs per call that buy nothing here:
    its signer is made once (itsdangerous makes a new one for every dumps and loads) with its key derived once,
    the JSON encoder is made once (`json.dumps` with options makes one per call), and the state is not tried with
    zlib (a nonce, a hash and three short URLs: compression saved ~15 % of the state's length and cost more than
    the rest of signing it). The same text and signature as itsdangerous's; `loads` still reads a compressed
    state."""

    default_signer = _StateSigner

    @functools.cached_property
    def _signer(self) -> Signer:
        return super().make_signer()

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is None or want_bytes(salt) == self.salt:
            return self._signer
        return super().make_signer(salt)

    def dump_payload(self, obj: Any) -> bytes:
        if self.serializer is not URLSafeTimedSerializer.default_serializer or self.serializer_kwargs:
            return base64_encode(Serializer.dump_payload(self, obj))
        return base64_encode(_STATE_JSON.encode(obj).encode())


@functools.lru_cache(maxsize=4)
def state_signer(secret_key: str) -> StateSerializer:
    """Made once per secret (every login signs a state, every launch checks one); it keeps no state of its own."""
    return StateSerializer(secret_key, salt="nama-lti oidc state")


@functools.lru_cache(maxsize=4)
def _tool_origin(launch_url: str) -> Origin | None:
    return origin_of(launch_url)


@functools.lru_cache(maxsize=1024)
def _unquote_short(value: str) -> str:
    return unquote(value, "utf-8", "werkzeug.url_quote")


def _unquote(value: str) -> str:
    """urllib's unquote as werkzeug calls it (bytes that are not UTF-8 stay percent-encoded); the values every
    launch of an activity repeats (iss, target_link_uri, client_id) decoded once."""
    return _unquote_short(value) if len(value) <= 256 else unquote(value, "utf-8", "werkzeug.url_quote")


def parse_urlencoded(text: str) -> list[tuple[str, str]]:
    """Name-value pairs as `urllib.parse.parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")`
    gives them (what werkzeug's `request.args` and urlencoded `request.form` hold), in order."""
    pairs = []
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = _unquote(name)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = _unquote(value)
        pairs.append((name, value))
    return pairs


def posted_form(req: Request) -> dict[str, str]:
    """A POST's fields, the first value of each, as `request.form.items()` gives them: an urlencoded body (as
    platforms post the launch) read through `get_data` (werkzeug's size limit, 413) and parsed as werkzeug parses
    it (`parse_urlencoded`; a body that is not UTF-8 holds no fields, as werkzeug's silent form parser finds none),
    without werkzeug's form parser and multi-dict (~3 times the work for a launch's id_token and state); any other
    content type through `request.form`."""
    if req.environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != _FORM:
        return {k: v for k, v in req.form.items() if isinstance(v, str)}
    try:
        pairs = parse_urlencoded(req.get_data(cache=True).decode())
    except UnicodeDecodeError:
        return {}
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _malformed(reason: str) -> LaunchError:
    return LaunchError(
        _l("The launch message is not valid: %(reason)s", reason=reason[:200]),
        hint=_AGAIN,
        code="login_malformed",
    )


def login_parameters(req: Request) -> dict[str, str]:
    """The login request's parameters: a GET's query, a POST's form (urlencoded, as Moodle posts it, or
    multipart). Each of LOGIN_PARAMETERS at most once and at most MAX_PARAMETER_LENGTH long; others are kept
    (their first value) for the NUL check only."""
    environ = req.environ
    pairs: list[tuple[str, str]] | None = None
    try:
        if req.method == "GET":
            pairs = parse_urlencoded(req.query_string.decode())
        elif environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() == _FORM:
            # werkzeug's limits as for request.form (MAX_CONTENT_LENGTH: 413), then the same parsing as its.
            pairs = parse_urlencoded(req.get_data(cache=True).decode())
    except UnicodeDecodeError:
        raise _malformed("parameters not in UTF-8") from None
    if pairs is None:
        pairs = [(k, v) for k, values in req.form.lists() for v in values if isinstance(v, str)]
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in params:
            params[name] = value
        elif name in LOGIN_PARAMETERS:
            raise _malformed(f"{name} given more than once")
    for name in LOGIN_PARAMETERS.intersection(params):
        if len(params[name]) > MAX_PARAMETER_LENGTH:
            raise _malformed(f"{name} longer than {MAX_PARAMETER_LENGTH} characters")
    return params


@dataclass(frozen=True)
class LoginRedirect:
    url: str
    browser_id: str
    new_browser_id: bool


@functools.lru_cache(maxsize=64)
def _uri_before_query(auth_login_url: str, sep: str) -> str:
    """What werkzeug's `iri_to_uri` makes of `auth_login_url + sep` followed by the login's query: the query
    (quote_plus'ed values, URL-safe base64, `&` and `=`) is a URI as it is, and iri_to_uri quotes character by
    character, so only the part before it can change (an IRI's host and path, a trailing `?` it would drop)."""
    return iri_to_uri(auth_login_url + sep + "x")[:-1]


def begin_login(
    params: Mapping[str, str],
    *,
    s: Session | Callable[[], Session],
    secret_key: str,
    launch_url: str,
    browser_id: str | None,
    registrations: RegistrationCache | None = None,
) -> LoginRedirect:
    """Check a login initiation request and build the redirect to the platform's authorisation endpoint (a URI:
    werkzeug's `iri_to_uri` would return it as it is)."""
    iss = (params.get("iss") or "").strip()
    login_hint = params.get("login_hint") or ""
    target_link_uri = params.get("target_link_uri") or ""
    client_id = params.get("client_id") or None
    missing = [
        n
        for n, v in (("iss", iss), ("login_hint", login_hint), ("target_link_uri", target_link_uri))
        if not v
    ]
    if missing:
        raise LaunchError(
            _l(
                "The login request from the learning platform is incomplete (missing: %(names)s).",
                names=", ".join(missing),
            ),
            hint=_AGAIN,
            code="login_incomplete",
        )
    garbled = sorted(k for k, v in params.items() if "\x00" in v)
    if garbled:  # no platform sends a NUL, and PostgreSQL refuses one in a query (a 500)
        raise _malformed("NUL in " + ", ".join(garbled))
    target = origin_of(target_link_uri)
    if target is None:
        raise LaunchError(
            _l("The activity's address (target_link_uri) is not a valid web address."),
            hint=_l("The LMS administrator should set the tool URL to the launch URL shown at /lti/config."),
            code="target_link_uri_malformed",
            detail=f"target_link_uri {target_link_uri[:300]!r}",
        )
    conf = DbToolConf(s, registrations)
    platform = conf.registered_platform(
        iss,
        client_id,
        detail=f"login from unknown issuer {iss[:300]!r} client_id={(client_id or '')[:300]!r}",
    )
    # The platform may only send people to this tool: target_link_uri must be ours (no open redirect).
    if target != _tool_origin(launch_url):
        raise LaunchError(
            _l("The activity points to an address that does not belong to this tool."),
            hint=_l("The LMS administrator should set the tool URL to the launch URL shown at /lti/config."),
            code="foreign_target_link_uri",
            detail=f"target_link_uri {target_link_uri[:300]!r} not on {launch_url!r}",
        )

    nonce = secrets.token_urlsafe(32)
    new_browser = not browser_id
    browser = browser_id or secrets.token_urlsafe(24)
    state = state_signer(secret_key).dumps(
        {
            "nonce": nonce,
            "iss": platform.issuer,
            "client_id": platform.client_id,
            "target_link_uri": target_link_uri,
            "browser": hash_browser(browser),
        }
    )
    # Only an address near MAX_URL_LENGTH of mostly non-ASCII characters (four bytes each in the state) gets here.
    if len(state) > MAX_STATE_LENGTH:
        raise _malformed("target_link_uri too long")
    # The authentication request (OIDC Core §3.1.2.1 with LTI's fixed values), in this order; the state and the
    # nonce need no quoting (URL-safe base64 and dots: urlencode would leave them as they are).
    query = (
        f"{_FIXED_QUERY}&client_id={_quoted(platform.client_id)}&redirect_uri={_quoted(launch_url)}"
        f"&login_hint={quote_plus(login_hint)}&state={state}&nonce={nonce}"
    )
    if params.get("lti_message_hint"):
        query += "&lti_message_hint=" + quote_plus(params["lti_message_hint"])
    sep = "&" if "?" in platform.auth_login_url else "?"
    return LoginRedirect(
        url=_uri_before_query(platform.auth_login_url, sep) + query,
        browser_id=browser,
        new_browser_id=new_browser,
    )


@functools.lru_cache(maxsize=64)
def _quoted(value: str) -> str:
    """quote_plus of the values every login of a registration repeats (its client id, the launch URL)."""
    return quote_plus(value)


_expires: tuple[int, str] = (0, "")


def browser_cookie(value: str, now: float | None = None) -> str:
    """The browser-binding cookie's Set-Cookie value, as werkzeug's `dump_cookie` writes it for `value` (from
    `secrets.token_urlsafe`: no quoting) with max_age BROWSER_COOKIE_SECONDS, Secure, HttpOnly, path /lti/,
    SameSite=None, Partitioned. Partitioned (CHIPS) + SameSite=None + Secure is what a cross-site iframe can still
    keep in Chromium; browsers accept Secure cookies from http://localhost and http://127.0.0.1, so tests need no
    TLS. The Expires date is formatted once per second."""
    global _expires
    expires_at = int((time.time() if now is None else now) + BROWSER_COOKIE_SECONDS)
    second, expires = _expires
    if second != expires_at:
        expires = http_date(expires_at)
        _expires = (expires_at, expires)
    return (
        f"{BROWSER_COOKIE}={value}; Expires={expires}; Max-Age={BROWSER_COOKIE_SECONDS}; Secure; HttpOnly; "
        "Path=/lti/; SameSite=None; Partitioned"
    )


def redirect_response(result: LoginRedirect) -> ToolResponse:
    """The 302 to the platform, as werkzeug's `redirect` answers it (the same short page with the link), its
    Location marked as a URI already, and the browser-binding cookie for a browser that had none."""
    html = escape(result.url)
    resp = ToolResponse(
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: "
        f'<a href="{html}">{html}</a>. If not, click the link.\n',
        302,
        [("Location", result.url)],
        mimetype="text/html",
    )
    resp.location_is_uri = True
    if result.new_browser_id:
        resp.headers.add("Set-Cookie", browser_cookie(result.browser_id))
    return resp


def browser_id(req: Request) -> str | None:
    """The browser-binding cookie's value (werkzeug's cookie parsing only where the Cookie header names it)."""
    if BROWSER_COOKIE not in req.environ.get("HTTP_COOKIE", ""):
        return None
    return req.cookies.get(BROWSER_COOKIE)


def launch_url(app: Flask, req: Request, build: Callable[[], str]) -> str:
    """The tool's launch URL (the redirect_uri): on BASE_URL worked out once per script root (`build()` the first
    time), else on the request's host each time."""
    if not app.config["BASE_URL"]:
        return build()
    kept: dict[str, str] = app.extensions.setdefault("nama_launch_urls", {})
    root = req.environ.get("SCRIPT_NAME", "")
    url = kept.get(root)
    if url is None:
        url = build()
        if len(kept) < 16:  # a proxy's prefixes (X-Forwarded-Prefix): a few
            kept[root] = url
    return url

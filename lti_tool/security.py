"""Response headers: a Content-Security-Policy whose `frame-ancestors` names only who may frame this page, no
referrer, no caching of session pages.

Who may frame a page:
- a session page (`/s/<token>/…`): the origins of that session's platform, nobody else;
- the LTI endpoints (login, launch and their refusal pages, which Moodle shows in its iframe): the platform the
  request is about once it is known (`frame_platform()`), else the origin the browser says it comes from
  (`Origin`, or the origin of `Referer`) if that is a registered platform's; dynamic registration: the origin of
  the platform being registered (Moodle shows the tool's page in its own frame);
- everything else (home, /lti/config, certificate checks): the tool itself (`'self'`).
So no response lists the platforms registered with the tool.

Platform origins come from the database and are cached per process for a short while (a newly registered
platform can frame the tool within a minute without a query on every response; the operator area and the CLI
invalidate the cache at once).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request
from flask.globals import _cv_app, _cv_request
from flask.wrappers import Response
from sqlalchemy import select

from .db import session_scope
from .localcache import LocalCache
from .models import Platform
from .urls import origin_of

_ORIGINS_TTL = 60.0


@dataclass(frozen=True, slots=True)
class _Origins:
    by_platform: dict[int, frozenset[str]]
    all: frozenset[str]
    # platform id -> its session pages' frame-ancestors ("'self'" and its origins, sorted), made with the rest
    ancestors: dict[int, str]


class _PlatformOrigins:
    """platform id -> its origins (issuer, login, token and key set URLs), for all platforms at once."""

    def __init__(self) -> None:
        self._cache: LocalCache[str, _Origins] = LocalCache(_ORIGINS_TTL, maxsize=1)

    def load(self, app: Flask) -> _Origins:
        """The origins, read from the database unless the cached ones are fresh."""
        return self._cache.get_or_load("origins", lambda: _read_origins(app))

    def of(self, app: Flask, platform_id: int) -> frozenset[str]:
        return self.load(app).by_platform.get(platform_id, frozenset())

    def registered(self, app: Flask, origin: str) -> bool:
        return origin in self.load(app).all

    def invalidate(self) -> None:
        self._cache.clear()


def _read_origins(app: Flask) -> _Origins:
    with session_scope(app) as s:
        rows = s.execute(
            select(
                Platform.id,
                Platform.issuer,
                Platform.auth_login_url,
                Platform.auth_token_url,
                Platform.jwks_url,
            )
        ).all()
    by_platform: dict[int, frozenset[str]] = {}
    for platform_id, *urls in rows:
        by_platform[platform_id] = frozenset(str(o) for o in (origin_of(u) for u in urls) if o is not None)
    return _Origins(
        by_platform,
        frozenset().union(*by_platform.values()) if by_platform else frozenset(),
        {pid: " ".join(["'self'", *sorted(origins)]) for pid, origins in by_platform.items()},
    )


def platform_origins(app: Flask) -> _PlatformOrigins:
    origins: _PlatformOrigins = app.extensions["nama_platform_origins"]
    return origins


def frame_platform(platform_id: int) -> None:
    """This response belongs to that platform: it may frame it."""
    _cv_app.get().g.frame_platform_id = platform_id


def _claimed_origin(environ: dict[str, Any]) -> str | None:
    # The environ, not request.headers: its get() raises and catches a KeyError per missing header.
    for value in (environ.get("HTTP_ORIGIN"), environ.get("HTTP_REFERER")):
        origin = origin_of(value)
        if origin is not None:
            return str(origin)
    return None


def frame_ancestors(app: Flask, here: dict[str, Any], req: Request) -> str:
    """Who may frame this response (`here`: the request's `g`)."""
    platform_id = here.get("frame_platform_id")
    if isinstance(platform_id, int):
        return platform_origins(app).load(app).ancestors.get(platform_id, "'self'")
    if req.path.startswith("/lti/register"):
        origin = origin_of(req.args.get("openid_configuration"))
        return "'self'" if origin is None else f"'self' {origin}"
    if req.path.startswith("/lti/"):
        claimed = _claimed_origin(req.environ)
        if claimed is not None and platform_origins(app).registered(app, claimed):
            return f"'self' {claimed}"
    return "'self'"


@functools.lru_cache(maxsize=256)
def _csp(form_action: str, ancestors: str) -> str:
    """The policy of a response (made once per form-action and frame-ancestors: few of each)."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        f"object-src 'none'; base-uri 'none'; form-action {form_action}; frame-ancestors {ancestors};"
    )


_ALWAYS = (  # (the name as looked up, the name, the value)
    ("referrer-policy", "Referrer-Policy", "no-referrer"),
    ("x-content-type-options", "X-Content-Type-Options", "nosniff"),
    ("permissions-policy", "Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_NO_STORE = ("/s/", "/admin", "/lti/")


def _headers(resp: Response) -> Response:
    # Added where the response has no header of that name yet (a view's or the operator area's own wins). The
    # names present are looked up once: each `in resp.headers` walks the list and raises a KeyError per miss.
    # The app context and the request are read once (each use of `g`, `request` or `current_app` looks them up).
    headers = resp.headers
    present = {name.lower() for name, _ in headers}
    app_ctx = _cv_app.get()
    req = _cv_request.get().request
    if "content-security-policy" not in present:
        here = app_ctx.g.__dict__
        extra = here.get("csp_form_action")
        form_action = f"'self' {extra}" if extra else "'self'"
        headers.add("Content-Security-Policy", _csp(form_action, frame_ancestors(app_ctx.app, here, req)))
    for lowered, name, value in _ALWAYS:
        if lowered not in present:
            headers.add(name, value)
    if "cache-control" not in present and req.path.startswith(_NO_STORE):
        headers.add("Cache-Control", "no-store")
    return resp


def init_app(app: Flask) -> None:
    app.extensions["nama_platform_origins"] = _PlatformOrigins()
    app.after_request(_headers)

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

from dataclasses import dataclass

from flask import Flask, current_app, g, request
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
    return _Origins(by_platform, frozenset().union(*by_platform.values()) if by_platform else frozenset())


def platform_origins(app: Flask) -> _PlatformOrigins:
    origins: _PlatformOrigins = app.extensions["nama_platform_origins"]
    return origins


def frame_platform(platform_id: int) -> None:
    """This response belongs to that platform: it may frame it."""
    g.frame_platform_id = platform_id


def _claimed_origin() -> str | None:
    for value in (request.headers.get("Origin"), request.headers.get("Referer")):
        origin = origin_of(value)
        if origin is not None:
            return str(origin)
    return None


def frame_ancestors(app: Flask) -> str:
    platform_id = g.get("frame_platform_id")
    if isinstance(platform_id, int):
        origins = sorted(platform_origins(app).of(app, platform_id))
        return " ".join(["'self'", *origins])
    if request.path.startswith("/lti/register"):
        origin = origin_of(request.args.get("openid_configuration"))
        return "'self'" if origin is None else f"'self' {origin}"
    if request.path.startswith("/lti/"):
        claimed = _claimed_origin()
        if claimed is not None and platform_origins(app).registered(app, claimed):
            return f"'self' {claimed}"
    return "'self'"


def _headers(resp: Response) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if "Content-Security-Policy" not in resp.headers:
        form_action = "'self'" + (f" {g.csp_form_action}" if g.get("csp_form_action") else "")
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "object-src 'none'; base-uri 'none'; "
            f"form-action {form_action}; frame-ancestors {frame_ancestors(app)};"
        )
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.path.startswith(("/s/", "/admin", "/lti/")) and "Cache-Control" not in resp.headers:
        resp.headers["Cache-Control"] = "no-store"
    return resp


def init_app(app: Flask) -> None:
    app.extensions["nama_platform_origins"] = _PlatformOrigins()
    app.after_request(_headers)

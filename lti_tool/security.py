"""Response headers: CSP with frame-ancestors limited to registered platforms, no referrer, no caching of
session pages.

The platform origins come from the database and are cached per process for a short while, so a newly
registered platform can frame the tool within a minute without a query on every response.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request
from flask.wrappers import Response
from sqlalchemy import select

from .db import get_db
from .models import Platform

_ORIGINS_TTL = 60.0


class _PlatformOrigins:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expires = 0.0
        self._value = ""

    def get(self, app: Flask) -> str:
        now = time.monotonic()
        if now < self._expires:
            return self._value
        with self._lock:
            if now >= self._expires:
                with get_db(app).sessionmaker() as s:
                    rows = s.execute(select(Platform.issuer, Platform.auth_login_url)).all()
                origins: set[str] = set()
                for row in rows:
                    for url in row:
                        parts = urlsplit(url or "")
                        if parts.scheme in ("http", "https") and parts.netloc:
                            origins.add(f"{parts.scheme}://{parts.netloc}")
                self._value = " ".join(sorted(origins))
                self._expires = now + _ORIGINS_TTL
        return self._value

    def invalidate(self) -> None:
        self._expires = 0.0


def platform_origins(app: Flask) -> _PlatformOrigins:
    origins: _PlatformOrigins = app.extensions["nama_platform_origins"]
    return origins


def _headers(resp: Response) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ancestors = platform_origins(app).get(app)
    form_action = "'self'" + (f" {g.csp_form_action}" if g.get("csp_form_action") else "")
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; "
        f"form-action {form_action}; frame-ancestors 'self' {ancestors}".rstrip()
        + ";",
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

"""Who is signed in to the operator area.

The operator area is first-party (an operator opens it directly, never inside an LMS iframe), so it uses Flask's
signed session cookie (`nama_lti_admin`: HttpOnly, SameSite=Lax, path /admin, Secure when BASE_URL is https).
The cookie carries a random sign-in id (besides Flask-WTF's CSRF secret, the language and flash messages); the
sign-in record lives in the launch store under that id's hash, so signing out and expiry take effect on the
server (a copied cookie is useless afterwards) in every process.
A sign-in ends ADMIN_SESSION_SECONDS after it began (absolute) or ADMIN_IDLE_SECONDS after the last request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from flask import Flask, current_app, g, has_request_context, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from .. import db
from ..cache import get_store
from ..models import Operator

KEY = "admin-session:"


class AdminCookieSession(SecureCookieSessionInterface):
    """Flask's signed cookie session, sent only to the operator area (also when the tool runs under a path
    prefix, e.g. X-Forwarded-Prefix through ProxyFix)."""

    def get_cookie_path(self, app: Flask) -> str:
        return (request.script_root if has_request_context() else "") + "/admin"

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        # Every request opens the session; only the operator area's carry the cookie. Without one, Flask's
        # answer is an empty session, here without building the cookie's signer first (a tenth of a
        # millisecond per learner page), nor parsing the Cookie header when the name is not in it at all.
        name = self.get_cookie_name(app)
        if app.secret_key and (
            name not in request.environ.get("HTTP_COOKIE", "") or not request.cookies.get(name)
        ):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Any) -> None:
        # Flask works out the cookie's name, path and flags first, then does nothing for a session that was
        # neither read nor changed: every request outside the operator area.
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)


def clock() -> float:
    """Seconds since the epoch (a function, so tests can move time forward)."""
    return time.time()


def _key(sign_in_id: str) -> str:
    return KEY + hashlib.sha256(sign_in_id.encode()).hexdigest()


def _limits() -> tuple[float, float]:
    absolute = float(current_app.config["ADMIN_SESSION_SECONDS"])
    idle = min(float(current_app.config["ADMIN_IDLE_SECONDS"]), absolute)
    return absolute, idle


def _ttl(record: dict[str, Any], now: float) -> int:
    """Seconds the record is kept: until the sign-in ends, for inactivity or at the latest (so the launch store's
    expiry removes it, and the housekeeping purge deletes it from the table)."""
    absolute, idle = _limits()
    ends = min(float(record["started"]) + absolute, float(record["seen"]) + idle)
    return max(1, int(ends - now) + 1)


def start(operator: Operator) -> None:
    """A fresh cookie session (no value of the signed-out one survives, not even its CSRF token)."""
    session.clear()
    sign_in_id = secrets.token_urlsafe(32)
    now = clock()
    record = {"operator_id": operator.id, "started": now, "seen": now}
    get_store().set(_key(sign_in_id), record, _ttl(record, now))
    session["sign_in"] = sign_in_id
    session.permanent = True
    g.operator = operator


def current() -> Operator | None:
    """The signed-in operator, or None; a request while signed in counts as activity."""
    if "operator" in g:
        cached: Operator | None = g.operator
        return cached
    g.operator = None
    sign_in_id = session.get("sign_in")
    if not isinstance(sign_in_id, str) or not sign_in_id:
        return None
    store = get_store()
    key = _key(sign_in_id)
    record: Any = store.get(key)
    now = clock()
    absolute, idle = _limits()
    valid = (
        isinstance(record, dict)
        and isinstance(record.get("operator_id"), int)
        and now - float(record.get("started", 0)) < absolute
        and now - float(record.get("seen", 0)) < idle
    )
    operator = db.session().get(Operator, record["operator_id"]) if valid else None
    if operator is None:
        store.delete(key)
        g.sign_in_ended = True
        return None
    record["seen"] = now
    store.set(key, record, _ttl(record, now))
    g.operator = operator
    return operator


def ended() -> bool:
    """This request carried a sign-in that has expired (or was signed out elsewhere, or its user deleted)."""
    return bool(g.get("sign_in_ended"))


def end() -> None:
    sign_in_id = session.get("sign_in")
    if isinstance(sign_in_id, str) and sign_in_id:
        get_store().delete(_key(sign_in_id))
    session.clear()
    g.operator = None

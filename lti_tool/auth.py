"""Who is this request: the tool session a launch opened (learner or instructor).

The session token travels in the path of the tool's own URLs (`/s/<token>/…`), so pages keep working inside
Moodle's iframe where third-party cookies are blocked; `Referrer-Policy: no-referrer` keeps it from leaking to
other sites. Only its SHA-256 is stored. Forms carry a CSRF token derived from the session (HMAC).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Flask, current_app, g, request
from sqlalchemy import select

from . import db
from .errors import NotAllowed, SessionExpired
from .i18n import lazy_gettext as _l
from .lti.provision import token_hash
from .models import Context, Deployment, ToolSession, User, utcnow
from .security import frame_platform

P = ParamSpec("P")
R = TypeVar("R")

SESSION_ARG = "sid"


@dataclass(frozen=True)
class Visitor:
    """The launched person, in the context they launched from."""

    session: ToolSession
    user: User
    context: Context
    platform_id: int

    @property
    def is_instructor(self) -> bool:
        return self.session.is_instructor

    @property
    def course_id(self) -> str:
        return self.session.course_id


def _load(token: str) -> Visitor:
    s = db.session()
    row = s.execute(
        select(ToolSession, User, Context, Deployment.platform_id)
        .join(User, ToolSession.user_id == User.id)
        .join(Context, ToolSession.context_id == Context.id)
        .join(Deployment, ToolSession.deployment_id == Deployment.id)
        .where(ToolSession.token_hash == token_hash(token), Deployment.active.is_(True))
    ).one_or_none()
    if row is None or row[0].expires_at <= utcnow():
        raise SessionExpired(
            _l("Your session with the course has ended or the link is not valid."),
            hint=_l("Please open the activity again from your course in the learning platform."),
        )
    return Visitor(session=row[0], user=row[1], context=row[2], platform_id=row[3])


def current_visitor() -> Visitor:
    visitor: Visitor | None = g.get("visitor")
    if visitor is None:
        token = g.get("session_token")
        if not token:
            raise SessionExpired(
                _l("This page belongs to a course session."),
                hint=_l("Please open the activity from your course in the learning platform."),
            )
        visitor = _load(token)
        frame_platform(visitor.platform_id)  # only this session's platform may frame its pages
        g.visitor = visitor
        g.locale = visitor.session.locale
    return visitor


def csrf_token() -> str:
    token = g.get("session_token") or ""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:40]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not hmac.compare_digest(sent, csrf_token()):
        raise NotAllowed(
            _l("The form could not be accepted (security token missing or wrong)."),
            hint=_l("Reload the page and try again."),
            code="csrf_failed",
        )


def session_blueprint(name: str, import_name: str, url_prefix: str = "") -> Blueprint:
    """A blueprint whose routes live under /s/<sid>/…, require a live session, and check CSRF on POST."""
    bp = Blueprint(name, import_name, url_prefix="/s/<sid>" + url_prefix)

    @bp.url_value_preprocessor
    def _pull_token(endpoint: str | None, values: dict[str, Any] | None) -> None:
        g.session_token = (values or {}).pop(SESSION_ARG, None)

    @bp.before_request
    def _require_session() -> None:
        current_visitor()
        if request.method == "POST":
            check_csrf()

    return bp


def instructor_required(view: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_visitor().is_instructor:
            raise NotAllowed(
                _l("This page is for the course's teachers."),
                hint=_l(
                    "If you teach this course, ask the LMS administrator to check your role in the course."
                ),
            )
        return view(*args, **kwargs)

    return wrapper


def _add_session_token(endpoint: str, values: dict[str, Any]) -> None:
    if SESSION_ARG in values or not g.get("session_token"):
        return
    if current_app.url_map.is_endpoint_expecting(endpoint, SESSION_ARG):
        values[SESSION_ARG] = g.session_token


def init_app(app: Flask) -> None:
    app.url_defaults(_add_session_token)
    app.jinja_env.globals["csrf_token"] = csrf_token

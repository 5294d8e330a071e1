"""Who is this request: the tool session a launch opened (learner or instructor).

The session token travels in the path of the tool's own URLs (`/s/<token>/…`), so pages keep working inside
Moodle's iframe where third-party cookies are blocked; `Referrer-Policy: no-referrer` keeps it from leaking to
other sites. Only its SHA-256 is stored. Forms carry a CSRF token derived from the session (HMAC).

A session ends SESSION_IDLE_SECONDS after its last request (recorded at most once a minute) and at the latest
SESSION_LIFETIME_SECONDS after the launch; "End session" (POST …/sitzung/beenden) ends it at once. Pages warn
before the end (static/session.js; …/sitzung/verlaengern puts the idle end off). A practice text posted after
the end is kept for the learner (course/drafts.py) and shown on the refusal page to copy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request
from flask.ctx import AppContext
from flask.globals import _cv_app
from flask.wrappers import Response
from sqlalchemy import bindparam, select, update

from . import db
from .cursorsql import CursorStatement
from .errors import NotAllowed, SessionExpired
from .i18n import lazy_gettext as _l
from .lti.provision import token_hash
from .models import Context, Deployment, ToolSession, User, utcnow
from .security import frame_platform

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

SESSION_ARG = "sid"
SEEN_EVERY = dt.timedelta(seconds=60)  # last_seen_at is written at most this often per session


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A tool session's row as a request reads it (plain values: no ORM identity to load or track)."""

    id: int
    user_id: int
    context_id: int
    resource_link_id: int | None
    deployment_id: int
    message_type: str
    is_instructor: bool
    course_id: str
    module_id: str | None
    locale: str
    claims: dict[str, Any]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_seen_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Person:
    """The launched person's row (lti_user) as a request reads it."""

    id: int
    platform_id: int
    sub: str
    name: str | None
    given_name: str | None
    family_name: str | None
    email: str | None

    @property
    def real_name(self) -> str | None:
        """As `User.real_name`: `name`, else given and family name; None when the platform sent none."""
        full = " ".join(p for p in (self.given_name, self.family_name) if p)
        return self.name or full or None


@dataclass(frozen=True, slots=True)
class ContextRecord:
    """The context's row as a request reads it."""

    id: int
    deployment_id: int
    context_id: str
    title: str
    label: str
    nrps_url: str | None
    lineitems_url: str | None
    ags_scopes: list[Any] | None
    roster_fetched_at: dt.datetime | None


@dataclass(frozen=True)
class Visitor:
    """The launched person, in the context they launched from. `also`: the value of the column the view asked
    to have read with the session (`reads_with_session`; None when it asked for none)."""

    session: SessionRecord
    user: Person
    context: ContextRecord
    platform_id: int
    also: Any = None

    @property
    def is_instructor(self) -> bool:
        return self.session.is_instructor

    @property
    def course_id(self) -> str:
        return self.session.course_id


def idle_limit(config: Mapping[str, Any]) -> dt.timedelta:
    return dt.timedelta(seconds=int(config["SESSION_IDLE_SECONDS"]))


def _columns(model: Any, record: Any, given: tuple[str, ...] = ()) -> list[Any]:
    """The model's columns for the record's fields, but for the leading fields `given` (known otherwise)."""
    names = [f.name for f in dataclasses.fields(record)]
    assert tuple(names[: len(given)]) == given
    return [model.__table__.c[name] for name in names[len(given) :]]


# Built once: every request of a session runs it, and building a statement (and its cache key) costs more than
# running it; only the token's hash is bound per request. Plain columns on the DBAPI cursor of the session's
# connection (cursorsql.py): hydrating three ORM entities into the identity map cost more than the query, and
# SQLAlchemy's execution of it (~30 columns' result set-up) several times the database's own work.
_SESSION_COLUMNS = _columns(ToolSession, SessionRecord)
# The person's and the context's ids and the context's deployment are the session's own columns, and the person's
# platform is the deployment's (a launch makes both for one platform): not read twice, since each of the ~30
# columns costs the driver work on every request.
_PERSON_COLUMNS = _columns(User, Person, given=("id", "platform_id"))
_CONTEXT_COLUMNS = _columns(Context, ContextRecord, given=("id", "deployment_id"))
_S, _P = len(_SESSION_COLUMNS), len(_SESSION_COLUMNS) + len(_PERSON_COLUMNS)
_C = _P + len(_CONTEXT_COLUMNS)


@functools.cache
def _session_by_token(also: Any = None) -> CursorStatement:
    """The session's read, with the column `also` (an expression over the session's row) when a view asks for it."""
    columns = (*_SESSION_COLUMNS, *_PERSON_COLUMNS, *_CONTEXT_COLUMNS, Deployment.platform_id)
    return CursorStatement(
        select(*columns, *(() if also is None else (also,)))
        .join(User, ToolSession.user_id == User.id)
        .join(Context, ToolSession.context_id == Context.id)
        .join(Deployment, ToolSession.deployment_id == Deployment.id)
        .where(ToolSession.token_hash == bindparam("token_hash"), Deployment.active.is_(True))
    )


def _load(token: str, ctx: AppContext, *, write: bool = False, also: Any = None) -> Visitor:
    # A page that writes (`writes_progress`) reads the session in its write transaction: on SQLite a read
    # transaction first would be committed and its connection checked in, then another checked out for BEGIN
    # IMMEDIATE (bench/FINDINGS.md, "step 14"). Any other page reads it alone (db.read_alone: without a
    # transaction or an ORM Session; a new learner's first page reads nothing more).
    statement, bound = _session_by_token(also), {"token_hash": token_hash(token)}
    if write:
        s = db.write_session()
        rows = statement.execute(s.connection(), bound)
    else:
        rows = db.read_alone(statement, bound)
    row = rows[0] if rows else None
    now = utcnow()
    session = None if row is None else SessionRecord(*row[:_S])
    if session is None or session.expires_at <= now:
        raise SessionExpired(
            _l("Your session with the course has ended or the link is not valid."),
            hint=_l("Please open the activity again from your course in the learning platform."),
        )
    assert row is not None
    seen = session.last_seen_at or session.created_at
    idle = idle_limit(ctx.app.config)
    if seen + idle <= now:
        raise SessionExpired(
            _l(
                "Your session with the course has ended because nothing happened on its pages for %(minutes)s minutes.",
                minutes=int(idle.total_seconds()) // 60,
            ),
            hint=_l("Please open the activity again from your course in the learning platform."),
            code="session_idle",
        )
    if now - seen >= SEEN_EVERY:
        if write:
            # Its own short write as below, in the transaction already begun as a writer (on SQLite another
            # writer's BEGIN IMMEDIATE would wait for this one); the view begins its own after it.
            s.connection().execute(_TOUCH, {"session_id": session.id, "seen_at": now})
            s.commit()
        else:
            touch(session.id, now)
        ctx.g.session_seen_at = now
    platform_id = row[
        _C
    ]  # the deployment's platform: the person's too (a launch makes them for one platform)
    return Visitor(
        session=session,
        user=Person(session.user_id, platform_id, *row[_S:_P]),
        context=ContextRecord(session.context_id, session.deployment_id, *row[_P:_C]),
        platform_id=platform_id,
        also=row[_C + 1] if also is not None else None,
    )


_TOUCH = (
    update(ToolSession)
    .where(ToolSession.id == bindparam("session_id"))
    .values(last_seen_at=bindparam("seen_at", type_=ToolSession.__table__.c.last_seen_at.type))
)


def touch(session_id: int, now: dt.datetime) -> None:
    """Record a request of the session (its own short write; the page's transaction stays a reader)."""
    with db.session_scope(write=True) as ws:
        ws.connection().execute(_TOUCH, {"session_id": session_id, "seen_at": now})


@dataclass(frozen=True)
class SessionClock:
    """Seconds until the session ends for inactivity and at the latest, and when to warn (for session.js)."""

    idle_remaining: int
    absolute_remaining: int
    warn: int


# Called on every page (several times on some): `g` and the config are read through the app context itself, once
# (each use of Flask's `g` or `current_app` proxy looks the context up again).


def session_clock() -> SessionClock | None:
    ctx = _cv_app.get()
    here = ctx.g.__dict__
    visitor: Visitor | None = here.get("visitor")
    if visitor is None:
        return None
    now = utcnow()
    seen = here.get("session_seen_at") or visitor.session.last_seen_at or visitor.session.created_at
    config = ctx.app.config
    idle_end = seen + idle_limit(config)
    return SessionClock(
        idle_remaining=max(0, int((idle_end - now).total_seconds())),
        absolute_remaining=max(0, int((visitor.session.expires_at - now).total_seconds())),
        warn=int(config["SESSION_WARNING_SECONDS"]),
    )


def current_visitor(*, write: bool = False, also: Any = None) -> Visitor:
    """The request's visitor, its session read on first use (`write`: in the request's transaction begun as a
    writer, for a view that writes; `also`: a column read with it, `Visitor.also`)."""
    ctx = _cv_app.get()
    here = ctx.g.__dict__
    visitor: Visitor | None = here.get("visitor")
    if visitor is None:
        token = here.get("session_token")
        if not token:
            raise SessionExpired(
                _l("This page belongs to a course session."),
                hint=_l("Please open the activity from your course in the learning platform."),
            )
        visitor = _load(token, ctx, write=write, also=also)
        frame_platform(visitor.platform_id)  # only this session's platform may frame its pages
        here["visitor"] = visitor
        here["locale"] = visitor.session.locale
    return visitor


def csrf_token() -> str:
    ctx = _cv_app.get()
    here = ctx.g.__dict__
    token = here.get("session_token") or ""
    known: tuple[str, str] | None = here.get("_csrf")  # a page asks for it several times (every form)
    if known is not None and known[0] == token:
        return known[1]
    key = ctx.app.config["SECRET_KEY"].encode()
    # hmac.digest: OpenSSL's HMAC in one call (hmac.new builds the inner and outer hash in Python).
    value = hmac.digest(key, b"csrf:" + token.encode(), "sha256").hex()[:40]
    here["_csrf"] = (token, value)
    return value


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
        _cv_app.get().g.session_token = (values or {}).pop(SESSION_ARG, None)

    @bp.before_request
    def _require_session() -> None:
        view = _cv_app.get().app.view_functions.get(request.endpoint or "")
        write = getattr(view, WRITES, False)
        try:
            current_visitor(write=write, also=getattr(view, ALSO, None))
        except SessionExpired as exc:
            if write:
                # The write transaction begun for the session's read ends here (on SQLite, keeping the text
                # below would wait for it).
                db.session().rollback()
            if request.method == "POST" and request.form.get("text"):
                from .course.drafts import keep_posted_text

                exc.posted_text = request.form["text"]
                exc.kept = keep_posted_text(g.get("session_token") or "", request.endpoint, request.view_args)
            raise
        if request.method == "POST":
            check_csrf()

    return bp


# The attribute `writes_progress` gives a view function.
WRITES = "nama_writes"


def writes_progress(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a view of a `session_blueprint` that begins its transaction with `db.write_session()`: the session
    is then read in that transaction (begun as a writer before the read). Put it under the route decorator."""
    setattr(view, WRITES, True)
    return view


# The attribute `reads_with_session` gives a view function.
ALSO = "nama_reads_with_session"


def reads_with_session(column: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a view of a `session_blueprint` whose page needs `column`, an expression over the session's row (its
    learner, context, course): it is read in the session's statement (one statement fewer) and given as
    `Visitor.also`. Put it under the route decorator."""

    def mark(view: Callable[P, R]) -> Callable[P, R]:
        setattr(view, ALSO, column)
        return view

    return mark


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
    if SESSION_ARG in values:
        return
    token = g.get("session_token")
    if token and endpoint in _session_endpoints(current_app.url_map):
        values[SESSION_ARG] = token


@functools.lru_cache(maxsize=8)
def _session_endpoints_of(url_map: Any, rules: int) -> frozenset[str]:
    return frozenset(rule.endpoint for rule in url_map.iter_rules() if SESSION_ARG in rule.arguments)


def _session_endpoints(url_map: Any) -> frozenset[str]:
    """Endpoints whose URL carries the session token (a page builds a dozen links; asked once per map)."""
    return _session_endpoints_of(url_map, len(url_map._rules_by_endpoint))


session_bp = session_blueprint("session", __name__, "/sitzung")


@session_bp.post("/beenden")
def end() -> tuple[str, int]:
    """End the session on the server at once (the "End session" button on every page)."""
    visitor = current_visitor()
    s = db.write_session()
    s.execute(update(ToolSession).where(ToolSession.id == visitor.session.id).values(expires_at=utcnow()))
    s.commit()
    log.info("session %s ended by its user", visitor.session.id)
    g.pop("visitor", None)
    g.pop("session_token", None)  # the page below belongs to no session any more
    return render_template("session_ended.html"), 200


@session_bp.post("/verlaengern")
def extend() -> Response:
    """Put the idle end off (from the warning, or while someone types): answers the new remaining times."""
    visitor = current_visitor()
    now = utcnow()
    touch(visitor.session.id, now)
    g.session_seen_at = now
    clock = session_clock()
    assert clock is not None
    return jsonify(idle_remaining=clock.idle_remaining, absolute_remaining=clock.absolute_remaining)


def init_app(app: Flask) -> None:
    app.url_defaults(_add_session_token)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["session_clock"] = session_clock
    app.register_blueprint(session_bp)

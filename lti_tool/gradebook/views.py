"""Instructor pages under /s/<sid>/lehrende/: the gradebook of the launched course context, one learner's detail,
sending failed grades again, and the CSV exports (reviewing practice tasks: review_views.py, same blueprint).

Every route needs an instructor session (`instructor_required`); the session blueprint checks CSRF on POST. A
learner is only ever looked up through a membership of the session's own course context (`detail.find_learner`),
so ids of other courses or platforms find nothing. Views read with `db.session()`; the writing ones begin with
`db.write_session()`, call the services (progress, grading) and commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, redirect, render_template, request, stream_with_context, url_for
from flask_babel import format_decimal, ngettext
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from .. import db
from ..auth import current_visitor, instructor_required, session_blueprint
from ..course.catalog import get_catalog
from ..course.model import Module
from ..errors import NotFound
from ..grading import reconcile, resend
from ..i18n import BERLIN, percent
from ..i18n import lazy_gettext as _l
from ..models import ModuleProgress, ResourceLink, utcnow
from . import cells, export, listing, rows
from . import detail as details
from .detail import LearnerNotFound
from .listing import FILTERS, SORTS
from .roster import fetch_roster, roster_source, store_roster_refresh
from .rows import Scope

log = logging.getLogger(__name__)

bp = session_blueprint("instructor", __name__, "/lehrende")

EXPORT_BATCH = 500  # learners per database round trip while streaming a CSV


# --- Shared --------------------------------------------------------------------------------------------


def scope() -> Scope:
    visitor = current_visitor()
    course = get_catalog().get(visitor.course_id)
    if course is None:  # the launch checked it; the course folder was removed since
        raise NotFound(
            _l("This course is not offered any more."),
            hint=_l("Please ask the tool operator which course to use now."),
        )
    return Scope(
        context_id=visitor.context.id,
        platform_id=visitor.platform_id,
        course=course,
        context=visitor.context,
    )


def _no_such_learner() -> NotFound:
    return NotFound(
        _l("There is no such learner in this course."),
        hint=_l("Please choose a learner from the gradebook of this course."),
        code="learner_not_found",
    )


def find_learner(scope: Scope, user_id: int) -> details.Learner:
    try:
        return details.find_learner(db.session(), scope, user_id)
    except LearnerNotFound:
        raise _no_such_learner() from None


def find_module(scope: Scope, module_id: str) -> Module:
    module = scope.course.module(module_id)
    if module is None:
        raise NotFound(
            _l("This course has no such module."),
            hint=_l("Please choose a practice task from the learner's page."),
            code="module_not_found",
        )
    return module


def view_args(args: Any) -> dict[str, Any]:
    """Sort, filter and page from the query string (or a form), unknown values replaced by the defaults."""
    sort = args.get("sortierung", "")
    only = args.get("filter", "")
    raw_page = str(args.get("seite", ""))
    number = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and len(raw_page) < 7 else 1
    return {
        "sortierung": sort if sort in SORTS else SORTS[0],
        "filter": only if only in FILTERS else FILTERS[0],
        "seite": max(1, number),
    }


def kept_view(args: Any) -> dict[str, Any]:
    """The gradebook's view (filter, sort, page) as far as it differs from the defaults: what links to a learner's
    page and back carry in their URL, so that coming back shows the same list."""
    shown = view_args(args)
    defaults = {"sortierung": SORTS[0], "filter": FILTERS[0], "seite": 1}
    return {key: value for key, value in shown.items() if value != defaults[key]}


def score(value: float | None) -> str:
    """A grade's value in the interface language: 12,5 (German), 12.5 (English); at most two decimals."""
    if value is None:
        return ""
    return str(format_decimal(round(value, 2), format="#,##0.##"))


def _resent() -> int | None:
    """How many grades "send again" queued (shown after its redirect), from ?gesendet=N."""
    raw = request.args.get("gesendet", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else None


@bp.app_template_global("gradebook_view")
def gradebook_view() -> dict[str, Any]:
    """For templates (macros imported without context too): this URL's gradebook view (`kept_view`)."""
    return kept_view(request.args)


def _scores() -> Callable[[float | None], str]:
    """`score` remembering what it wrote for one page: a gradebook page shows the same few values (0 / 100,
    50 / 100, …) in most of its rows, and each formatting through Babel costs ~40 µs."""
    written: dict[float, str] = {}

    def shown(value: float | None) -> str:
        if value is None:
            return ""
        found = written.get(value)
        if found is None:
            found = written[value] = score(value)
        return found

    return shown


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"percent": percent, "score": _scores(), "keep": kept_view(request.args)}


# --- The gradebook ---------------------------------------------------------------------------------------


@bp.get("/")
@instructor_required
def start() -> str:
    """Where an instructor's launch lands: the gradebook of the course context."""
    where = scope()
    visitor = current_visitor()
    args = view_args(request.args)
    shown = listing.page(
        db.session(), where, sort=args["sortierung"], only=args["filter"], number=args["seite"]
    )
    args["seite"] = shown.number
    return render_template(
        "gradebook/gradebook.html",
        course=where.course,
        visitor=visitor,
        book=shown,
        args=args,
        keep=kept_view(args),
        module_cells=cells.ModuleCells(kept_view(args)),
        review_waiting=shown.counts["texts"],
        review_waiting_text=_review_waiting_text(shown.counts["texts"]),
        grades_off=_grades_off(),
        removed=len(rows.removed_delivery_ids(db.session(), where)),
        resent=_resent(),
        refreshed=_refreshed(),
        roster_fetched_at=visitor.context.roster_fetched_at,
        roster_available=bool(visitor.context.nrps_url),
    )


def _review_waiting_text(answers: int) -> str:
    """The header's link to the practice answers waiting for a review (the summary's count: the same answers
    as `reviews.review_counts`, without a statement of its own)."""
    return str(
        ngettext(
            "%(num)s practice answer waiting for review",
            "%(num)s practice answers waiting for review",
            answers,
        )
    )


def _grades_off() -> bool:
    """The launched activity takes no grades from the tool: its launch carried no AGS `lineitem` (Moodle:
    "Accept grades from the tool" is off), or the platform grants no score scope."""
    visitor = current_visitor()
    link_id = visitor.session.resource_link_id
    if link_id is None:
        return False
    scopes = visitor.context.ags_scopes
    if scopes is not None and "https://purl.imsglobal.org/spec/lti-ags/scope/score" not in scopes:
        return True
    url = db.session().scalar(select(ResourceLink.lineitem_url).where(ResourceLink.id == link_id))
    return url is None


def _send_missing(where: Scope, user_ids: list[int]) -> int:
    """Queue what each of these learners' grade items should hold but was never sent (every activity of the
    course context, launched by the learner or not)."""
    s = db.session()
    added = 0
    for user_id in user_ids:
        added += len(
            reconcile(s, user_id=user_id, context_id=where.context_id, course=where.course, unlaunched=True)
        )
    return added


@bp.post("/teilnehmerliste")
@instructor_required
def refresh_participants() -> BaseResponse:
    """Fetch the participant list from the platform (NRPS) now; a RosterError page when that fails (nothing
    written)."""
    visitor = current_visitor()
    s = db.session()
    source = roster_source(s, visitor.context)
    s.commit()  # no database transaction stays open while the platform answers
    roster = fetch_roster(source)
    fetched = store_roster_refresh(db.write_session(), source, roster)
    s.commit()
    log.info(
        "instructor %s refreshed the roster of context %s: %d members, %d learners",
        visitor.user.id,
        visitor.context.id,
        fetched.members,
        fetched.learners,
    )
    return redirect(
        url_for("instructor.start", **view_args(request.form), teilnehmer=fetched.learners), code=303
    )


def _refreshed() -> int | None:
    """How many learners the participant list holds after a refresh (shown after its redirect)."""
    raw = request.args.get("teilnehmer", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else None


@bp.post("/noten-senden")
@instructor_required
def resend_all_failed() -> BaseResponse:
    """Send every failed grade of this course context again (the newest failed row of each learner's target),
    and what any activity's grade item lacks of a learner with results."""
    where = scope()
    s = db.write_session()
    failed = rows.failed_delivery_ids(s, where)
    added = len(resend(s, failed, context_id=where.context_id)) if failed else 0
    with_results = s.scalars(
        select(ModuleProgress.user_id)
        .where(ModuleProgress.context_id == where.context_id, ModuleProgress.course_id == where.course.id)
        .distinct()
        .order_by(ModuleProgress.user_id)
    ).all()
    added += _send_missing(where, list(with_results))
    s.commit()
    log.info(
        "instructor %s sent %d failed or missing grade(s) of context %s",
        current_visitor().user.id,
        added,
        where.context_id,
    )
    return redirect(url_for("instructor.start", **view_args(request.form), gesendet=added), code=303)


@bp.post("/spalten-neu-anlegen")
@instructor_required
def recreate_removed() -> BaseResponse:
    """The teacher's explicit decision: grade items deleted in the LMS are created (or found) again and their
    grades sent. Never done without this button."""
    where = scope()
    s = db.write_session()
    removed = rows.removed_delivery_ids(s, where)
    added = resend(s, removed, context_id=where.context_id, removed=True) if removed else []
    s.commit()
    log.info(
        "instructor %s re-created grade items for %d grade(s) of context %s",
        current_visitor().user.id,
        len(added),
        where.context_id,
    )
    return redirect(url_for("instructor.start", **view_args(request.form), gesendet=len(added)), code=303)


@bp.post("/lernende/<int:user_id>/noten-senden")
@instructor_required
def resend_grades(user_id: int) -> BaseResponse:
    """Send this learner's failed grades of this course context again (the newest failed row of each target),
    and whatever their activities' grade items lack."""
    where = scope()
    s = db.write_session()
    learner = find_learner(where, user_id)
    failed = [d.id for _, d in rows.newest_deliveries(s, where, [learner.user.id]) if d.group == "failed"]
    added = len(resend(s, failed, context_id=where.context_id, user_id=learner.user.id)) if failed else 0
    added += _send_missing(where, [learner.user.id])
    s.commit()
    log.info("instructor %s sent %d grade(s) of user %s", current_visitor().user.id, added, user_id)
    back = request.form.get("zurueck")
    if back == "lernende":
        view = kept_view(request.form)
        return redirect(url_for("instructor.learner", user_id=user_id, gesendet=added, **view), code=303)
    return redirect(url_for("instructor.start", **view_args(request.form), gesendet=added), code=303)


# --- One learner -----------------------------------------------------------------------------------------


@bp.get("/lernende/<int:user_id>")
@instructor_required
def learner(user_id: int) -> str:
    where = scope()
    try:
        shown = details.detail(db.session(), where, user_id)
    except LearnerNotFound:
        raise _no_such_learner() from None
    return render_template(
        "gradebook/learner.html",
        course=where.course,
        detail=shown,
        resent=_resent(),
        roster_fetched=current_visitor().context.roster_fetched_at is not None,
    )


# --- Exports -----------------------------------------------------------------------------------------------


def _csv(kind: str, chunks: Any) -> Response:
    today = utcnow().astimezone(BERLIN).date()
    label = current_visitor().context.label or current_visitor().context.title or kind
    resp = Response(stream_with_context(chunks), mimetype="text/csv")
    resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = f'attachment; filename="{export.filename(kind, label, today)}"'
    return resp


@bp.get("/export/notenliste.csv")
@instructor_required
def export_gradebook() -> Response:
    """One row per learner (the gradebook's filter and sort), columns per module."""
    where = scope()
    args = view_args(request.args)

    def chunks() -> Any:
        yield from export.gradebook_lines(
            db.session(), where, sort=args["sortierung"], only=args["filter"], batch=EXPORT_BATCH
        )

    return _csv("notenliste", chunks())


@bp.get("/export/abschluesse.csv")
@instructor_required
def export_completions() -> Response:
    """Who completed the course, when, and the certificate code (for the certification office)."""
    where = scope()

    def chunks() -> Any:
        yield from export.lines(export.completion_records(db.session(), where, batch=EXPORT_BATCH))

    return _csv("abschluesse", chunks())


def init_app(app: Flask) -> None:
    from . import exchange_views, review_views  # noqa: F401  (their routes join this blueprint)

    app.register_blueprint(bp)

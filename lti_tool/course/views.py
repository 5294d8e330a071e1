"""Learner pages under /s/<sid>/: course overview, module page, lesson pages (quiz and practice task: see
quiz_views.py and practice_views.py, same blueprint).

URL scheme (the loader's relative links depend on it, see markdown.py): the overview at `/s/<sid>/`, a module at
`m/<module>/`, its pages at `m/<module>/<page>` (lessons by id, `quiz`, `ergebnis`, `praxis`, `austausch`).
Views read with `db.session()` (the overview and the module page alone: db.read_alone); a view that writes starts
its transaction with `db.write_session()`, calls `lti_tool.progress` and commits (marked `writes_progress`, it has
the session read in that transaction).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any

from flask import Flask, redirect, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from .. import db, fragments, progress
from ..auth import Visitor, current_visitor, reads_with_session, session_blueprint, writes_progress
from ..errors import NotFound, error_response
from ..i18n import BERLIN, decimal, percent
from ..i18n import lazy_gettext as _l
from ..progress import Learner, Location
from .catalog import get_catalog
from .completion import (
    ModuleSnapshot,
    ModuleStatus,
    Step,
    module_status,
    next_step,
    next_step_in_module,
)
from .model import Course, Module

log = logging.getLogger(__name__)

bp = session_blueprint("learner", __name__)


# --- Shared by the learner pages -----------------------------------------------------------------


@dataclass(frozen=True)
class Here:
    """The request's learner, course and the modules the activity shows (one, if it points at a module)."""

    visitor: Visitor
    learner: Learner
    course: Course
    modules: tuple[Module, ...]

    @property
    def single_module(self) -> Module | None:
        return self.modules[0] if self.visitor.session.module_id and len(self.modules) == 1 else None


def here() -> Here:
    visitor = current_visitor()
    course = get_catalog().get(visitor.course_id)
    if course is None:  # the launch checked it; the course folder was removed since
        raise NotFound(
            _l("This course is not offered any more."),
            hint=_l("Please ask your teacher which course to use now."),
        )
    modules = course.modules
    if visitor.session.module_id:
        modules = tuple(m for m in modules if m.id == visitor.session.module_id) or modules
    return Here(visitor, Learner.of(visitor), course, modules)


def find_module(course: Course, module_id: str) -> Module:
    module = course.module(module_id)
    if module is None:
        raise NotFound(
            _l("This course has no such module."),
            hint=_l("Please go back to the course overview and choose a module from the list."),
        )
    return module


def step_url(step: Step) -> str:
    if step.kind == "lesson":
        return url_for("learner.lesson", module_id=step.module_id, lesson_id=step.lesson_id)
    if step.kind == "quiz":
        return url_for("learner.quiz", module_id=step.module_id)
    return url_for("learner.practice", module_id=step.module_id)


def step_title(course: Course, step: Step) -> str:
    module = course.module(step.module_id)
    assert module is not None
    if step.kind == "lesson" and step.lesson_id:
        lesson = module.lesson(step.lesson_id)
        assert lesson is not None
        return lesson.title
    if step.kind == "quiz":
        return str(_l("Quiz: %(module)s", module=module.title))
    return module.practice.title


def location_url(location: Location) -> str:
    if location.page == "":
        return url_for("learner.module", module_id=location.module_id)
    if location.page == "quiz":
        return url_for("learner.quiz", module_id=location.module_id)
    if location.page == "praxis":
        return url_for("learner.practice", module_id=location.module_id)
    if location.page == "austausch":
        return url_for("learner.exchange", module_id=location.module_id)
    return url_for("learner.lesson", module_id=location.module_id, lesson_id=location.page)


def location_title(course: Course, location: Location) -> str:
    module = course.module(location.module_id)
    assert module is not None
    lesson = module.lesson(location.page)
    if lesson is not None:
        return lesson.title
    if location.page == "quiz":
        return str(_l("Quiz: %(module)s", module=module.title))
    if location.page == "praxis":
        return module.practice.title
    return module.title


@dataclass(frozen=True)
class ModuleRow:
    """One module's line on the overview: its status and the next thing to do in it (None: nothing left)."""

    module: Module
    status: ModuleStatus
    step: Step | None
    step_href: str | None
    new_replies: int = 0  # replies to the learner's practice answer they have not seen on the exchange page


def berlin_day(moment: dt.datetime) -> dt.date:
    """The day a moment falls on in Berlin (what `berlin_date` shows of it)."""
    return moment.astimezone(BERLIN).date()


def duration(minutes: int) -> str:
    """Minutes as people read a duration: "45 Min.", "2 Std. 25 Min." (interface language)."""
    hours, rest = divmod(max(minutes, 0), 60)
    if not hours:
        return str(_l("%(m)s min.", m=rest))
    if not rest:
        return str(_l("%(h)s h", h=hours))
    return str(_l("%(h)s h %(m)s min.", h=hours, m=rest))


def hours(value: float) -> str:
    """A workload in hours as a number in the interface language (4, 4,5)."""
    return decimal(value)


@bp.errorhandler(progress.ProgressError)
def _refused(exc: progress.ProgressError) -> ResponseReturnValue:
    log.warning("progress write refused: %s (%s)", exc.code, exc)
    texts = {
        "attempt_not_found": (
            404,
            _l("Quiz attempt not found"),
            _l("This quiz attempt does not exist or does not belong to you."),
            _l("Open the quiz again from the module page."),
        ),
        "quiz_changed": (
            409,
            _l("The quiz has changed"),
            _l("The quiz was updated after you opened it, so these answers cannot be scored."),
            _l("Please open the quiz again and answer the current questions."),
        ),
        "practice_locked": (
            409,
            _l("Already accepted"),
            _l("Your practice task has been accepted by a teacher and cannot be changed any more."),
            None,
        ),
    }
    status, title, message, hint = texts.get(
        exc.code,
        (
            400,
            _l("The input could not be accepted"),
            _l("What was sent does not fit this page. Nothing was saved."),
            _l("Reload the page and try again."),
        ),
    )
    return error_response(status, exc.code, title, message, hint)


# --- Overview, module, lesson --------------------------------------------------------------------


def any_progress(visitor: Visitor) -> bool:
    """Whether the learner may have progress in the session's course: False only when the session's read said they
    have none (a learner the launch just created), so that their page needs no read of it (progress.ANY_PROGRESS)."""
    return visitor.also is not False


@bp.get("/")
@reads_with_session(progress.ANY_PROGRESS)
def start() -> Response | str | bytes:
    """Where a launch lands: the course overview, or the module page when the activity is one module."""
    where = here()
    if where.single_module is not None:
        return redirect(url_for("learner.module", module_id=where.single_module.id), code=303)
    return overview()


@bp.get("/uebersicht")
@reads_with_session(progress.ANY_PROGRESS)
def overview() -> str | bytes:
    """The course overview. Kept rendered (fragments.page) per course, activity and what the template shows of
    the learner's progress: every new learner's first page after a launch is the same page but for the session
    token, the CSRF token and the learner's name."""
    where = here()
    course = where.course
    # No ORM Session: the read runs alone (db.read_alone), or not at all for a learner without progress.
    state = progress.course_state(None, where.learner, course, read=any_progress(where.visitor))
    statuses, step = _progress_shown(where, state)
    last = state.last if state.last and any(m.id == state.last.module_id for m in where.modules) else None
    completed_at = state.completed_at
    single = where.single_module
    real_name = where.visitor.user.real_name or ""

    def context() -> dict[str, object]:
        rows = [
            ModuleRow(m, status, s, step_url(s) if s else None, snap.new_replies)
            for m, snap, status, s in statuses
        ]
        last_url = location_url(last) if last else None
        step_href = step_url(step) if step else None
        return {
            "course": course,
            "rows": rows,
            "done": sum(1 for row in rows if row.status.complete),
            "remaining": duration(sum(row.module.minutes for row in rows if not row.status.complete)),
            "required": len(course.required_module_ids),
            "workload_hours": hours(course.workload.hours) if course.workload else None,
            "single": single,
            "step": step,
            "step_href": step_href,
            "step_title": step_title(course, step) if step else None,
            "last": last,
            "last_url": last_url if last_url != step_href else None,
            "last_title": location_title(course, last) if last else None,
            "completed_at": completed_at,
            "percent": percent,
            "duration": duration,
            "real_name": real_name,
        }

    return fragments.page(
        "course/overview.html",
        (
            id(course),
            tuple(m.id for m in where.modules),
            single.id if single else None,
            tuple((status, s) for _, _, status, s in statuses),
            tuple(snap.new_replies for _, snap, _, _ in statuses),
            step,
            last,
            # The page shows the day only (berlin_date): learners who completed on the same day share it.
            berlin_day(completed_at) if completed_at else None,
            bool(real_name),
        ),
        context,
        # A hole only when there is a name: the template tests it (and the marker is no empty string).
        {"real_name": real_name} if real_name else None,
        store="nama_learner_pages",
    )


_Shown = tuple[tuple[tuple[Module, ModuleSnapshot, ModuleStatus, Step | None], ...], Step | None]
# What the overview shows of a learner's progress (each module's status and next step, the next step), worked out
# once per course, activity and progress state: a new learner's (every launch's first page) is always the same, and
# a returning learner's stays the same while nothing changes (a reload). Bounded: forgotten all at once when full.
_SHOWN: dict[tuple[Any, ...], tuple[Course, _Shown]] = {}
_MAX_SHOWN = 512  # a few kilobytes each


def _progress_shown(where: Here, state: progress.CourseState) -> _Shown:
    snaps = tuple(state.snapshot.module(m.id) for m in where.modules)
    course = where.course
    key = (id(course), where.visitor.session.module_id, snaps, state.last_module_id)
    found = _SHOWN.get(key)
    if found is not None and found[0] is course:
        return found[1]
    # A complete module still offers an optional practice task that is not written yet.
    statuses = tuple(
        (m, snap, module_status(course, m, snap), next_step_in_module(course, m, snap))
        for m, snap in zip(where.modules, snaps, strict=True)
    )
    step = next_step(course, state.snapshot, modules=where.modules, current_module_id=state.last_module_id)
    if len(_SHOWN) >= _MAX_SHOWN:
        _SHOWN.clear()
    _SHOWN[key] = (course, (statuses, step))
    return statuses, step


@bp.get("/m/<module_id>/")
@reads_with_session(progress.ANY_PROGRESS)
def module(module_id: str) -> str | bytes:
    where = here()
    course = where.course
    mod = find_module(course, module_id)
    snap = progress.module_snapshot(None, where.learner, course, mod, read=any_progress(where.visitor))
    status = module_status(course, mod, snap)
    step = next_step_in_module(course, mod, snap)
    new_replies = snap.new_replies
    single = where.single_module
    # The best score is put in per request (a hole of the kept page, only when there is one), so that learners
    # with other scores share the page: the status the page is kept by and shown from has none.
    best_score = None if status.best_score is None else percent(status.best_score)
    shown = replace(status, best_score=None)
    # Kept rendered (fragments.page) per module and what the page shows of the learner's progress in it: the
    # first page after launching a one-module activity, and every learner's page before their first lesson.
    return fragments.page(
        "course/module.html",
        (id(course), mod.id, single.id if single else None, shown, snap.seen_lessons, step, new_replies),
        lambda: {
            "course": course,
            "module": mod,
            "status": shown,
            "best_score": best_score,
            "seen": snap.seen_lessons,
            "step": step,
            "step_href": step_url(step) if step else None,
            "step_title": step_title(course, step) if step else None,
            "next_module": course.next_module(mod.id) if single is None else None,
            "single": single,
            "percent": percent,
            "new_replies": new_replies,
        },
        None if best_score is None else {"best_score": best_score},
        store="nama_learner_pages",
    )


@bp.get("/m/<module_id>/<lesson_id>")
@writes_progress
def lesson(module_id: str, lesson_id: str) -> str | bytes:
    where = here()
    course = where.course
    mod = find_module(course, module_id)
    page = mod.lesson(lesson_id)
    if page is None:
        raise NotFound(
            _l("This module has no such page."),
            hint=_l("Please choose a page from the module's list of lessons."),
        )
    s = db.write_session()
    progress.record_lesson_view(s, where.learner, course, mod, page.id)
    s.commit()
    index = page.position - 1
    single = where.single_module
    return fragments.page(
        "course/lesson.html",
        (id(course), mod.id, page.id, single.id if single else None),
        lambda: {
            "course": course,
            "module": mod,
            "lesson": page,
            "previous": mod.lessons[index - 1] if index > 0 else None,
            "following": mod.lessons[index + 1] if index + 1 < len(mod.lessons) else None,
            "single": single,
        },
    )


def init_app(app: Flask) -> None:
    from . import page_views, practice_views, quiz_views  # noqa: F401  (their routes join this blueprint)

    app.register_blueprint(bp)

"""The seam every grade-affecting write ends in (`refresh_progress`), the lock that serialises one learner's
writes, and the lesson visit.

Every write starts with `lock_learner`, which serialises the writes of one learner in one course context (a
transaction-level advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite), so two tabs or a double click queue
up instead of failing or counting twice; rows are written with INSERT … ON CONFLICT all the same.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from sqlalchemy.orm import Session

from ..course.completion import (
    ModuleSnapshot,
    ModuleStatus,
    course_complete_from,
    module_complete,
    module_status,
    pass_threshold,
)
from ..course.model import Course, Module
from ..cursorsql import CursorStatement
from ..db import advisory_lock, upsert
from ..gradebook.summary import course_grade, refresh_learner, touch_learner
from ..grading import enqueue_grades
from ..models import CourseProgress, GradeOutbox, ModuleProgress, utcnow
from ..register.entries import record_completion
from .learner import Learner
from .reads import snapshot_of
from .statements import (
    REFRESH_SOURCES,
    SOURCE_COMPLETED_MODULE,
    SOURCE_COURSE,
    SOURCE_PRACTICE,
    SOURCE_PROGRESS,
    SOURCE_QUIZ,
    SOURCE_SEEN,
    ModuleSourceRow,
    lesson_visit_statement,
    owner,
    params,
    progress_rows_statement,
)


def lock_learner(s: Session, learner: Learner, course_id: str) -> None:
    """Serialise this learner's progress writes in this course context until the transaction ends."""
    advisory_lock(s, f"progress:{learner.user_id}:{learner.context_id}:{course_id}")


def set_location(
    s: Session, learner: Learner, course_id: str, module_id: str, page: str, now: dt.datetime
) -> None:
    """Remember the page as the learner's place in the course (the overview offers to go back there); it is
    the learner's last activity in the gradebook's summary too. A write that calls `refresh_progress` passes the
    page as its `location` instead (one write of the course's row, the summary rewritten with the same `now`)."""
    upsert(
        s,
        CourseProgress,
        owner(learner, course_id),
        {"last_module_id": module_id, "last_location": f"{module_id}/{page}", "updated_at": now},
    )
    touch_learner(s, user_id=learner.user_id, context_id=learner.context_id, course_id=course_id, now=now)


Cause = Literal[
    "lesson_seen", "quiz_submitted", "practice_submitted", "practice_reviewed", "practice_revision"
]


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """What one grade-affecting write changed for one learner in one module (and the course)."""

    learner: Learner
    course_id: str
    module_id: str
    cause: Cause
    old_best_score: float | None
    new_best_score: float | None
    module_completed_now: bool
    course_completed_now: bool
    module_completed_at: dt.datetime | None
    course_completed_at: dt.datetime | None
    status: ModuleStatus
    at: dt.datetime

    @property
    def best_score_changed(self) -> bool:
        return self.old_best_score != self.new_best_score

    @property
    def grade_affected(self) -> bool:
        """Anything a gradebook or the LMS would show differently after this write."""
        return (
            self.best_score_changed
            or self.module_completed_now
            or self.course_completed_now
            or self.cause in ("practice_submitted", "practice_reviewed", "practice_revision")
        )


class _Recount(NamedTuple):
    """The module's quiz record recounted from the attempts, with the completion recorded before this write."""

    best_score: float | None
    attempts: int
    passed_at: dt.datetime | None
    completed_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class _ModuleSources:
    """What the module's derived progress is computed from, read under the learner's lock, with the course's
    standing before this write: its recorded completion and the modules completed."""

    seen: frozenset[str]
    quiz: _Recount
    practice: Any | None  # submitted_at, reviewed_at, revision_requested_at; None: no practice text
    old_best_score: float | None
    course_completed_at: dt.datetime | None
    completed_modules: frozenset[str]

    def snapshot(self) -> ModuleSnapshot:
        return snapshot_of(self.seen, self.quiz, self.practice)


def refresh_progress(
    s: Session,
    learner: Learner,
    course: Course,
    module: Module,
    cause: Cause,
    now: dt.datetime,
    *,
    location: str | None = None,
) -> ProgressUpdate:
    """Recompute the learner's ModuleProgress (from the source rows) and CourseProgress, return what changed.

    The seam for grades: every grade-affecting write calls this, under `lock_learner`, in the transaction that
    made the change, and this queues the grades for the LMS (`enqueue_grades`), when the course is completed
    now, writes the certification register's entry, and rewrites the learner's row of the gradebook's summary
    (`gradebook.summary`), so all travel in the same commit as the progress that caused them. Completion is
    sticky: a recorded `completed_at` is never cleared. `location`: a page of this module (as `set_location`
    takes it) to remember as the learner's place in the same write of the course's row (no `set_location` after).
    """
    s.flush()  # the reads below run on the connection: whatever the session holds goes first
    sources = _read_module_sources(s, learner, course, module)
    snap = sources.snapshot()
    old_completed_at = sources.quiz.completed_at
    completed_at = old_completed_at or (now if module_complete(course, module, snap) else None)
    done = sources.completed_modules | {module.id} if completed_at else sources.completed_modules
    old_course_completed_at = sources.course_completed_at
    # The course's completion (recorded before, or now), from the modules completed so far.
    course_completed_at = old_course_completed_at or (now if course_complete_from(course, done) else None)
    _write_progress(s, learner, course, module, sources, completed_at, course_completed_at, now, location)
    update = ProgressUpdate(
        learner=learner,
        course_id=course.id,
        module_id=module.id,
        cause=cause,
        old_best_score=sources.old_best_score,
        new_best_score=sources.quiz.best_score,
        module_completed_now=old_completed_at is None and completed_at is not None,
        course_completed_now=old_course_completed_at is None and course_completed_at is not None,
        module_completed_at=completed_at,
        course_completed_at=course_completed_at,
        status=module_status(course, module, snap),
        at=now,
    )
    queued = _record_consequences(s, learner, course, update)
    refresh_learner(
        s,
        user_id=learner.user_id,
        context_id=learner.context_id,
        course_id=course.id,
        now=now,
        grade=course_grade(queued),
    )
    return update


def _read_module_sources(s: Session, learner: Learner, course: Course, module: Module) -> _ModuleSources:
    """All of it in one statement (REFRESH_SOURCES): the lesson visits, the quiz totals, the practice dates, the
    module's progress row and the course's standing."""
    bound = params(learner, course.id, module.id, pass_threshold=pass_threshold(course))
    seen: set[str] = set()
    completed: set[str] = set()
    quiz: Any = None
    practice: Any = None
    old: Any = None
    course_completed_at = None
    for row in map(ModuleSourceRow._make, _REFRESH_SOURCES.execute(s.connection(), bound)):
        kind = row.kind
        if kind == SOURCE_SEEN:
            seen.add(row.name)
        elif kind == SOURCE_QUIZ:
            quiz = row
        elif kind == SOURCE_PRACTICE:
            practice = row
        elif kind == SOURCE_PROGRESS:
            old = row
        elif kind == SOURCE_COURSE:
            course_completed_at = row.at
        elif kind == SOURCE_COMPLETED_MODULE:
            completed.add(row.name)
    assert quiz is not None  # an aggregate: always one row
    return _ModuleSources(
        seen=frozenset(seen),
        quiz=_Recount(quiz.score, int(quiz.attempts), quiz.at, old.at if old else None),
        practice=_PracticeDates(practice.at, practice.reviewed_at, practice.revision_requested_at)
        if practice
        else None,
        old_best_score=old.score if old else None,
        course_completed_at=course_completed_at,
        completed_modules=frozenset(completed),
    )


# On the DBAPI cursor (lti_tool/cursorsql.py): every progress write reads it.
_REFRESH_SOURCES = CursorStatement(REFRESH_SOURCES)


class _PracticeDates(NamedTuple):
    submitted_at: dt.datetime | None
    reviewed_at: dt.datetime | None
    revision_requested_at: dt.datetime | None


def _write_progress(
    s: Session,
    learner: Learner,
    course: Course,
    module: Module,
    sources: _ModuleSources,
    completed_at: dt.datetime | None,
    course_completed_at: dt.datetime | None,
    now: dt.datetime,
    location: str | None,
) -> None:
    """The module's row and the course's (with `location`, the learner's place in the same write): one statement
    on PostgreSQL (statements.progress_rows_statement), two upserts elsewhere."""
    module_values: dict[str, Any] = {
        "lessons_seen": sum(1 for lesson in module.lessons if lesson.id in sources.seen),
        "attempts": sources.quiz.attempts,
        "best_score": sources.quiz.best_score,
        "quiz_passed_at": sources.quiz.passed_at,
        "practice_submitted_at": sources.practice.submitted_at if sources.practice else None,
    }
    place = f"{module.id}/{location}" if location is not None else None
    if s.get_bind().dialect.name == "postgresql":
        bound = params(
            learner,
            course.id,
            module.id,
            **module_values,
            module_completed_at=completed_at,
            course_completed_at=course_completed_at,
            now=now,
            location=place,
        )
        _progress_rows(place is not None).execute(s.connection(), bound)
        return
    new_row = {"started_at": now}
    module_values.update(completed_at=completed_at, updated_at=now)
    upsert(
        s,
        ModuleProgress,
        {**owner(learner, course.id), "module_id": module.id},
        module_values,
        inserted=new_row,
    )
    course_values: dict[str, Any] = {"completed_at": course_completed_at, "updated_at": now}
    if place is not None:
        course_values.update(last_module_id=module.id, last_location=place)
    upsert(s, CourseProgress, owner(learner, course.id), course_values, inserted=new_row)


def _record_consequences(
    s: Session, learner: Learner, course: Course, update: ProgressUpdate
) -> list[GradeOutbox]:
    """The certification register's entry and the grades for the LMS, in the transaction of the change; returns
    the grade rows queued (the learner's summary, rewritten next, shows the course grade among them)."""
    if update.course_completed_now:
        record_completion(
            s,
            user_id=learner.user_id,
            platform_id=learner.platform_id,
            context_id=learner.context_id,
            course_id=course.id,
            resource_link_id=learner.resource_link_id,
            completed_at=update.at,
        )
    if not update.grade_affected:
        return []
    return enqueue_grades(
        s,
        user_id=learner.user_id,
        context_id=learner.context_id,
        course=course,
        changed_module_ids=[update.module_id],
        note_in_gradebook=False,
    )


@functools.cache
def _progress_rows(location: bool) -> CursorStatement:
    """`progress_rows_statement` on the DBAPI cursor (every progress write on PostgreSQL runs it)."""
    return CursorStatement(progress_rows_statement(location=location))


@functools.cache
def _lesson_visit(dialect: str) -> CursorStatement:
    """`lesson_visit_statement` on the DBAPI cursor (every lesson page runs it: lti_tool/cursorsql.py)."""
    return CursorStatement(lesson_visit_statement(dialect))


def record_lesson_view(
    s: Session, learner: Learner, course: Course, module: Module, lesson_id: str
) -> ProgressUpdate | None:
    """Mark the lesson seen (first visit only) and remember it as the learner's place.

    Returns the ProgressUpdate when this was the first visit (it may complete the module), else None.
    """
    if module.lesson(lesson_id) is None:
        raise ValueError(f"module {module.id!r} has no lesson {lesson_id!r}")
    now = utcnow()
    lock_learner(s, learner, course.id)
    dialect = s.get_bind().dialect.name
    location = f"{module.id}/{lesson_id}"
    bound = params(learner, course.id, module.id, lesson_id=lesson_id, location=location, now=now)
    # On PostgreSQL a repeat visit's place is written by this statement too (see lesson_visit_statement).
    new = bool(_lesson_visit(dialect).execute(s.connection(), bound))
    if new:
        return refresh_progress(s, learner, course, module, "lesson_seen", now, location=lesson_id)
    if dialect != "postgresql":
        set_location(s, learner, course.id, module.id, lesson_id, now)
    return None

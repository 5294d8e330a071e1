"""What the learner's pages show: where they were, and their progress in a module or the whole course, each
read in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from ..course.completion import ModuleSnapshot, Snapshot
from ..course.model import Course, Module
from ..cursorsql import CursorStatement
from ..db import read_alone
from .learner import Learner
from .statements import (
    COURSE_STATE,
    LAST_LOCATION,
    MODULE_STATE,
    PRACTICE_ROW,
    PROGRESS_ROW,
    SEEN_ROW,
    SOURCE_PROGRESS,
    SOURCE_SEEN,
    ModuleSourceRow,
    owner,
    params,
    read,
)


@dataclass(frozen=True, slots=True)
class Location:
    """A page of the course: a module's page ("" = its start page), a lesson id, "quiz" or "praxis"."""

    module_id: str
    page: str


def last_location(s: Session, learner: Learner, course: Course) -> Location | None:
    """Where the learner last was in this course (from any device), if that page still exists."""
    raw = read(s, LAST_LOCATION, owner(learner, course.id)).scalar()
    return parse_location(course, raw)


def parse_location(course: Course, raw: str | None) -> Location | None:
    if not raw or "/" not in raw:
        return None
    module_id, page = raw.split("/", 1)
    module = course.module(module_id)
    if module is None:
        return None
    if page in ("", "quiz", "praxis", "austausch") or module.lesson(page) is not None:
        return Location(module_id, page)
    return None


def snapshot_of(
    seen: Iterable[str], quiz: Any | None, practice: Any | None, new_replies: int = 0
) -> ModuleSnapshot:
    """The one way rows become a `ModuleSnapshot`, so every reader and the writes decide completion alike.

    `quiz` has `best_score`, `attempts` and `completed_at` (a module_progress row; None: no row yet);
    `practice` has `reviewed_at` and `revision_requested_at` (None when no practice text was submitted).
    """
    return ModuleSnapshot(
        seen_lessons=frozenset(seen),
        best_score=quiz.best_score if quiz else None,
        attempts=quiz.attempts if quiz else 0,
        practice_submitted=practice is not None,
        practice_reviewed=practice is not None and practice.reviewed_at is not None,
        practice_revision=practice is not None and practice.revision_requested_at is not None,
        completed_at=quiz.completed_at if quiz else None,
        new_replies=new_replies,
    )


@dataclass(frozen=True, slots=True)
class CourseState:
    """Everything the course overview needs, read in a fixed number of queries."""

    snapshot: Snapshot
    last: Location | None
    last_module_id: str | None
    completed_at: dt.datetime | None


def course_state(s: Session | None, learner: Learner, course: Course, *, read: bool = True) -> CourseState:
    """The learner's progress in the whole course (one query, whatever the number of modules; in the transaction
    of `s`, None: the request's session, if it has one open, else alone: db.read_alone). `read=False`: the caller
    knows the learner has none (ANY_PROGRESS), no query."""
    if not read:
        return _no_course_state(course)
    seen: dict[str, set[str]] = {}
    progress: dict[str, Any] = {}
    practice: dict[str, Any] = {}
    course_row: Any = None
    rows = read_alone(_COURSE_STATE, owner(learner, course.id), s)
    for row in map(_CourseRow._make, rows):
        if row.kind == SEEN_ROW:
            seen.setdefault(row.module_id, set()).add(row.lesson_id)
        elif row.kind == PROGRESS_ROW:
            progress[row.module_id] = row
        elif row.kind == PRACTICE_ROW:
            practice[row.module_id] = row
        else:
            course_row = row
    modules = {
        module.id: snapshot_of(
            seen.get(module.id, ()),
            progress.get(module.id),
            practice.get(module.id),
            new_replies_of(practice.get(module.id)),
        )
        for module in course.modules
    }
    return CourseState(
        snapshot=Snapshot(modules),
        last=parse_location(course, course_row.last_location) if course_row else None,
        last_module_id=course_row.module_id if course_row else None,
        completed_at=course_row.completed_at if course_row else None,
    )


_NO_STATES: dict[int, tuple[Course, CourseState]] = {}


def _no_course_state(course: Course) -> CourseState:
    """The state of a learner without progress in the course: the same for every new learner, made once per
    course."""
    found = _NO_STATES.get(id(course))
    if found is None or found[0] is not course:
        if len(_NO_STATES) >= 64:
            _NO_STATES.clear()
        empty = snapshot_of((), None, None)
        state = CourseState(
            Snapshot(MappingProxyType({m.id: empty for m in course.modules})), None, None, None
        )
        found = _NO_STATES[id(course)] = (course, state)
    return found[1]


def module_snapshot(
    s: Session | None, learner: Learner, course: Course, module: Module, *, read: bool = True
) -> ModuleSnapshot:
    """The learner's progress in one module (one query; in the transaction of `s`, None: the request's session, if
    it has one open, else alone: db.read_alone). `read=False`: the caller knows the learner has none in the course (ANY_PROGRESS), no
    query."""
    seen: list[str] = []
    row: Any = None
    practice: Any = None
    rows = read_alone(_MODULE_STATE, params(learner, course.id, module.id), s) if read else ()
    for found in map(ModuleSourceRow._make, rows):
        if found.kind == SOURCE_SEEN:
            seen.append(found.name)
        elif found.kind == SOURCE_PROGRESS:
            row = _ProgressRow(found.score, found.attempts, found.at)
        else:
            practice = found
    return snapshot_of(seen, row, practice, new_replies_of(practice))


def new_replies_of(practice: Any | None) -> int:
    """The count of new replies a practice row of COURSE_STATE or MODULE_STATE carries (0 without an answer)."""
    return int(practice.new_replies or 0) if practice is not None else 0


# On the DBAPI cursor (lti_tool/cursorsql.py): the overview (every launch's first page) and the module page run
# them; SQLAlchemy's execution of either cost more than the database's work.
_COURSE_STATE = CursorStatement(COURSE_STATE)
_MODULE_STATE = CursorStatement(MODULE_STATE)


class _CourseRow(NamedTuple):
    """A row of COURSE_STATE (its columns in order); what a column holds depends on the row's kind."""

    kind: int
    module_id: Any
    lesson_id: Any
    best_score: Any
    attempts: Any
    completed_at: Any
    reviewed_at: Any
    revision_requested_at: Any
    last_location: Any
    new_replies: Any


class _ProgressRow(NamedTuple):
    """A module_progress row's columns as `snapshot_of` reads them."""

    best_score: float | None
    attempts: int
    completed_at: dt.datetime | None

"""The per-learner summary the gradebook lists from (`LearnerSummary`): one row per learner, course context and
course, derived from the progress rows, the practice texts and the newest course grade.

`refresh_learner` rewrites one learner's row in one statement (INSERT … SELECT … ON CONFLICT DO UPDATE, the figures
as subqueries of their rows); `lti_tool.progress` calls it in every transaction that changes progress (under the
learner's lock), so the row is as current as the progress it summarises. `touch_learner` moves the last activity
alone, and the grade outbox writes the failed flag and the course grade where it queues grades or a delivery
fails (`refresh_delivery`). `rebuild` rewrites every row (of one context, or all) from the source rows
(`_values`, in Python): `flask gradebook rebuild-summary`, and migration 0018 for existing data. The two ways
are kept apart on purpose and compared by `differences` (`--check`) and by the tests (rebuild = live).

Services take a session and never commit.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, bindparam, case, delete, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from ..cursorsql import CursorStatement
from ..db import dialect_insert, upsert
from ..grading.outbox import RowState, is_newest, newest_rows
from ..models import CourseProgress, GradeOutbox, LearnerSummary, ModuleProgress, PracticeSubmission, utcnow
from . import listed

Key = tuple[int, int, str]  # user id, context id, course id


@dataclass(frozen=True, slots=True)
class Summary:
    started: bool
    modules_done: int
    lessons_seen: int
    completed_at: dt.datetime | None
    last_activity: dt.datetime | None
    review_waiting: int
    grade: float | None
    delivery_failed: bool

    def values(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "modules_done": self.modules_done,
            "lessons_seen": self.lessons_seen,
            "completed_at": self.completed_at,
            "last_activity": self.last_activity,
            "review_waiting": self.review_waiting,
            "grade": self.grade,
            "delivery_failed": self.delivery_failed,
        }


def _where(model: Any, context_id: int | None, user_id: int | None, course_id: str | None) -> list[Any]:
    found = []
    if context_id is not None:
        found.append(model.context_id == context_id)
    if user_id is not None:
        found.append(model.user_id == user_id)
    if course_id is not None:
        found.append(model.course_id == course_id)
    return found


def _counted_score(payload: Any) -> float | None:
    """The score a grade row gives the LMS: scoreGiven, when the row says it is graded (Moodle ignores it
    otherwise)."""
    if not isinstance(payload, dict) or payload.get("gradingProgress", "FullyGraded") != "FullyGraded":
        return None
    given = payload.get("scoreGiven")
    return float(given) if isinstance(given, int | float) else None


def _values(
    s: Session, *, context_id: int | None = None, user_id: int | None = None, course_id: str | None = None
) -> dict[Key, Summary]:
    """The summaries of every learner with course progress in the selection: four statements for any number."""
    from ..progress.review import waiting_for_review  # progress imports this module

    course_rows = s.execute(
        select(
            CourseProgress.user_id,
            CourseProgress.context_id,
            CourseProgress.course_id,
            CourseProgress.completed_at,
            CourseProgress.updated_at,
        ).where(*_where(CourseProgress, context_id, user_id, course_id))
    ).all()
    modules: dict[Key, Any] = {
        (r.user_id, r.context_id, r.course_id): r
        for r in s.execute(
            select(
                ModuleProgress.user_id,
                ModuleProgress.context_id,
                ModuleProgress.course_id,
                func.count().label("rows"),
                func.count(ModuleProgress.completed_at).label("done"),
                func.coalesce(func.sum(ModuleProgress.lessons_seen), 0).label("lessons"),
            )
            .where(*_where(ModuleProgress, context_id, user_id, course_id))
            .group_by(ModuleProgress.user_id, ModuleProgress.context_id, ModuleProgress.course_id)
        )
    }
    waiting: dict[Key, int] = {
        (r.user_id, r.context_id, r.course_id): int(r.waiting)
        for r in s.execute(
            select(
                PracticeSubmission.user_id,
                PracticeSubmission.context_id,
                PracticeSubmission.course_id,
                func.count().label("waiting"),
            )
            .where(*_where(PracticeSubmission, context_id, user_id, course_id), waiting_for_review())
            .group_by(PracticeSubmission.user_id, PracticeSubmission.context_id, PracticeSubmission.course_id)
        )
    }
    grades: dict[Key, tuple[int, float | None]] = {}
    failed: set[Key] = set()
    newest = newest_rows(
        context_id=context_id, course_id=course_id, user_ids=None if user_id is None else [user_id]
    )
    for row in s.execute(
        newest.with_only_columns(
            GradeOutbox.id,
            GradeOutbox.user_id,
            GradeOutbox.context_id,
            GradeOutbox.course_id,
            GradeOutbox.module_id,
            GradeOutbox.state,
            GradeOutbox.payload,
        ).where(GradeOutbox.state != RowState.SUPERSEDED)
    ):
        key = (row.user_id, row.context_id, row.course_id or "")
        if row.state == RowState.FAILED:
            failed.add(key)
        if row.module_id is None and (key not in grades or row.id > grades[key][0]):
            grades[key] = (row.id, _counted_score(row.payload))
    found: dict[Key, Summary] = {}
    for row in course_rows:
        key = (row.user_id, row.context_id, row.course_id)
        module = modules.get(key)
        found[key] = Summary(
            started=bool(module and module.rows),
            modules_done=int(module.done) if module else 0,
            lessons_seen=int(module.lessons) if module else 0,
            completed_at=row.completed_at,
            last_activity=row.updated_at,
            review_waiting=waiting.get(key, 0),
            grade=grades[key][1] if key in grades else None,
            delivery_failed=key in failed,
        )
    return found


class Keep:
    """`refresh_learner(grade=KEEP)`: the course grade did not change in this transaction (none was queued)."""


KEEP = Keep()


def course_grade(rows: Iterable[GradeOutbox]) -> float | Keep | None:
    """The course grade the summary shows after these rows were queued: the score of the newest course-result row
    among them (it is the newest of its target now), or KEEP when none of them is a course result."""
    course_rows = [row for row in rows if row.module_id is None]
    if not course_rows:
        return KEEP
    return _counted_score(max(course_rows, key=lambda row: row.id).payload)


def refresh_learner(
    s: Session,
    *,
    user_id: int,
    context_id: int,
    course_id: str,
    now: dt.datetime,
    grade: float | Keep | None = KEEP,
) -> None:
    """Rewrite one learner's summary from their rows, in one statement (in the caller's transaction, after its
    writes): INSERT … SELECT from their course progress with the module, practice and grade-outbox figures as
    subqueries, ON CONFLICT DO UPDATE. The course grade comes from the caller (`course_grade` of the rows it
    queued; KEEP: unchanged), since reading it from the payload in SQL would need each dialect's JSON functions.
    No course progress: no row (nothing to summarise)."""
    s.flush()
    stmt = _refresh_statement(s.get_bind().dialect.name, keep_grade=isinstance(grade, Keep))
    bound = {"user_id": user_id, "context_id": context_id, "course_id": course_id, "now": now}
    if not isinstance(grade, Keep):
        bound["grade"] = grade
    stmt.execute(s.connection(), bound)


@functools.cache
def _refresh_statement(dialect: str, *, keep_grade: bool) -> CursorStatement:
    """The statement of `refresh_learner`, built once per dialect (bind parameters: user_id, context_id,
    course_id, now, and grade unless kept), run on the DBAPI cursor (every progress write runs it:
    lti_tool/cursorsql.py)."""
    from ..progress.review import waiting_for_review  # progress imports this module

    user: Any = bindparam("user_id")
    context: Any = bindparam("context_id")
    course: Any = bindparam("course_id")

    def mine(model: Any) -> list[Any]:
        return [model.user_id == user, model.context_id == context, model.course_id == course]

    def of_modules(column: Any) -> Any:
        return select(column).where(*mine(ModuleProgress)).scalar_subquery()

    modules = of_modules(func.count())
    done = of_modules(func.count(ModuleProgress.completed_at))
    lessons = of_modules(func.coalesce(func.sum(ModuleProgress.lessons_seen), 0))
    waiting = select(func.count()).where(*mine(PracticeSubmission), waiting_for_review()).scalar_subquery()
    columns: dict[str, Any] = {
        "user_id": CourseProgress.user_id,
        "context_id": CourseProgress.context_id,
        "course_id": CourseProgress.course_id,
        "started": modules > 0,
        "modules_done": done,
        "lessons_seen": lessons,
        "completed_at": CourseProgress.completed_at,
        "last_activity": CourseProgress.updated_at,
        "review_waiting": waiting,
        "delivery_failed": _failed_now(user, context, course),
        "updated_at": bindparam("now", type_=LearnerSummary.__table__.c.updated_at.type),
    }
    if not keep_grade:
        columns["grade"] = bindparam("grade", type_=LearnerSummary.__table__.c.grade.type)
    source = select(*(value.label(name) for name, value in columns.items())).where(*mine(CourseProgress))
    insert = dialect_insert(dialect)
    table: Any = LearnerSummary.__table__
    ins = insert(table).from_select(list(columns), source)
    keys = ("user_id", "context_id", "course_id")
    return CursorStatement(
        ins.on_conflict_do_update(
            index_elements=list(keys), set_={name: ins.excluded[name] for name in columns if name not in keys}
        )
    )


def touch_learner(s: Session, *, user_id: int, context_id: int, course_id: str, now: dt.datetime) -> None:
    """The learner was active (their place in the course moved): the summary's last activity, in one statement.
    A learner without a row yet gets one with nothing done (they have course progress now, nothing more)."""
    upsert(
        s,
        LearnerSummary.__table__,
        {"user_id": user_id, "context_id": context_id, "course_id": course_id},
        {"last_activity": now, "updated_at": now},
    )


def _failed_now(user: Any, context: Any, course: Any) -> Any:
    """SQL: does a newest grade row of this learner, context and course say failed?"""
    return exists().where(
        GradeOutbox.user_id == user,
        GradeOutbox.context_id == context,
        GradeOutbox.course_id == course,
        GradeOutbox.state == RowState.FAILED,
        is_newest(GradeOutbox),
    )


def refresh_delivery(
    s: Session,
    *,
    user_ids: Collection[int],
    context_id: int,
    grades: Mapping[int, float | None] | None = None,
) -> None:
    """Whether a grade failed, for these learners' summaries, and the course grade of those in `grades` (one
    statement): the grade outbox calls this where it changes that, grades queued (each is the newest of its
    target now) or a delivery failing."""
    if not user_ids:
        return
    row = LearnerSummary
    values: dict[str, Any] = {"delivery_failed": _failed_now(row.user_id, row.context_id, row.course_id)}
    if grades:
        values["grade"] = case(
            *((row.user_id == user, literal(grade, Float())) for user, grade in sorted(grades.items())),
            else_=row.grade,
        )
    s.execute(
        update(row)
        .where(row.context_id == context_id, row.user_id.in_(sorted(set(user_ids))))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def rebuild(s: Session, *, context_id: int | None = None) -> int:
    """Rewrite every summary row (of one course context, or of all) from the source rows, and who the gradebook
    lists (`listed.rebuild`); returns the count of summary rows."""
    now = utcnow()
    listed.rebuild(s, context_id=context_id, now=now)
    found = _values(s, context_id=context_id)
    s.execute(delete(LearnerSummary).where(*_where(LearnerSummary, context_id, None, None)))
    rows = [
        {"user_id": u, "context_id": c, "course_id": course, **summary.values(), "updated_at": now}
        for (u, c, course), summary in found.items()
    ]
    for chunk in _chunks(rows, 2000):
        s.execute(insert(LearnerSummary), chunk)
    return len(rows)


def _chunks(rows: Sequence[dict[str, Any]], size: int) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def differences(
    s: Session, *, context_id: int | None = None
) -> list[tuple[Any, dict[str, Any], dict[str, Any]]]:
    """Rows whose stored summary differs from one computed now (key, stored, computed), then the listed rows
    that do (`listed.differences`, keyed by context and sub): empty when live = rebuild."""
    computed = {key: summary.values() for key, summary in _values(s, context_id=context_id).items()}
    stored: dict[Key, dict[str, Any]] = {}
    columns = tuple(Summary.__dataclass_fields__)
    for row in s.execute(
        select(
            LearnerSummary.user_id,
            LearnerSummary.context_id,
            LearnerSummary.course_id,
            *(getattr(LearnerSummary, c) for c in columns),
        ).where(*_where(LearnerSummary, context_id, None, None))
    ):
        stored[(row.user_id, row.context_id, row.course_id)] = {c: getattr(row, c) for c in columns}
    found: list[tuple[Any, dict[str, Any], dict[str, Any]]] = [
        (key, stored.get(key, {}), computed.get(key, {}))
        for key in sorted(set(stored) | set(computed))
        if stored.get(key) != computed.get(key)
    ]
    return found + listed.differences(s, context_id=context_id)

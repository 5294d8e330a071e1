"""Learning progress: the one place that records what a learner did, and reads it back for the pages.

Services take a session and never commit; the view (the edge) commits. Every write starts with `_lock_learner`,
which serialises the writes of one learner in one course context (a transaction-level advisory lock on
PostgreSQL, BEGIN IMMEDIATE on SQLite), so two tabs or a double click queue up instead of failing or counting
twice; rows are written with INSERT … ON CONFLICT all the same. Completion rules are not here but in
`lti_tool.course.completion` (pure functions this module feeds with snapshots).

Grade-affecting writes (a quiz submitted, a practice task submitted or reviewed, a lesson visit that completes a
module) all end in `_refresh_progress`: the single seam where derived progress is recomputed and where the grade
outbox row is to be written, in the same transaction.

Services raise `ProgressError` subclasses with a `code`; the views turn them into pages in the learner's language.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Float, and_, bindparam, case, delete, func, select, update
from sqlalchemy.orm import Session

from .course import pools
from .course.attempt_policy import Done, Gate, next_gate
from .course.completion import (
    ModuleSnapshot,
    ModuleStatus,
    Snapshot,
    course_complete_from,
    module_complete,
    module_status,
    score_passes,
)
from .course.model import Course, Module, Question, Quiz
from .db import advisory_lock, insert_for, upsert
from .grading import enqueue_grades
from .models import (
    CourseProgress,
    LessonVisit,
    ModuleProgress,
    PracticeSubmission,
    QuizAttempt,
    User,
    utcnow,
)
from .register.entries import record_completion

if TYPE_CHECKING:
    from .auth import Visitor

# --- Who, and errors -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Learner:
    """Whose progress: a user in a course context (LMS course). Instructors are learners here too.

    `platform_id` and `resource_link_id` are carried for the grade outbox (where to send a score).
    """

    user_id: int
    context_id: int
    platform_id: int
    resource_link_id: int | None = None

    @classmethod
    def of(cls, visitor: Visitor) -> Learner:
        return cls(
            user_id=visitor.user.id,
            context_id=visitor.context.id,
            platform_id=visitor.platform_id,
            resource_link_id=visitor.session.resource_link_id,
        )


class ProgressError(Exception):
    """A refused progress write; nothing was changed. `code` says why (views pick the words)."""

    code = "progress_error"


class AttemptNotFound(ProgressError):
    """No quiz attempt with this id for this learner, course context and module."""

    code = "attempt_not_found"


class QuizChanged(ProgressError):
    """The quiz changed since the attempt was shown (new course text deployed): start again."""

    code = "quiz_changed"


class InvalidAnswers(ProgressError):
    """Answers that do not fit the quiz: `problems` maps question id -> "missing" | "invalid"."""

    code = "invalid_answers"

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__(", ".join(f"{q}: {p}" for q, p in problems.items()))
        self.problems = dict(problems)


class AttemptLocked(ProgressError):
    code = "attempt_locked"

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        super().__init__(f"{gate.reason} until {gate.until.isoformat()}")


class PracticeLocked(ProgressError):
    """The practice task was reviewed by an instructor and cannot be changed any more."""

    code = "practice_locked"


class PracticeTextInvalid(ProgressError):
    """Too short or too long (in characters, after normalising line breaks and trimming)."""

    def __init__(
        self, code: Literal["too_short", "too_long"], length: int, minimum: int, maximum: int
    ) -> None:
        super().__init__(f"{code}: {length} characters, allowed {minimum}..{maximum}")
        self.code = code
        self.length = length
        self.minimum = minimum
        self.maximum = maximum


class PracticeNotFound(ProgressError):
    code = "practice_not_found"


# --- The seam: derived progress and what changed -------------------------------------------------

Cause = Literal["lesson_seen", "quiz_submitted", "practice_submitted", "practice_reviewed"]


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
            or self.cause in ("practice_submitted", "practice_reviewed")
        )


def _refresh_progress(
    s: Session, learner: Learner, course: Course, module: Module, cause: Cause, now: dt.datetime
) -> ProgressUpdate:
    """Recompute the learner's ModuleProgress (from the source rows) and CourseProgress, return what changed.

    THE seam for grades: every grade-affecting write calls this, under `_lock_learner`, in the transaction that
    made the change. Whoever sends grades to the LMS adds the outbox write here (from the returned
    `ProgressUpdate`: old/new best score, module/course completed now), so the score travels in the same commit
    as the progress that caused it. Completion is sticky: a recorded `completed_at` is never cleared.
    """
    owner = _owner(learner, course.id)
    params = _params(learner, course.id, module.id)
    s.flush()  # the reads below run on the connection: whatever the session holds goes first
    seen = frozenset(_read(s, _SEEN_IN_MODULE, params).scalars())
    attempts, best, passed_at = _read(
        s, _QUIZ_TOTALS, {**params, "pass_threshold": course.pass_mark / 100 - 1e-9}
    ).one()
    practice = _read(s, _PRACTICE_DATES, params).one_or_none()
    old = _read(s, _MODULE_PROGRESS, params).one_or_none()
    old_best, old_completed_at = (old.best_score, old.completed_at) if old else (None, None)

    snap = ModuleSnapshot(
        seen_lessons=seen,
        best_score=best,
        attempts=int(attempts),
        practice_submitted=practice is not None,
        practice_reviewed=practice is not None and practice.reviewed_at is not None,
        completed_at=old_completed_at,
    )
    completed_at = old_completed_at or (now if module_complete(course, module, snap) else None)
    _upsert(
        s,
        ModuleProgress,
        {**owner, "module_id": module.id},
        {
            "lessons_seen": sum(1 for lesson in module.lessons if lesson.id in seen),
            "attempts": int(attempts),
            "best_score": best,
            "quiz_passed_at": passed_at,
            "practice_submitted_at": practice.submitted_at if practice else None,
            "completed_at": completed_at,
            "updated_at": now,
        },
    )

    done = _read(s, _MODULES_DONE, owner).scalars().all()
    old_course_completed_at = _read(s, _COURSE_COMPLETED_AT, owner).scalar()
    course_completed_at = old_course_completed_at or (now if course_complete_from(course, done) else None)
    _upsert(
        s,
        CourseProgress,
        owner,
        {"completed_at": course_completed_at, "updated_at": now},
    )
    update = ProgressUpdate(
        learner=learner,
        course_id=course.id,
        module_id=module.id,
        cause=cause,
        old_best_score=old_best,
        new_best_score=best,
        module_completed_now=old_completed_at is None and completed_at is not None,
        course_completed_now=old_course_completed_at is None and course_completed_at is not None,
        module_completed_at=completed_at,
        course_completed_at=course_completed_at,
        status=module_status(course, module, snap),
        at=now,
    )
    if update.course_completed_now:  # the certification register's entry, in this transaction too
        record_completion(
            s,
            user_id=learner.user_id,
            platform_id=learner.platform_id,
            context_id=learner.context_id,
            course_id=course.id,
            resource_link_id=learner.resource_link_id,
            completed_at=now,
        )
    if update.grade_affected:  # the scores for the LMS, in this transaction (lti_tool/grading)
        enqueue_grades(
            s,
            user_id=learner.user_id,
            context_id=learner.context_id,
            course=course,
            changed_module_ids=[module.id],
        )
    return update


# --- Helpers -------------------------------------------------------------------------------------


def _owner(learner: Learner, course_id: str) -> dict[str, Any]:
    return {"user_id": learner.user_id, "context_id": learner.context_id, "course_id": course_id}


def _owned(model: Any, owner: Mapping[str, Any]) -> list[Any]:
    """WHERE clauses that keep a query to one learner's rows in one context and course."""
    return [getattr(model, key) == value for key, value in owner.items()]


def _upsert(s: Session, model: Any, keys: dict[str, Any], values: dict[str, Any]) -> None:
    upsert(s, model.__table__, keys, values)


# --- Statements built once -----------------------------------------------------------------------
# Every learner page runs a few of these. Building a statement and its cache key costs more than running it, so
# they are built once with bind parameters: :user_id, :context_id, :course_id (one learner in one course
# context), :module_id and what else each names. Column-only reads go through the session's connection (Core);
# reads of whole rows (attempts, practice texts) through the session.


def _mine(model: Any, *more: Any) -> Any:
    """WHERE for one learner's rows in one course context (and the further conditions given)."""
    return and_(
        model.user_id == bindparam("user_id"),
        model.context_id == bindparam("context_id"),
        model.course_id == bindparam("course_id"),
        *more,
    )


def _in_module(model: Any, *more: Any) -> Any:
    return _mine(model, model.module_id == bindparam("module_id"), *more)


def _params(learner: Learner, course_id: str, module_id: str | None = None, **more: Any) -> dict[str, Any]:
    params = {**_owner(learner, course_id), **more}
    if module_id is not None:
        params["module_id"] = module_id
    return params


@functools.cache
def _lesson_visit_statement(dialect: str) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = LessonVisit.__table__
    names = ("user_id", "context_id", "course_id", "module_id", "lesson_id", "first_seen_at")
    ins = insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in names})
    return ins.on_conflict_do_nothing().returning(table.c.id)


_SEEN_IN_MODULE = select(LessonVisit.lesson_id).where(_in_module(LessonVisit))
_QUIZ_TOTALS = select(
    func.count(QuizAttempt.id),
    func.max(QuizAttempt.score),
    # First attempt at or above the pass mark as the course file says it now (score_passes' tolerance).
    func.min(case((QuizAttempt.score >= bindparam("pass_threshold", type_=Float), QuizAttempt.submitted_at))),
).where(_in_module(QuizAttempt, QuizAttempt.submitted_at.is_not(None)))
_PRACTICE_DATES = select(PracticeSubmission.submitted_at, PracticeSubmission.reviewed_at).where(
    _in_module(PracticeSubmission)
)
_MODULE_PROGRESS = select(
    ModuleProgress.best_score, ModuleProgress.attempts, ModuleProgress.completed_at
).where(_in_module(ModuleProgress))
_MODULES_DONE = select(ModuleProgress.module_id).where(
    _mine(ModuleProgress, ModuleProgress.completed_at.is_not(None))
)
_COURSE_COMPLETED_AT = select(CourseProgress.completed_at).where(_mine(CourseProgress))
_LAST_LOCATION = select(CourseProgress.last_location).where(_mine(CourseProgress))
_ALL_SEEN = select(LessonVisit.module_id, LessonVisit.lesson_id).where(_mine(LessonVisit))
_ALL_MODULE_PROGRESS = select(
    ModuleProgress.module_id, ModuleProgress.best_score, ModuleProgress.attempts, ModuleProgress.completed_at
).where(_mine(ModuleProgress))
_ALL_PRACTICE = select(PracticeSubmission.module_id, PracticeSubmission.reviewed_at).where(
    _mine(PracticeSubmission)
)
_COURSE_ROW = select(
    CourseProgress.last_location, CourseProgress.last_module_id, CourseProgress.completed_at
).where(_mine(CourseProgress))
_OPEN_ATTEMPTS = (
    select(QuizAttempt)
    .where(_in_module(QuizAttempt, QuizAttempt.submitted_at.is_(None)))
    .order_by(QuizAttempt.started_at.desc(), QuizAttempt.id.desc())
)
_NEWEST_OPEN_ATTEMPT = _OPEN_ATTEMPTS.limit(1)
_SUBMITTED_ATTEMPTS = (
    select(QuizAttempt.question_ids, QuizAttempt.layout, QuizAttempt.submitted_at, QuizAttempt.passed)
    .where(_in_module(QuizAttempt, QuizAttempt.submitted_at.is_not(None)))
    .order_by(QuizAttempt.submitted_at, QuizAttempt.id)
)
_ATTEMPT_BY_PUBLIC_ID = (
    select(QuizAttempt)
    .where(_in_module(QuizAttempt, QuizAttempt.public_id == bindparam("public_id")))
    .execution_options(populate_existing=True)
)
_PRACTICE = (
    select(PracticeSubmission).where(_in_module(PracticeSubmission)).execution_options(populate_existing=True)
)
_PEERS_WHERE = and_(
    PracticeSubmission.context_id == bindparam("context_id"),
    PracticeSubmission.course_id == bindparam("course_id"),
    PracticeSubmission.module_id == bindparam("module_id"),
    PracticeSubmission.user_id != bindparam("user_id"),
)
_PEER_COUNT = select(func.count(PracticeSubmission.id)).where(_PEERS_WHERE)
_PEER_ANSWERS = (
    select(
        User.given_name,
        User.name,
        PracticeSubmission.text,
        PracticeSubmission.submitted_at,
        PracticeSubmission.updated_at,
    )
    .join(User, User.id == PracticeSubmission.user_id)
    .where(_PEERS_WHERE)
    .order_by(PracticeSubmission.submitted_at.desc(), PracticeSubmission.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)


def _read(s: Session, stmt: Any, params: dict[str, Any]) -> Any:
    """A column-only read on the session's connection (its transaction), without the ORM's statement handling."""
    return s.connection().execute(stmt, params)


def _lock_learner(s: Session, learner: Learner, course_id: str) -> None:
    """Serialise this learner's progress writes in this course context until the transaction ends."""
    advisory_lock(s, f"progress:{learner.user_id}:{learner.context_id}:{course_id}")


def _set_location(
    s: Session, learner: Learner, course_id: str, module_id: str, page: str, now: dt.datetime
) -> None:
    _upsert(
        s,
        CourseProgress,
        _owner(learner, course_id),
        {"last_module_id": module_id, "last_location": f"{module_id}/{page}", "updated_at": now},
    )


# --- Lessons and where the learner was -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Location:
    """A page of the course: a module's page ("" = its start page), a lesson id, "quiz" or "praxis"."""

    module_id: str
    page: str


def record_lesson_view(
    s: Session, learner: Learner, course: Course, module: Module, lesson_id: str
) -> ProgressUpdate | None:
    """Mark the lesson seen (first visit only) and remember it as the learner's place.

    Returns the ProgressUpdate when this was the first visit (it may complete the module), else None.
    """
    if module.lesson(lesson_id) is None:
        raise ValueError(f"module {module.id!r} has no lesson {lesson_id!r}")
    now = utcnow()
    _lock_learner(s, learner, course.id)
    visit = _lesson_visit_statement(s.get_bind().dialect.name)
    params = _params(learner, course.id, module.id, lesson_id=lesson_id, first_seen_at=now)
    new = s.connection().execute(visit, params).first() is not None
    result = _refresh_progress(s, learner, course, module, "lesson_seen", now) if new else None
    _set_location(s, learner, course.id, module.id, lesson_id, now)
    return result


def last_location(s: Session, learner: Learner, course: Course) -> Location | None:
    """Where the learner last was in this course (from any device), if that page still exists."""
    raw = _read(s, _LAST_LOCATION, _owner(learner, course.id)).scalar()
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


@dataclass(frozen=True, slots=True)
class CourseState:
    """Everything the course overview needs, read in a fixed number of queries."""

    snapshot: Snapshot
    last: Location | None
    last_module_id: str | None
    completed_at: dt.datetime | None


def course_state(s: Session, learner: Learner, course: Course) -> CourseState:
    """The learner's progress in the whole course (four queries, whatever the number of modules)."""
    owner = _owner(learner, course.id)
    seen: dict[str, set[str]] = {}
    for module_id, lesson_id in _read(s, _ALL_SEEN, owner):
        seen.setdefault(module_id, set()).add(lesson_id)
    progress = {row.module_id: row for row in _read(s, _ALL_MODULE_PROGRESS, owner)}
    practice = {row.module_id: row.reviewed_at is not None for row in _read(s, _ALL_PRACTICE, owner)}
    course_row = _read(s, _COURSE_ROW, owner).one_or_none()
    modules: dict[str, ModuleSnapshot] = {}
    for module in course.modules:
        row = progress.get(module.id)
        modules[module.id] = ModuleSnapshot(
            seen_lessons=frozenset(seen.get(module.id, ())),
            best_score=row.best_score if row else None,
            attempts=row.attempts if row else 0,
            practice_submitted=module.id in practice,
            practice_reviewed=practice.get(module.id, False),
            completed_at=row.completed_at if row else None,
        )
    return CourseState(
        snapshot=Snapshot(modules),
        last=parse_location(course, course_row.last_location) if course_row else None,
        last_module_id=course_row.last_module_id if course_row else None,
        completed_at=course_row.completed_at if course_row else None,
    )


def module_snapshot(s: Session, learner: Learner, course: Course, module: Module) -> ModuleSnapshot:
    """The learner's progress in one module (three queries)."""
    params = _params(learner, course.id, module.id)
    seen = frozenset(_read(s, _SEEN_IN_MODULE, params).scalars())
    row = _read(s, _MODULE_PROGRESS, params).one_or_none()
    practice = _read(s, _PRACTICE_DATES, params).one_or_none()
    reviewed_at = None if practice is None else (practice.reviewed_at,)
    return ModuleSnapshot(
        seen_lessons=seen,
        best_score=row.best_score if row else None,
        attempts=row.attempts if row else 0,
        practice_submitted=reviewed_at is not None,
        practice_reviewed=reviewed_at is not None and reviewed_at[0] is not None,
        completed_at=row.completed_at if row else None,
    )


# --- Quiz -----------------------------------------------------------------------------------------


def attempt_questions(quiz: Quiz, attempt: QuizAttempt) -> list[Question] | None:
    """The questions the attempt asks, in its order; None when the quiz changed so that they no longer fit
    (a question gone, or its options changed). An attempt from before pools asked every question."""
    layout = attempt.layout
    if attempt.question_ids is None:
        ids = [question.id for question in quiz.questions]
    else:
        ids = [str(question_id) for question_id in attempt.question_ids]
    if set(layout) != set(ids) or len(set(ids)) != len(ids):
        return None
    questions: list[Question] = []
    for question_id in ids:
        question = quiz.question(question_id)
        shown = layout[question_id]
        if question is None or not isinstance(shown, list):
            return None
        if sorted(shown) != sorted(option.id for option in question.options):
            return None
        questions.append(question)
    return questions


def layout_fits(quiz: Quiz, attempt: QuizAttempt) -> bool:
    """The attempt's questions and their options still match the quiz."""
    return attempt_questions(quiz, attempt) is not None


def _attempts(learner: Learner, course_id: str, module_id: str) -> list[Any]:
    return [*_owned(QuizAttempt, _owner(learner, course_id)), QuizAttempt.module_id == module_id]


def find_open_attempt(s: Session, learner: Learner, course: Course, module: Module) -> QuizAttempt | None:
    """The learner's newest unsubmitted attempt at this module's quiz, if its layout still fits the quiz."""
    attempt = s.scalars(_NEWEST_OPEN_ATTEMPT, _params(learner, course.id, module.id)).first()
    if attempt is None or not layout_fits(module.quiz, attempt):
        return None
    return attempt


def _submitted(s: Session, learner: Learner, course: Course, module: Module) -> list[Any]:
    """The learner's submitted attempts at this module's quiz, oldest first (for the draw and the policy)."""
    return list(s.execute(_SUBMITTED_ATTEMPTS, _params(learner, course.id, module.id)))


def attempt_gate(
    s: Session, learner: Learner, course: Course, module: Module, now: dt.datetime | None = None
) -> Gate | None:
    """Why the learner may not start a new attempt now, and until when (course.toml [attempts]); None: they may."""
    policy = course.attempts
    if not policy.wait_minutes and not policy.per_day:
        return None
    rows = _submitted(s, learner, course, module)
    return next_gate(policy, [Done(row.submitted_at, bool(row.passed)) for row in rows], now or utcnow())


def start_quiz_attempt(s: Session, learner: Learner, course: Course, module: Module) -> QuizAttempt:
    """The learner's open attempt (checked again under the lock), or a new one: its questions drawn from the pool
    (preferring those the learner was asked least), their options shuffled, both from a stored seed.

    An open attempt that no longer fits the quiz (new course text) is dropped: it was never submitted. Raises
    AttemptLocked when the course's attempt policy allows no new attempt yet.
    """
    now = utcnow()
    _lock_learner(s, learner, course.id)
    stale: list[int] = []
    for attempt in s.scalars(_OPEN_ATTEMPTS, _params(learner, course.id, module.id)):
        if layout_fits(module.quiz, attempt):
            return attempt
        stale.append(attempt.id)
    gate = attempt_gate(s, learner, course, module, now)
    if gate is not None:
        raise AttemptLocked(gate)
    for attempt_id in stale:
        s.execute(delete(QuizAttempt).where(QuizAttempt.id == attempt_id))
    earlier = _submitted(s, learner, course, module)
    history = pools.History.of(
        [row.question_ids if row.question_ids is not None else list(row.layout) for row in earlier]
    )
    seed = pools.new_seed()
    question_ids = pools.draw(module.quiz, seed, history)
    attempt = QuizAttempt(
        public_id=secrets.token_urlsafe(16),
        **_owner(learner, course.id),
        module_id=module.id,
        layout=pools.layout(module.quiz, question_ids, seed),
        question_ids=question_ids,
        draw_seed=seed,
        question_count=len(question_ids),
        started_at=now,
    )
    s.add(attempt)
    _set_location(s, learner, course.id, module.id, "quiz", now)
    s.flush()
    return attempt


_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def get_attempt(s: Session, learner: Learner, course: Course, module: Module, public_id: str) -> QuizAttempt:
    """An attempt by its public id, only ever together with its owner (user + context) and module."""
    if not _PUBLIC_ID.fullmatch(public_id):  # garbage (a NUL breaks PostgreSQL) never reaches the database
        raise AttemptNotFound(public_id[:40])
    attempt = s.scalars(
        _ATTEMPT_BY_PUBLIC_ID, _params(learner, course.id, module.id, public_id=public_id)
    ).first()
    if attempt is None:
        raise AttemptNotFound(public_id[:40])
    return attempt


def latest_submitted_attempt(
    s: Session, learner: Learner, course: Course, module: Module
) -> QuizAttempt | None:
    return s.scalars(
        select(QuizAttempt)
        .where(*_attempts(learner, course.id, module.id), QuizAttempt.submitted_at.is_not(None))
        .order_by(QuizAttempt.submitted_at.desc(), QuizAttempt.id.desc())
        .limit(1)
    ).first()


def quiz_record(s: Session, learner: Learner, course: Course, module: Module) -> tuple[float | None, int]:
    """Best score and number of submitted attempts at this module's quiz (one query)."""
    row = _read(s, _MODULE_PROGRESS, _params(learner, course.id, module.id)).one_or_none()
    return (row.best_score, row.attempts) if row else (None, 0)


def check_answers(
    questions: Sequence[Question], answers: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Answers as option ids per question, checked against the quiz; raises InvalidAnswers.

    Every question must be answered: one option (single, true/false), at least one (multiple), every option
    exactly once (ordering, in the learner's order). Unknown question or option ids are refused.
    """
    problems: dict[str, str] = {}
    unknown = set(answers) - {question.id for question in questions}
    for question_id in sorted(unknown):
        problems[question_id] = "invalid"
    checked: dict[str, list[str]] = {}
    for question in questions:
        given = list(answers.get(question.id) or [])
        problem = _answer_problem(question, given)
        if problem:
            problems[question.id] = problem
        else:
            checked[question.id] = given
    if problems:
        raise InvalidAnswers(problems)
    return checked


def _answer_problem(question: Question, given: list[str]) -> str | None:
    if not given:
        return "missing"
    known = {option.id for option in question.options}
    if not set(given) <= known or len(set(given)) != len(given):
        return "invalid"
    if question.kind in ("single", "truefalse") and len(given) != 1:
        return "invalid"
    if question.kind == "ordering" and len(given) != len(known):
        return "invalid"
    return None


@dataclass(frozen=True, slots=True)
class QuizSubmission:
    attempt: QuizAttempt
    first: bool  # False: the attempt had been submitted before (double submit); nothing was recorded
    update: ProgressUpdate | None


def submit_quiz_attempt(
    s: Session,
    learner: Learner,
    course: Course,
    module: Module,
    public_id: str,
    answers: Mapping[str, Sequence[str]],
) -> QuizSubmission:
    """Score the answers on the server and close the attempt, once.

    The attempt is closed by a conditional UPDATE (`submitted_at IS NULL`): of two concurrent submits of the
    same form one records, the other gets `first=False` and the recorded result. The best attempt counts
    (`_refresh_progress`).
    """
    now = utcnow()
    _lock_learner(s, learner, course.id)
    attempt = get_attempt(s, learner, course, module, public_id)
    if attempt.submitted_at is not None:
        return QuizSubmission(attempt, first=False, update=None)
    questions = attempt_questions(module.quiz, attempt)
    if questions is None:
        raise QuizChanged(public_id[:40])
    checked = check_answers(questions, answers)
    correct = sum(1 for question in questions if question.is_correct(checked[question.id]))
    total = len(questions)
    score = correct / total
    closed = s.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt.id, QuizAttempt.submitted_at.is_(None))
        .values(
            answers=checked,
            correct_count=correct,
            question_count=total,
            score=score,
            passed=score_passes(course, score),
            submitted_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    s.refresh(attempt)
    if getattr(closed, "rowcount", 1) != 1:
        return QuizSubmission(attempt, first=False, update=None)
    result = _refresh_progress(s, learner, course, module, "quiz_submitted", now)
    _set_location(s, learner, course.id, module.id, "quiz", now)
    return QuizSubmission(attempt, first=True, update=result)


# --- Practice task ---------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalize_text(text: str) -> str:
    """Line breaks as \\n, no control characters (a NUL breaks PostgreSQL), no surrounding whitespace."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def check_practice_text(module: Module, text: str) -> str:
    """The normalised text, or PracticeTextInvalid when too short or too long."""
    clean = normalize_text(text)
    task = module.practice
    if len(clean) < task.min_length:
        raise PracticeTextInvalid("too_short", len(clean), task.min_length, task.max_length)
    if len(clean) > task.max_length:
        raise PracticeTextInvalid("too_long", len(clean), task.min_length, task.max_length)
    return clean


def get_practice(s: Session, learner: Learner, course: Course, module: Module) -> PracticeSubmission | None:
    return s.scalars(_PRACTICE, _params(learner, course.id, module.id)).first()


@dataclass(frozen=True, slots=True)
class PracticeSave:
    submission: PracticeSubmission
    first: bool  # the first submission (grade-affecting); later saves are edits
    update: ProgressUpdate | None


def save_practice(s: Session, learner: Learner, course: Course, module: Module, text: str) -> PracticeSave:
    """Submit or edit the learner's practice text; refused once an instructor has reviewed it."""
    clean = check_practice_text(module, text)
    now = utcnow()
    _lock_learner(s, learner, course.id)
    existing = get_practice(s, learner, course, module)
    if existing is not None and existing.reviewed_at is not None:
        raise PracticeLocked(module.id)
    keys = {**_owner(learner, course.id), "module_id": module.id}
    ins = insert_for(s)(PracticeSubmission).values(**keys, text=clean, submitted_at=now, updated_at=now)
    saved = s.execute(
        ins.on_conflict_do_update(
            index_elements=list(keys),
            set_={"text": clean, "updated_at": now},
            where=PracticeSubmission.reviewed_at.is_(None),
        ).returning(PracticeSubmission.id)
    ).first()
    if saved is None:
        raise PracticeLocked(module.id)
    submission = s.get_one(PracticeSubmission, saved[0])
    s.refresh(submission)
    result = None
    if existing is None:
        result = _refresh_progress(s, learner, course, module, "practice_submitted", now)
    _set_location(s, learner, course.id, module.id, "praxis", now)
    return PracticeSave(submission, first=existing is None, update=result)


def review_practice(
    s: Session, learner: Learner, course: Course, module: Module, *, reviewer_id: int, feedback: str
) -> ProgressUpdate:
    """An instructor's review: feedback saved, the text is read-only from now on (reviewing again updates the
    feedback; the first review time stays)."""
    now = utcnow()
    _lock_learner(s, learner, course.id)
    existing = get_practice(s, learner, course, module)
    if existing is None:
        raise PracticeNotFound(module.id)
    s.execute(
        update(PracticeSubmission)
        .where(PracticeSubmission.id == existing.id)
        .values(
            reviewed_at=func.coalesce(PracticeSubmission.reviewed_at, now),
            reviewer_id=reviewer_id,
            feedback=normalize_text(feedback),
        )
        .execution_options(synchronize_session=False)
    )
    s.refresh(existing)
    return _refresh_progress(s, learner, course, module, "practice_reviewed", now)


@dataclass(frozen=True, slots=True)
class PeerAnswer:
    given_name: str | None
    name: str | None
    text: str
    submitted_at: dt.datetime
    updated_at: dt.datetime


def peer_answers(
    s: Session, learner: Learner, course: Course, module: Module, *, limit: int, offset: int = 0
) -> tuple[list[PeerAnswer], int]:
    """Other people's practice answers for this module in the learner's course context, newest first, and how
    many there are. Same context only: another LMS course or platform never shows up here."""
    params = _params(learner, course.id, module.id)
    total = int(_read(s, _PEER_COUNT, params).scalar() or 0)
    rows = _read(s, _PEER_ANSWERS, {**params, "limit": limit, "offset": offset}).all()
    return [PeerAnswer(*row) for row in rows], total


__all__ = [
    "AttemptLocked",
    "AttemptNotFound",
    "CourseState",
    "InvalidAnswers",
    "Learner",
    "Location",
    "PeerAnswer",
    "PracticeLocked",
    "PracticeNotFound",
    "PracticeSave",
    "PracticeTextInvalid",
    "ProgressError",
    "ProgressUpdate",
    "QuizChanged",
    "QuizSubmission",
    "attempt_gate",
    "attempt_questions",
    "check_answers",
    "course_state",
    "find_open_attempt",
    "get_attempt",
    "get_practice",
    "last_location",
    "latest_submitted_attempt",
    "layout_fits",
    "module_snapshot",
    "peer_answers",
    "quiz_record",
    "record_lesson_view",
    "review_practice",
    "save_practice",
    "start_quiz_attempt",
    "submit_quiz_attempt",
]

"""The queries of the progress service, built once, and how they are run.

Every learner page runs a few of these. Building a statement and its cache key costs more than running it, so
they are built once with bind parameters: :user_id, :context_id, :course_id (one learner in one course context),
:module_id and what else each names. Column-only reads go through the session's connection (`read`, Core);
reads of whole rows (attempts, practice texts) through the session.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from ..db import dialect_insert
from ..models import (
    CourseProgress,
    ExchangeReply,
    LearnerSummary,
    LessonVisit,
    ModuleProgress,
    PracticeSubmission,
    QuizAttempt,
    ToolSession,
)
from .learner import Learner


def owner(learner: Learner, course_id: str) -> dict[str, Any]:
    """The key of one learner's rows in one course context and course."""
    return {"user_id": learner.user_id, "context_id": learner.context_id, "course_id": course_id}


def params(learner: Learner, course_id: str, module_id: str | None = None, **more: Any) -> dict[str, Any]:
    """The bind parameters of the statements below."""
    found = {**owner(learner, course_id), **more}
    if module_id is not None:
        found["module_id"] = module_id
    return found


def read(s: Session, stmt: Any, bound: dict[str, Any]) -> Any:
    """A column-only read on the session's connection (its transaction), without the ORM's statement handling."""
    return s.connection().execute(stmt, bound)


# The key of one learner's rows in one course context: bind parameters, or (ANY_PROGRESS) the session's columns.
_BOUND: tuple[Any, Any, Any] = (bindparam("user_id"), bindparam("context_id"), bindparam("course_id"))
_SESSIONS = (ToolSession.user_id, ToolSession.context_id, ToolSession.course_id)


def _mine(model: Any, *more: Any, key: tuple[Any, Any, Any] = _BOUND) -> Any:
    """WHERE for one learner's rows in one course context (and the further conditions given)."""
    user_id, context_id, course_id = key
    return and_(
        model.user_id == user_id,
        model.context_id == context_id,
        model.course_id == course_id,
        *more,
    )


def _in_module(model: Any, *more: Any) -> Any:
    return _mine(model, model.module_id == bindparam("module_id"), *more)


@functools.cache
def lesson_visit_statement(dialect: str) -> Any:
    """The lesson page's write, built once per dialect: the INSERT of a first visit, returning the visit's id only
    when it inserted (bind parameters: the learner's, :module_id, :lesson_id, :location and :now).

    On PostgreSQL a later visit (the INSERT found the row there) also writes the learner's place (:location, as
    `writes.set_location` does) and the summary's last activity (as `gradebook.summary.touch_learner` does) in the
    same statement: two data-modifying WITH parts whose SELECT finds a row only when the visit inserted none. A
    repeat visit is one statement there instead of three; SQLite has no INSERT in WITH, `set_location` writes it.
    """
    insert = dialect_insert(dialect)
    table: Any = LessonVisit.__table__
    names = ("user_id", "context_id", "course_id", "module_id", "lesson_id")
    values = {name: bindparam(name, type_=table.c[name].type) for name in names}
    values["first_seen_at"] = bindparam("now", type_=table.c.first_seen_at.type)
    visit = insert(table).values(values).on_conflict_do_nothing().returning(table.c.id)
    if dialect != "postgresql":
        return visit
    first = visit.cte("visit")
    again = ~exists(select(first.c.id))
    place = _upsert_when(
        CourseProgress.__table__,
        {"last_module_id": "module_id", "last_location": "location"},
        updated=("last_module_id", "last_location", "updated_at"),
        when=again,
    )
    touch = _upsert_when(
        LearnerSummary.__table__,
        {"last_activity": "now"},
        updated=("last_activity", "updated_at"),
        when=again,
    )
    return select(first.c.id).add_cte(place.cte("place"), touch.cte("touch"))


@functools.cache
def progress_rows_statement(*, location: bool) -> Any:
    """PostgreSQL: the two writes of `writes.refresh_progress`, the module's row and the course's, as one
    statement (the module's INSERT … ON CONFLICT in a WITH part of the course's; neither reads the other, and the
    summary rewritten after them reads both). Bind parameters: the learner's, :module_id, the module row's
    :lessons_seen, :attempts, :best_score, :quiz_passed_at, :practice_submitted_at, :module_completed_at, the
    course's :course_completed_at, :now, and with `location` the learner's place (:location)."""
    module_columns = ("lessons_seen", "attempts", "best_score", "quiz_passed_at", "practice_submitted_at")
    module_row = _upsert_when(
        ModuleProgress.__table__,
        {
            "module_id": "module_id",
            **{name: name for name in module_columns},
            "completed_at": "module_completed_at",
        },
        key=("module_id",),
        updated=(*module_columns, "completed_at", "updated_at"),
    )
    given = {"completed_at": "course_completed_at"}
    if location:
        given.update(last_module_id="module_id", last_location="location")
    course_row = _upsert_when(CourseProgress.__table__, given, updated=(*given, "updated_at"))
    return course_row.add_cte(module_row.cte("module_row"))


def _upsert_when(
    table: Any,
    given: dict[str, str],
    *,
    key: tuple[str, ...] = (),
    updated: tuple[str, ...],
    when: Any = None,
) -> Any:
    """PostgreSQL: `db.upsert`'s INSERT … ON CONFLICT (the learner's key and `key`) DO UPDATE SET `updated` of the
    learner's row in `table`, with `when`: written only when it holds (INSERT … SELECT … WHERE). A new row gets the
    bind parameters `given` (column -> parameter), :now as updated_at, and every other column's default as an
    INSERT through the ORM writes it (its value, or :now for `utcnow`)."""
    from sqlalchemy.dialects import postgresql

    binds = {"user_id": "user_id", "context_id": "context_id", "course_id": "course_id", **given}
    binds["updated_at"] = "now"
    columns = {name: bindparam(bind, type_=table.c[name].type) for name, bind in binds.items()}
    for column in table.c:
        if column.name not in columns and column.default is not None:
            scalar = column.default.is_scalar
            columns[column.name] = (
                literal(column.default.arg, column.type) if scalar else bindparam("now", type_=column.type)
            )
    source = select(*(value.label(name) for name, value in columns.items()))
    if when is not None:
        source = source.where(when)
    ins = postgresql.insert(table).from_select(list(columns), source, include_defaults=False)
    return ins.on_conflict_do_update(
        index_elements=["user_id", "context_id", "course_id", *key],
        set_={name: ins.excluded[name] for name in updated},
    )


def _new_replies() -> Any:
    """Per practice answer row: the replies by others that its author has not been shown on the exchange page yet
    (what exchange/page.read_page marks new; a hidden reply is not theirs to read), so that the overview and the
    module page can point to them in the statement they run anyway."""
    return (
        select(func.count(ExchangeReply.id))
        .where(
            ExchangeReply.submission_id == PracticeSubmission.id,
            ExchangeReply.user_id != PracticeSubmission.user_id,
            ExchangeReply.hidden_at.is_(None),
            or_(
                PracticeSubmission.replies_seen_at.is_(None),
                ExchangeReply.created_at > PracticeSubmission.replies_seen_at,
            ),
        )
        .correlate(PracticeSubmission)
        .scalar_subquery()
    )


MODULE_PROGRESS = select(
    ModuleProgress.best_score, ModuleProgress.attempts, ModuleProgress.completed_at
).where(_in_module(ModuleProgress))
LAST_LOCATION = select(CourseProgress.last_location).where(_mine(CourseProgress))


def _course_state(key: tuple[Any, Any, Any] = _BOUND) -> Any:
    """The learner's lesson visits, module progress, practice texts (with their new replies) and course row, as one
    statement: the overview (every launch's first page) asks for all four. One row shape, `kind` says which table a
    row is from (SEEN_ROW …), the columns a table has not are NULL (typed, for PostgreSQL's UNION). `key`: whose
    (the learner's bind parameters, or columns of an enclosing statement)."""
    text, number = String(255), Float
    moment: Any = ModuleProgress.__table__.c.completed_at.type

    def none(kind: Any) -> Any:
        return cast(null(), kind)

    return union_all(
        select(
            literal(1).label("kind"),
            LessonVisit.module_id,
            LessonVisit.lesson_id,
            none(number).label("best_score"),
            none(Integer).label("attempts"),
            none(moment).label("completed_at"),
            none(moment).label("reviewed_at"),
            none(moment).label("revision_requested_at"),
            none(text).label("last_location"),
            none(Integer).label("new_replies"),
        ).where(_mine(LessonVisit, key=key)),
        select(
            literal(2),
            ModuleProgress.module_id,
            none(text),
            ModuleProgress.best_score,
            ModuleProgress.attempts,
            ModuleProgress.completed_at,
            none(moment),
            none(moment),
            none(text),
            none(Integer),
        ).where(_mine(ModuleProgress, key=key)),
        select(
            literal(3),
            PracticeSubmission.module_id,
            none(text),
            none(number),
            none(Integer),
            none(moment),
            PracticeSubmission.reviewed_at,
            PracticeSubmission.revision_requested_at,
            none(text),
            _new_replies(),
        ).where(_mine(PracticeSubmission, key=key)),
        select(
            literal(4),
            CourseProgress.last_module_id,
            none(text),
            none(number),
            none(Integer),
            CourseProgress.completed_at,
            none(moment),
            none(moment),
            CourseProgress.last_location,
            none(Integer),
        ).where(_mine(CourseProgress, key=key)),
    )


COURSE_STATE = _course_state()
# Whether the session's learner has any row COURSE_STATE would read (in this course context and course), as a
# column of the session's read (auth.reads_with_session): a learner the launch just created has none, and their
# first page then needs no read of their progress. The same parts as COURSE_STATE, so it cannot miss a kind of row
# the overview or the module page would show.
ANY_PROGRESS = exists(_course_state(_SESSIONS)).label("any_progress")


def _module_sources(*, refresh: bool) -> Any:
    """One module's lesson visits, progress row and practice dates (and new replies) as one statement (the module
    page); with
    `refresh`, also the quiz totals recounted from the attempts and the course's standing (its recorded completion
    and the modules completed), which `refresh_progress` reads under the learner's lock. `kind` says which a row is (SOURCE_SEEN …);
    the columns a row has not are NULL (typed, for PostgreSQL's UNION; the first SELECT's types decode all)."""
    text, number = String(255), Float
    moment: Any = ModuleProgress.__table__.c.completed_at.type

    def none(kind: Any) -> Any:
        return cast(null(), kind)

    parts = [
        select(
            literal(SOURCE_SEEN).label("kind"),
            LessonVisit.lesson_id.label("name"),
            none(number).label("score"),
            none(Integer).label("count"),
            none(moment).label("at"),
            none(moment).label("reviewed_at"),
            none(moment).label("revision_requested_at"),
            none(Integer).label("new_replies"),
        ).where(_in_module(LessonVisit)),
        select(
            literal(SOURCE_PROGRESS),
            none(text),
            ModuleProgress.best_score,
            ModuleProgress.attempts,
            ModuleProgress.completed_at,
            none(moment),
            none(moment),
            none(Integer),
        ).where(_in_module(ModuleProgress)),
        select(
            literal(SOURCE_PRACTICE),
            none(text),
            none(number),
            none(Integer),
            PracticeSubmission.submitted_at,
            PracticeSubmission.reviewed_at,
            PracticeSubmission.revision_requested_at,
            none(Integer) if refresh else _new_replies(),
        ).where(_in_module(PracticeSubmission)),
    ]
    if refresh:
        parts += [
            select(
                literal(SOURCE_QUIZ),
                none(text),
                func.max(QuizAttempt.score),
                func.count(QuizAttempt.id),
                # First attempt at or above the pass mark as the course file says it now (completion.pass_threshold).
                func.min(
                    case(
                        (
                            QuizAttempt.score >= bindparam("pass_threshold", type_=Float),
                            QuizAttempt.submitted_at,
                        )
                    )
                ),
                none(moment),
                none(moment),
                none(Integer),
            ).where(_in_module(QuizAttempt, QuizAttempt.submitted_at.is_not(None))),
            select(
                literal(SOURCE_COURSE),
                none(text),
                none(number),
                none(Integer),
                CourseProgress.completed_at,
                none(moment),
                none(moment),
                none(Integer),
            ).where(_mine(CourseProgress)),
            select(
                literal(SOURCE_COMPLETED_MODULE),
                ModuleProgress.module_id,
                none(number),
                none(Integer),
                none(moment),
                none(moment),
                none(moment),
                none(Integer),
            ).where(_mine(ModuleProgress, ModuleProgress.completed_at.is_not(None))),
        ]
    return union_all(*parts)


(SOURCE_SEEN, SOURCE_PROGRESS, SOURCE_PRACTICE, SOURCE_QUIZ, SOURCE_COURSE, SOURCE_COMPLETED_MODULE) = range(
    1, 7
)
MODULE_STATE = _module_sources(refresh=False)
REFRESH_SOURCES = _module_sources(refresh=True)


class ModuleSourceRow(NamedTuple):
    """A row of MODULE_STATE or REFRESH_SOURCES (`_module_sources`' columns in order; `attempts` is its `count`).
    What a column holds depends on the row's kind."""

    kind: int
    name: Any
    score: Any
    attempts: Any
    at: Any
    reviewed_at: Any
    revision_requested_at: Any
    new_replies: Any


(SEEN_ROW, PROGRESS_ROW, PRACTICE_ROW, COURSE_STATE_ROW) = (1, 2, 3, 4)
OPEN_ATTEMPTS = (
    select(QuizAttempt)
    .where(_in_module(QuizAttempt, QuizAttempt.submitted_at.is_(None)))
    .order_by(QuizAttempt.started_at.desc(), QuizAttempt.id.desc())
)
NEWEST_OPEN_ATTEMPT = OPEN_ATTEMPTS.limit(1)
SUBMITTED_ATTEMPTS = (
    select(QuizAttempt.question_ids, QuizAttempt.layout, QuizAttempt.submitted_at, QuizAttempt.passed)
    .where(_in_module(QuizAttempt, QuizAttempt.submitted_at.is_not(None)))
    .order_by(QuizAttempt.submitted_at, QuizAttempt.id)
)
ATTEMPT_BY_PUBLIC_ID = (
    select(QuizAttempt)
    .where(_in_module(QuizAttempt, QuizAttempt.public_id == bindparam("public_id")))
    .execution_options(populate_existing=True)
)
PRACTICE = (
    select(PracticeSubmission).where(_in_module(PracticeSubmission)).execution_options(populate_existing=True)
)
# An attempt as the result page shows it: its columns, not the entity (the ORM's loading was ~15 % of the page).
_RESULT = select(
    QuizAttempt.public_id,
    QuizAttempt.layout,
    QuizAttempt.question_ids,
    QuizAttempt.answers,
    QuizAttempt.score,
    QuizAttempt.correct_count,
    QuizAttempt.question_count,
    QuizAttempt.submitted_at,
)
RESULT_BY_PUBLIC_ID = _RESULT.where(_in_module(QuizAttempt, QuizAttempt.public_id == bindparam("public_id")))
LATEST_SUBMITTED_RESULT = (
    _RESULT.where(_in_module(QuizAttempt, QuizAttempt.submitted_at.is_not(None)))
    .order_by(QuizAttempt.submitted_at.desc(), QuizAttempt.id.desc())
    .limit(1)
)

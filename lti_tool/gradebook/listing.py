"""The gradebook's rows: every learner of one course context × the course's modules, read set-based.

Who is listed: the context's roster (NRPS, `RosterEntry`) learners, plus the people who launched as learners but
are not (yet) in the roster; one row per LTI `sub`. Someone who launched as a teacher is never listed (the tool
sends no grades for them). Roster entries that are teachers are left out too, unless that person launched as a
learner.

A page of rows costs a fixed number of statements, whatever the number of learners or modules: one for the
counts per filter, one for the page of people (sorted, filtered, with course progress), then one each for the
page's module progress, practice tasks and newest grade deliveries (`fill_rows`). The CSV export streams the
same query with `yield_per` and fills each batch the same way.

Nothing here writes; services take a session and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from flask_babel import gettext as _
from sqlalchemy import (
    JSON,
    Select,
    Subquery,
    and_,
    case,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union,
)
from sqlalchemy.orm import Session, aliased

from ..course.completion import module_started
from ..course.model import Course, Module
from ..grading.outbox import DELIVERED, WAITING, RowState, grade_columns, newest_rows
from ..grading.payloads import has_result
from ..models import (
    GradeOutbox,
    LearnerSummary,
    Membership,
    ModuleProgress,
    PracticeSubmission,
    RosterEntry,
    User,
    UTCDateTime,
)

# URL values (German, as the addresses people see) -> what they mean.
SORTS = ("name", "fortschritt", "aktivitaet")
FILTERS = ("alle", "nicht-begonnen", "in-bearbeitung", "abgeschlossen", "zu-pruefen", "fehlgeschlagen")
PER_PAGE = 50

# "reviewed": accepted by an instructor; "revision": an instructor asked for a revision (progress.review).
PracticeState = Literal["none", "submitted", "revision", "reviewed"]
DeliveryState = Literal["none", "sent", "pending", "missing", "removed", "failed"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose gradebook: one course context (on one platform) and the course its activity delivers."""

    context_id: int
    platform_id: int
    course: Course


# --- What a row shows -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModuleCell:
    """One learner in one module."""

    module: Module
    lessons_seen: int = 0
    best_score: float | None = None
    attempts: int = 0
    practice: PracticeState = "none"
    practice_submitted_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    started: bool = False

    @property
    def lessons_total(self) -> int:
        return len(self.module.lessons)

    @property
    def state(self) -> Literal["completed", "in_progress", "not_started"]:
        if self.completed_at is not None:
            return "completed"
        return "in_progress" if self.started else "not_started"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The newest grade row of one target (the course result or a module's score) for one learner."""

    id: int
    target: str
    module_id: str | None
    state: str
    last_status: int | None
    last_error: str | None
    at: dt.datetime | None
    # The score as sent (AGS scoreGiven / scoreMaximum); None while grading is pending (a review awaited)
    score_given: float | None = None
    score_maximum: float | None = None
    sent_at: dt.datetime | None = None

    @property
    def group(self) -> DeliveryState:
        if self.state == RowState.FAILED:
            return "failed"
        if self.state == RowState.REMOVED:
            return "removed"
        if self.state in WAITING:
            return "pending"
        if self.state in DELIVERED:
            return "sent"
        return "none"


def delivery_from(
    row_id: int,
    target: str,
    module_id: str | None,
    state: str,
    last_status: int | None,
    last_error: str | None,
    payload: Any,
    sent_at: dt.datetime | None,
    last_attempt_at: dt.datetime | None,
    created_at: dt.datetime | None,
) -> Delivery:
    """A Delivery from one grade row's columns. The score counts only when the payload says it is graded
    (`gradingProgress` FullyGraded; Moodle ignores `scoreGiven` otherwise)."""
    given = maximum = None
    if isinstance(payload, dict) and payload.get("gradingProgress", "FullyGraded") == "FullyGraded":
        raw_given, raw_max = payload.get("scoreGiven"), payload.get("scoreMaximum")
        if isinstance(raw_given, int | float) and isinstance(raw_max, int | float):
            given, maximum = float(raw_given), float(raw_max)
    at = sent_at or last_attempt_at or created_at
    return Delivery(row_id, target, module_id, state, last_status, last_error, at, given, maximum, sent_at)


def learner_label(name: str | None, email: str | None, sub: str) -> str:
    """How the gradebook names a learner: the name the platform sent. A platform that sends no names (Moodle with
    its privacy settings off) still lets a teacher tell learners apart and find them in the LMS: by the e-mail if
    it sends that, else by the LMS's user id (`sub`; Moodle's user id, as in its profile links). A long id is
    shortened to its ends; the learner's page shows it whole."""
    if name:
        return name
    if email:
        return str(_("Participant without a name (%(email)s)", email=email))
    reference = sub if len(sub) <= 20 else f"{sub[:6]}…{sub[-6:]}"
    return str(_("Participant without a name (id %(id)s in the learning platform)", id=reference))


@dataclass(frozen=True, slots=True)
class Person:
    """A listed learner as the people query returns them. `user_id` is None for someone who never launched
    the tool in this context (known from the roster only)."""

    sub: str
    user_id: int | None
    name: str | None  # None: the platform sent no name (see `learner_label`)
    email: str | None
    roster_status: str | None  # None: not in the roster (launched only)
    last_activity: dt.datetime | None
    course_completed_at: dt.datetime | None
    modules_done: int

    @property
    def in_roster(self) -> bool:
        return self.roster_status is not None

    @property
    def label(self) -> str:
        return learner_label(self.name, self.email, self.sub)


@dataclass(slots=True)
class Row:
    person: Person
    modules: list[ModuleCell]
    deliveries: list[Delivery] = field(default_factory=list)
    # Grade items (activities, or modules) that should hold a result of this learner but were never sent one.
    missing: int = 0

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.group == "failed"]

    @property
    def removed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.group == "removed"]

    @property
    def delivery(self) -> DeliveryState:
        """Failed if any grade failed, else removed (its grade item was deleted in the LMS), pending if any
        waits, missing if an activity lacks the learner's result, sent if all arrived."""
        groups = {d.group for d in self.deliveries}
        if self.missing:
            groups.add("missing")
        for state in ("failed", "removed", "pending", "missing", "sent"):
            if state in groups:
                return state
        return "none"

    @property
    def course_grade(self) -> Delivery | None:
        """The newest grade of the course result (of any activity that takes it): what the LMS was sent."""
        course = [d for d in self.deliveries if d.module_id is None]
        return max(course, key=lambda d: d.id) if course else None

    @property
    def awaiting_review(self) -> list[ModuleCell]:
        return [cell for cell in self.modules if cell.practice == "submitted"]


# --- The people query ---------------------------------------------------------------------------------


def _real_name(name: Any, given: Any, family: Any, *fallbacks: Any) -> Any:
    """SQL for User.real_name: the name, else given + family name, else the fallbacks (the roster's name);
    NULL when nobody sent a name."""
    joined = func.nullif(func.trim(func.coalesce(given, "") + " " + func.coalesce(family, "")), "")
    return func.coalesce(func.nullif(name, ""), joined, *(func.nullif(f, "") for f in fallbacks))


def _progress_columns(scope: Scope, query: Select[Any]) -> Select[Any]:
    """Add a learner's course progress and flags to one branch of the people query: their row of the summary
    (`LearnerSummary`, one per learner, kept with the progress and the grade outbox), joined on
    Membership.user_id (a real column: the planner knows it is unique per context, so PostgreSQL estimates
    these joins right; joined on the union's column instead it overestimates them a hundredfold and
    JIT-compiles the statement, which then takes longer than running it)."""
    c, course_id = scope.context_id, scope.course.id
    summary = aliased(LearnerSummary, name="summary")
    launch = Membership.last_launch_at
    progress_at = summary.last_activity
    last_activity = type_coerce(
        case(
            (progress_at.is_(None), launch),
            (launch.is_(None), progress_at),
            (progress_at > launch, progress_at),
            else_=launch,
        ),
        UTCDateTime(),
    )
    user = Membership.user_id
    return query.add_columns(
        last_activity.label("last_activity"),
        summary.completed_at.label("course_completed_at"),
        func.coalesce(summary.modules_done, 0).label("modules_done"),
        func.coalesce(summary.lessons_seen, 0).label("lessons_seen"),
        # started (completion.module_started) in some module: progress recomputes a module's row at the
        # first lesson seen, quiz attempt or practice task, so having a row is having started
        case((summary.started.is_(True), 1), else_=0).label("started"),
        case((summary.delivery_failed.is_(True), 1), else_=0).label("failed"),
        case((summary.review_waiting > 0, 1), else_=0).label("to_review"),
        func.coalesce(summary.review_waiting, 0).label("review_waiting"),
    ).outerjoin(
        summary, and_(summary.user_id == user, summary.context_id == c, summary.course_id == course_id)
    )


def people(scope: Scope) -> Subquery:
    """Every listed learner with their course progress: sub, user_id, name, email, roster_status,
    last_activity, course_completed_at, modules_done, lessons_seen, and 0/1 flags started, failed (a grade
    delivery), to_review (a practice text).

    The subs come first (the roster's and the launched learners', as a UNION), then everything is joined to
    them through unique keys, so that the planner's row estimates stay right (see `_progress_columns`).
    """
    c, p = scope.context_id, scope.platform_id
    subs = union(
        select(RosterEntry.sub.label("sub")).where(RosterEntry.context_id == c),
        select(User.sub)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.context_id == c, Membership.is_instructor.is_(False)),
    ).subquery("subs")
    base = (
        select(
            subs.c.sub.label("sub"),
            Membership.user_id.label("user_id"),
            _real_name(User.name, User.given_name, User.family_name, RosterEntry.name).label("name"),
            func.coalesce(User.email, RosterEntry.email).label("email"),
            RosterEntry.status.label("roster_status"),
        )
        .select_from(subs)
        .outerjoin(RosterEntry, and_(RosterEntry.context_id == c, RosterEntry.sub == subs.c.sub))
        .outerjoin(User, and_(User.platform_id == p, User.sub == subs.c.sub))
        .outerjoin(Membership, and_(Membership.user_id == User.id, Membership.context_id == c))
        .where(
            or_(
                Membership.is_instructor.is_(False),
                and_(Membership.id.is_(None), RosterEntry.is_learner.is_(True)),
            )
        )
    )
    return _progress_columns(scope, base).subquery("people")


def _conditions(crowd: Subquery) -> dict[str, Any]:
    """What each filter (but "alle") selects, on the columns of `people`."""
    completed = crowd.c.course_completed_at.is_not(None)
    return {
        "nicht-begonnen": and_(crowd.c.started == 0, ~completed),
        "in-bearbeitung": and_(crowd.c.started == 1, ~completed),
        "abgeschlossen": completed,
        "zu-pruefen": crowd.c.to_review == 1,
        "fehlgeschlagen": crowd.c.failed == 1,
    }


def count_by_filter(s: Session, scope: Scope) -> dict[str, int]:
    """How many learners each filter shows ("alle": everyone), in one statement."""
    crowd = people(scope)
    columns = [
        func.count().label("alle"),
        func.coalesce(func.sum(crowd.c.review_waiting), 0).label("texts"),
    ] + [
        func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(name)
        for name, condition in _conditions(crowd).items()
    ]
    row = s.execute(select(*columns).select_from(crowd)).one()
    return {name: int(row._mapping[name] or 0) for name in (*FILTERS, "texts")}


def _order(crowd: Subquery, sort: str) -> list[Any]:
    by_name = (func.lower(crowd.c.name).nulls_last(), crowd.c.sub)  # the nameless after the named, by id
    if sort == "fortschritt":
        return [
            crowd.c.course_completed_at.is_(None),
            crowd.c.modules_done.desc(),
            crowd.c.lessons_seen.desc(),
            *by_name,
        ]
    if sort == "aktivitaet":
        return [crowd.c.last_activity.desc().nulls_last(), *by_name]
    return list(by_name)


def listing_query(scope: Scope, *, sort: str, only: str) -> Select[Any]:
    """The listed people with their course progress, filtered (`only`, one of FILTERS) and sorted (SORTS)."""
    crowd = people(scope)
    query = select(crowd)
    conditions = _conditions(crowd)
    if only in conditions:
        query = query.where(conditions[only])
    return query.order_by(*_order(crowd, sort))


def _page_query(scope: Scope, *, sort: str, only: str) -> Select[Any]:
    """A page of people and the counts per filter in one statement: the counts are window sums over everyone,
    and the people the filter selects come first (the rest after them), so that LIMIT/OFFSET pages through
    them; a page's rows the filter does not select (at the end of the last page) are dropped by the caller."""
    crowd = people(scope)
    conditions = _conditions(crowd)
    counts = [
        func.count().over().label("n_alle"),
        func.sum(crowd.c.review_waiting).over().label("n_texts"),
    ] + [
        func.sum(case((condition, 1), else_=0)).over().label("n_" + name)
        for name, condition in conditions.items()
    ]
    selected = conditions.get(only)
    first = [case((selected, 0), else_=1)] if selected is not None else []
    matches = (selected if selected is not None else literal(True)).label("selected")
    return select(crowd, matches, *counts).order_by(*first, *_order(crowd, sort))


def _person(row: Any) -> Person:
    return Person(
        sub=row.sub,
        user_id=row.user_id,
        name=row.name,
        email=row.email,
        roster_status=row.roster_status,
        last_activity=row.last_activity,
        course_completed_at=row.course_completed_at,
        modules_done=int(row.modules_done or 0),
    )


def fill_rows(s: Session, scope: Scope, persons: Sequence[Person]) -> list[Row]:
    """Module progress, practice tasks and newest grade rows of these people: three statements for any number."""
    course = scope.course
    ids = [p.user_id for p in persons if p.user_id is not None]
    progress: dict[tuple[int, str], Any] = {}
    practice: dict[tuple[int, str], Any] = {}
    deliveries: dict[int, list[Delivery]] = {}
    if ids:
        mine = (ModuleProgress.context_id == scope.context_id, ModuleProgress.course_id == course.id)
        for row in s.execute(
            select(
                ModuleProgress.user_id,
                ModuleProgress.module_id,
                ModuleProgress.lessons_seen,
                ModuleProgress.attempts,
                ModuleProgress.best_score,
                ModuleProgress.completed_at,
            ).where(*mine, ModuleProgress.user_id.in_(ids))
        ):
            progress[(row.user_id, row.module_id)] = row
        for submitted in s.execute(
            select(
                PracticeSubmission.user_id,
                PracticeSubmission.module_id,
                PracticeSubmission.submitted_at,
                PracticeSubmission.reviewed_at,
                PracticeSubmission.revision_requested_at,
            ).where(
                PracticeSubmission.context_id == scope.context_id,
                PracticeSubmission.course_id == course.id,
                PracticeSubmission.user_id.in_(ids),
            )
        ):
            practice[(submitted.user_id, submitted.module_id)] = submitted
        for delivery_user, delivery in newest_deliveries(s, scope, ids):
            deliveries.setdefault(delivery_user, []).append(delivery)
    columns = grade_columns(s, scope.context_id, course) if ids else None
    rows = []
    for person in persons:
        cells = []
        for module in course.modules:
            key = (person.user_id or 0, module.id)
            cells.append(module_cell(module, progress.get(key), practice.get(key)))
        newest = deliveries.get(person.user_id or 0, [])
        missing = 0
        if columns is not None and person.user_id is not None:
            with_result = [
                c.module.id
                for c in cells
                if has_result(
                    attempts=c.attempts,
                    practice_submitted=c.practice != "none",
                    completed=c.completed_at is not None,
                )
            ]
            missing = len(columns.expected(with_result) - {d.target for d in newest})
        rows.append(Row(person, cells, newest, missing))
    return rows


def module_cell(module: Module, progress: Any | None, practice: Any | None) -> ModuleCell:
    state: PracticeState = "none"
    if practice is not None:
        if practice.reviewed_at is not None:
            state = "reviewed"
        elif practice.revision_requested_at is not None:
            state = "revision"
        else:
            state = "submitted"
    if progress is None:
        return ModuleCell(
            module,
            practice=state,
            practice_submitted_at=practice.submitted_at if practice else None,
            started=module_started(
                lessons_seen=0, attempts=0, practice_submitted=practice is not None, completed=False
            ),
        )
    return ModuleCell(
        module,
        lessons_seen=min(int(progress.lessons_seen), len(module.lessons)),
        best_score=progress.best_score,
        attempts=int(progress.attempts),
        practice=state,
        practice_submitted_at=practice.submitted_at if practice else None,
        completed_at=progress.completed_at,
        started=module_started(
            lessons_seen=progress.lessons_seen,
            attempts=progress.attempts,
            practice_submitted=practice is not None,
            completed=progress.completed_at is not None,
        ),
    )


def failed_delivery_ids(s: Session, scope: Scope) -> list[int]:
    """Ids of the grade rows of this course context that failed and are still the newest of their target."""
    return _newest_ids(s, scope, RowState.FAILED)


def removed_delivery_ids(s: Session, scope: Scope) -> list[int]:
    """Ids of the grade rows of this course context whose grade item was deleted in the LMS (newest of their
    target): what "create the grade items again" sends."""
    return _newest_ids(s, scope, RowState.REMOVED)


def _newest_ids(s: Session, scope: Scope, state: RowState) -> list[int]:
    query = newest_rows(context_id=scope.context_id, course_id=scope.course.id, states=[state])
    return list(s.scalars(query.with_only_columns(GradeOutbox.id).order_by(GradeOutbox.id)))


def newest_deliveries(s: Session, scope: Scope, user_ids: Sequence[int]) -> list[tuple[int, Delivery]]:
    """(user id, newest row of each of their grade targets) for this course context (one statement)."""
    newest = newest_rows(context_id=scope.context_id, course_id=scope.course.id, user_ids=user_ids)
    found = []
    for row in s.execute(
        newest.with_only_columns(
            GradeOutbox.id,
            GradeOutbox.user_id,
            GradeOutbox.target,
            GradeOutbox.module_id,
            GradeOutbox.state,
            GradeOutbox.last_status,
            GradeOutbox.last_error,
            # only the course result's value is shown: the module rows' payloads are not decoded
            type_coerce(
                case((GradeOutbox.module_id.is_(None), GradeOutbox.payload), else_=null()), JSON
            ).label("payload"),
            GradeOutbox.sent_at,
            GradeOutbox.last_attempt_at,
            GradeOutbox.created_at,
        )
        .where(GradeOutbox.state != RowState.SUPERSEDED)
        .order_by(GradeOutbox.user_id, GradeOutbox.module_id.is_not(None), GradeOutbox.module_id)
    ):
        found.append(
            (
                row.user_id,
                delivery_from(
                    row.id,
                    row.target,
                    row.module_id,
                    row.state,
                    row.last_status,
                    row.last_error,
                    row.payload,
                    row.sent_at,
                    row.last_attempt_at,
                    row.created_at,
                ),
            )
        )
    return found


# --- A page, and all rows for the export -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    counts: dict[str, int]
    sort: str
    only: str
    number: int
    pages: int

    @property
    def total(self) -> int:
        return self.counts[self.only]


def page(s: Session, scope: Scope, *, sort: str, only: str, number: int, per_page: int = PER_PAGE) -> Page:
    """One page of the gradebook (a page number past the end shows the last page): the counts per filter and
    the page's people in one statement (`_page_query`), then their details (`fill_rows`)."""
    query = _page_query(scope, sort=sort, only=only)
    number = max(1, number)
    found = s.execute(query.limit(per_page).offset((number - 1) * per_page)).all()
    if found:
        counts = {name: int(found[0]._mapping["n_" + name] or 0) for name in (*FILTERS, "texts")}
    else:  # past everyone: count apart
        counts = count_by_filter(s, scope)
    pages = max(1, -(-counts[only] // per_page))
    if number > pages:  # past the end: the last page
        number = pages
        found = s.execute(query.limit(per_page).offset((number - 1) * per_page)).all()
    persons = [_person(row) for row in found if row.selected]
    return Page(fill_rows(s, scope, persons), counts, sort, only, number, pages)


def all_rows(s: Session, scope: Scope, *, sort: str, only: str, batch: int) -> Iterator[list[Row]]:
    """Every listed learner, `batch` at a time, read through a server-side cursor (PostgreSQL) or lazily from
    SQLite: the list is never held in memory as a whole."""
    query = listing_query(scope, sort=sort, only=only).execution_options(yield_per=batch)
    result = s.execute(query)
    for part in result.partitions():
        yield fill_rows(s, scope, [_person(row) for row in part])

"""What a gradebook row shows (a learner, their module cells, their newest grade deliveries), and filling the
rows of a set of learners: a fixed number of statements for any number (`fill_rows`).

Nothing here writes; services take a session and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from flask_babel import gettext as _
from sqlalchemy import JSON, case, null, select, type_coerce
from sqlalchemy.orm import Session

from ..course.completion import module_started
from ..course.model import Course, Module
from ..grading.outbox import DELIVERED, WAITING, RowState, grade_columns, newest_rows
from ..grading.outbox.targets import ContextScopes
from ..grading.payloads import has_result
from ..models import GradeOutbox, ModuleProgress, PracticeSubmission
from ..text import shown_id

# "reviewed": accepted by an instructor; "revision": an instructor asked for a revision (progress.review).
PracticeState = Literal["none", "submitted", "revision", "reviewed"]
DeliveryState = Literal["none", "sent", "pending", "missing", "removed", "failed"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose gradebook: one course context (on one platform) and the course its activity delivers."""

    context_id: int
    platform_id: int
    course: Course
    context: ContextScopes | None = None  # the request's copy of the context row, when it has one


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


def delivery_from(row: Any) -> Delivery:
    """A Delivery from one grade row: a GradeOutbox or a result row with its columns of the same names (id,
    target, module_id, state, last_status, last_error, payload, sent_at, last_attempt_at, created_at). The score
    counts only when the payload says it is graded (`gradingProgress` FullyGraded; Moodle ignores `scoreGiven`
    otherwise)."""
    given = maximum = None
    payload = row.payload
    if isinstance(payload, dict) and payload.get("gradingProgress", "FullyGraded") == "FullyGraded":
        raw_given, raw_max = payload.get("scoreGiven"), payload.get("scoreMaximum")
        if isinstance(raw_given, int | float) and isinstance(raw_max, int | float):
            given, maximum = float(raw_given), float(raw_max)
    at = row.sent_at or row.last_attempt_at or row.created_at
    return Delivery(
        row.id,
        row.target,
        row.module_id,
        row.state,
        row.last_status,
        row.last_error,
        at,
        given,
        maximum,
        row.sent_at,
    )


def learner_label(name: str | None, email: str | None, sub: str) -> str:
    """How the gradebook names a learner: the name the platform sent. A platform that sends no names (Moodle with
    its privacy settings off) still lets a teacher tell learners apart and find them in the LMS: by the e-mail if
    it sends that, else by the LMS's user id (`sub`; Moodle's user id, as in its profile links), without the
    characters that show nothing or turn the sentence around (`shown_id`). A long id is shortened to its ends; the
    learner's page shows it whole."""
    if name:
        return name
    if email:
        return str(_("Participant without a name (%(email)s)", email=email))
    sub = shown_id(sub)
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
    columns = grade_columns(s, scope.context or scope.context_id, course) if ids else None
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
    # Sorted here, not by ORDER BY id: that made SQLite walk the whole outbox in id order instead of looking the
    # (few) rows in this state up by the index on state.
    return sorted(s.scalars(query.with_only_columns(GradeOutbox.id)))


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
                delivery_from(row),
            )
        )
    return found

"""One learner as their teacher sees them: quiz attempts with the answers, practice texts, a timeline.

A learner is found only through a membership of the teacher's course context (so a user id of another course or
platform finds nothing: `LearnerNotFound`). A fixed number of statements per page, whatever the learner did.
Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ..course.model import Course, Module, Option, Question, Quiz
from ..grading.outbox import RowState, is_newest
from ..lti.roles import context_role
from ..models import (
    Certificate,
    CourseProgress,
    GradeOutbox,
    LessonVisit,
    Membership,
    ModuleProgress,
    PracticeReviewRound,
    PracticeSubmission,
    QuizAttempt,
    ReviewDecision,
    RosterEntry,
    User,
)
from ..progress import layout_fits
from ..progress.review import ReviewRound
from ..text import shown_id
from .rows import Delivery, ModuleCell, Scope, delivery_from, learner_label, module_cell


class LearnerNotFound(LookupError):
    """No learner with this id in the course context (another course, another platform, a teacher, or none)."""


class PracticeMissing(LookupError):
    """The learner has not submitted this module's practice task."""


@dataclass(frozen=True, slots=True)
class Learner:
    user: User
    membership: Membership
    roster: RosterEntry | None

    @property
    def email(self) -> str | None:
        return self.user.email or (self.roster.email if self.roster else None)

    @property
    def label(self) -> str:
        """The name the gradebook's list shows for this learner (`learner_label`)."""
        name = self.user.real_name or (self.roster.name if self.roster else None)
        return learner_label(name, self.email, self.user.sub)

    @property
    def shown_sub(self) -> str:
        """The LMS's user id, whole, as pages show it (`text.shown_id`)."""
        return shown_id(self.user.sub)


def find_learner(s: Session, scope: Scope, user_id: int) -> Learner:
    if not 0 < user_id < 2**63:  # an id from a URL: beyond BIGINT the database would fail, not find nothing
        raise LearnerNotFound(user_id)
    found = s.execute(
        select(User, Membership, RosterEntry)
        .join(Membership, (Membership.user_id == User.id) & (Membership.context_id == scope.context_id))
        .outerjoin(RosterEntry, (RosterEntry.context_id == scope.context_id) & (RosterEntry.sub == User.sub))
        .where(User.id == user_id, User.platform_id == scope.platform_id, Membership.is_instructor.is_(False))
    ).one_or_none()
    if found is None:
        raise LearnerNotFound(user_id)
    return Learner(*found)


def find_practice(s: Session, scope: Scope, learner: Learner, module: Module) -> PracticeSubmission:
    submission = s.scalars(
        select(PracticeSubmission)
        .where(
            PracticeSubmission.user_id == learner.user.id,
            PracticeSubmission.context_id == scope.context_id,
            PracticeSubmission.course_id == scope.course.id,
            PracticeSubmission.module_id == module.id,
        )
        .execution_options(populate_existing=True)
    ).one_or_none()
    if submission is None:
        raise PracticeMissing(module.id)
    return submission


# --- Quiz attempts with their answers -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    number: int
    question_id: str
    question: Question | None  # None: the question is no longer in the course
    chosen: list[Option | str]  # options in the learner's order; a bare id when the option is gone
    correct: bool | None  # judged with the course text as it is now; None: the question is gone


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    row: QuizAttempt
    answers: list[Answer]
    quiz_changed: bool  # the quiz was edited after this attempt (answers judged by the current text)


def answers_of(quiz: Quiz, answers: Mapping[str, Any] | None) -> list[Answer]:
    given = dict(answers or {})
    found: list[Answer] = []
    # The questions the attempt asked (a pool asks some of them; a submitted attempt answered all it asked).
    order = [q.id for q in quiz.questions if q.id in given] + sorted(
        set(given) - {q.id for q in quiz.questions}
    )
    for number, question_id in enumerate(order, start=1):
        question = quiz.question(question_id)
        ids = [str(i) for i in given.get(question_id) or []]
        if question is None:
            found.append(Answer(number, question_id, None, list(ids), None))
            continue
        chosen: list[Option | str] = [question.option(i) or i for i in ids]
        found.append(Answer(number, question_id, question, chosen, bool(ids) and question.is_correct(ids)))
    return found


# --- The page --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModuleDetail:
    module: Module
    cell: ModuleCell
    attempts: list[Attempt]
    practice: PracticeSubmission | None
    lessons_seen: list[tuple[str, dt.datetime]]  # lesson title, first seen
    deliveries: list[Delivery]  # the newest grade of each of the module's grade items
    rounds: list[ReviewRound]  # the practice text's review rounds, oldest first


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the timeline; the template words it by `kind`."""

    at: dt.datetime
    kind: str  # launch, lesson, quiz, practice, practice_edit, review, module, course, certificate, grade
    module: Module | None = None
    title: str = ""
    score: float | None = None
    passed: bool | None = None
    delivery: Delivery | None = None


@dataclass(frozen=True, slots=True)
class Detail:
    learner: Learner
    modules: list[ModuleDetail]
    course_started_at: dt.datetime | None
    course_completed_at: dt.datetime | None
    certificate: Certificate | None
    deliveries: list[Delivery]  # newest per target
    timeline: list[Event]  # newest first

    @property
    def modules_done(self) -> int:
        return sum(1 for m in self.modules if m.cell.completed_at is not None)

    @property
    def course_deliveries(self) -> list[Delivery]:
        """The newest grade of each course-result grade item (one per activity that takes the course result)."""
        return [d for d in self.deliveries if d.module_id is None]

    @property
    def roles(self) -> list[str]:
        """The learner's roles in the LMS course, as principal LIS context role names ("Learner", "Mentor")."""
        names = [context_role(str(role)) for role in self.learner.membership.roles or []]
        return sorted({name for name in names if name})


_REVIEWER = aliased(User, name="reviewer")  # built once (see grading/outbox/rows._NEWER)


def detail(s: Session, scope: Scope, user_id: int) -> Detail:
    course = scope.course
    learner = find_learner(s, scope, user_id)
    owner = {"user_id": learner.user.id, "context_id": scope.context_id, "course_id": course.id}

    def mine(model: Any) -> list[Any]:
        return [getattr(model, key) == value for key, value in owner.items()]

    progress = {row.module_id: row for row in s.scalars(select(ModuleProgress).where(*mine(ModuleProgress)))}
    # The practice texts with every review round and its reviewer's name (one statement).
    reviewer = _REVIEWER
    practice: dict[str, PracticeSubmission] = {}
    rounds: dict[str, list[ReviewRound]] = {}
    for text, review, by in s.execute(
        select(PracticeSubmission, PracticeReviewRound, reviewer)
        .outerjoin(PracticeReviewRound, PracticeReviewRound.submission_id == PracticeSubmission.id)
        .outerjoin(reviewer, reviewer.id == PracticeReviewRound.reviewer_id)
        .where(*mine(PracticeSubmission))
        .order_by(PracticeSubmission.module_id, PracticeReviewRound.number)
    ):
        practice[text.module_id] = text
        if review is not None:
            rounds.setdefault(text.module_id, []).append(
                ReviewRound(
                    number=review.number,
                    decision=ReviewDecision(review.decision),
                    text=review.text,
                    text_updated_at=review.text_updated_at,
                    feedback=review.feedback,
                    reviewed_at=review.reviewed_at,
                    reviewer_name=by.real_name if by is not None else None,
                )
            )
    visits: dict[str, list[LessonVisit]] = {}
    for visit in s.scalars(select(LessonVisit).where(*mine(LessonVisit)).order_by(LessonVisit.first_seen_at)):
        visits.setdefault(visit.module_id, []).append(visit)
    attempts: dict[str, list[QuizAttempt]] = {}
    for attempt in s.scalars(
        select(QuizAttempt)
        .where(*mine(QuizAttempt), QuizAttempt.submitted_at.is_not(None))
        .order_by(QuizAttempt.submitted_at, QuizAttempt.id)
    ):
        attempts.setdefault(attempt.module_id, []).append(attempt)
    course_progress = s.scalars(select(CourseProgress).where(*mine(CourseProgress))).one_or_none()
    certificate = s.scalars(
        select(Certificate).where(*mine(Certificate), Certificate.revoked_at.is_(None))
    ).one_or_none()
    grade_rows = s.execute(  # each with whether it is the newest row of its target
        select(GradeOutbox, is_newest().label("newest"))
        .where(*mine(GradeOutbox), GradeOutbox.state != RowState.SUPERSEDED)
        .order_by(GradeOutbox.id)
    ).all()

    events: list[Event] = [Event(learner.membership.created_at, "launch")]
    modules: list[ModuleDetail] = []
    for module in course.modules:
        submission = practice.get(module.id)
        cell = module_cell(module, progress.get(module.id), submission)
        seen: list[tuple[str, dt.datetime]] = []
        for visit in visits.get(module.id, []):
            lesson = module.lesson(visit.lesson_id)
            title = lesson.title if lesson else visit.lesson_id
            seen.append((title, visit.first_seen_at))
            events.append(Event(visit.first_seen_at, "lesson", module, title))
        shown: list[Attempt] = []
        for number, row in enumerate(attempts.get(module.id, []), start=1):
            changed = not layout_fits(module.quiz, row)
            shown.append(Attempt(number, row, answers_of(module.quiz, row.answers), changed))
            assert row.submitted_at is not None
            events.append(Event(row.submitted_at, "quiz", module, score=row.score, passed=row.passed))
        if submission is not None:
            events.append(Event(submission.submitted_at, "practice", module))
            if submission.updated_at > submission.submitted_at and (
                submission.reviewed_at is None or submission.updated_at <= submission.reviewed_at
            ):
                events.append(Event(submission.updated_at, "practice_edit", module))
            if submission.reviewed_at is not None:
                events.append(Event(submission.reviewed_at, "review", module))
        if cell.completed_at is not None:
            events.append(Event(cell.completed_at, "module", module))
        modules.append(ModuleDetail(module, cell, shown, submission, seen, [], rounds.get(module.id, [])))
    if course_progress is not None and course_progress.completed_at is not None:
        events.append(Event(course_progress.completed_at, "course"))
    if certificate is not None:
        events.append(Event(certificate.issued_at, "certificate", title=certificate.code))
    newest: list[Delivery] = []
    for grade, is_newest_row in grade_rows:
        delivery = delivery_from(grade)
        if is_newest_row:
            newest.append(delivery)
        graded = course.module(grade.module_id) if grade.module_id else None
        events.append(Event(delivery.at or grade.created_at, "grade", graded, delivery=delivery))
    events.sort(key=lambda e: (e.at, _KIND_ORDER.get(e.kind, 99)), reverse=True)
    for shown_module in modules:
        shown_module.deliveries.extend(
            sorted(
                (d for d in newest if d.module_id == shown_module.module.id),
                key=lambda d: d.target,
            )
        )
    return Detail(
        learner=learner,
        modules=modules,
        course_started_at=course_progress.started_at if course_progress else None,
        course_completed_at=course_progress.completed_at if course_progress else None,
        certificate=certificate,
        deliveries=sorted(newest, key=lambda d: _target_order(course, d)),
        timeline=events,
    )


# Among events at the same moment: what caused what (a quiz completes a module, which sends a grade).
_KIND_ORDER = {
    "launch": 0,
    "lesson": 1,
    "quiz": 2,
    "practice": 3,
    "practice_edit": 4,
    "review": 5,
    "module": 6,
    "course": 7,
    "certificate": 8,
    "grade": 9,
}


def _target_order(course: Course, delivery: Delivery) -> tuple[int, str]:
    """The course result first, then the modules in the course's order."""
    if delivery.module_id is None:
        return (0, delivery.target)
    module = course.module(delivery.module_id)
    return (module.position if module else 999, delivery.target)


def failed_ids(deliveries: Sequence[Delivery]) -> list[int]:
    return [d.id for d in deliveries if d.group == "failed"]

"""The module quiz: starting an attempt (questions drawn from the pool, options shuffled), checking and
scoring the answers once, and what the attempt policy allows next."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..course import pools
from ..course.attempt_policy import Done, Gate, next_gate
from ..course.completion import score_passes
from ..course.model import Course, Module, Question, Quiz
from ..models import QuizAttempt, utcnow
from .learner import AttemptLocked, AttemptNotFound, InvalidAnswers, Learner, QuizChanged
from .statements import (
    ATTEMPT_BY_PUBLIC_ID,
    LATEST_SUBMITTED_RESULT,
    MODULE_PROGRESS,
    NEWEST_OPEN_ATTEMPT,
    OPEN_ATTEMPTS,
    RESULT_BY_PUBLIC_ID,
    SUBMITTED_ATTEMPTS,
    owner,
    params,
    read,
)
from .writes import ProgressUpdate, lock_learner, refresh_progress, set_location


def attempt_questions(quiz: Quiz, attempt: QuizAttempt | Any) -> list[Question] | None:
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


def find_open_attempt(s: Session, learner: Learner, course: Course, module: Module) -> QuizAttempt | None:
    """The learner's newest unsubmitted attempt at this module's quiz, if its layout still fits the quiz."""
    attempt = s.scalars(NEWEST_OPEN_ATTEMPT, params(learner, course.id, module.id)).first()
    if attempt is None or not layout_fits(module.quiz, attempt):
        return None
    return attempt


def _submitted(s: Session, learner: Learner, course: Course, module: Module) -> list[Any]:
    """The learner's submitted attempts at this module's quiz, oldest first (for the draw and the policy)."""
    return list(s.execute(SUBMITTED_ATTEMPTS, params(learner, course.id, module.id)))


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
    lock_learner(s, learner, course.id)
    stale: list[int] = []
    for attempt in s.scalars(OPEN_ATTEMPTS, params(learner, course.id, module.id)):
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
        **owner(learner, course.id),
        module_id=module.id,
        layout=pools.layout(module.quiz, question_ids, seed),
        question_ids=question_ids,
        draw_seed=seed,
        question_count=len(question_ids),
        started_at=now,
    )
    s.add(attempt)
    set_location(s, learner, course.id, module.id, "quiz", now)
    s.flush()
    return attempt


_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def get_attempt(s: Session, learner: Learner, course: Course, module: Module, public_id: str) -> QuizAttempt:
    """An attempt by its public id, only ever together with its owner (user + context) and module."""
    if not _PUBLIC_ID.fullmatch(public_id):  # garbage (a NUL breaks PostgreSQL) never reaches the database
        raise AttemptNotFound(public_id[:40])
    attempt = s.scalars(
        ATTEMPT_BY_PUBLIC_ID, params(learner, course.id, module.id, public_id=public_id)
    ).first()
    if attempt is None:
        raise AttemptNotFound(public_id[:40])
    return attempt


def attempt_result(
    s: Session, learner: Learner, course: Course, module: Module, public_id: str
) -> Any | None:
    """The attempt by its public id (as `get_attempt`: AttemptNotFound when it is not the learner's), else
    (`public_id` empty) the newest submitted one, as the result page reads it: a row of its columns (public_id,
    layout, question_ids, answers, score, correct_count, question_count, submitted_at), not the entity; None when
    there is none."""
    if not public_id:
        return read(s, LATEST_SUBMITTED_RESULT, params(learner, course.id, module.id)).first()
    if not _PUBLIC_ID.fullmatch(public_id):
        raise AttemptNotFound(public_id[:40])
    row = read(s, RESULT_BY_PUBLIC_ID, params(learner, course.id, module.id, public_id=public_id)).first()
    if row is None:
        raise AttemptNotFound(public_id[:40])
    return row


def quiz_record(s: Session, learner: Learner, course: Course, module: Module) -> tuple[float | None, int]:
    """Best score and number of submitted attempts at this module's quiz (one query)."""
    row = read(s, MODULE_PROGRESS, params(learner, course.id, module.id)).one_or_none()
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
    *,
    locked: QuizAttempt | None = None,
) -> QuizSubmission:
    """Score the answers on the server and close the attempt, once.

    The attempt is closed by a conditional UPDATE (`submitted_at IS NULL`): of two concurrent submits of the
    same form one records, the other gets `first=False` and the recorded result. The best attempt counts
    (`refresh_progress`). `locked`: the attempt as the caller read it after `lock_learner` in this transaction
    (not read again).
    """
    now = utcnow()
    if locked is None:
        lock_learner(s, learner, course.id)
        attempt = get_attempt(s, learner, course, module, public_id)
    else:
        attempt = locked
    if attempt.submitted_at is not None:
        return QuizSubmission(attempt, first=False, update=None)
    questions = attempt_questions(module.quiz, attempt)
    if questions is None:
        raise QuizChanged(public_id[:40])
    checked = check_answers(questions, answers)
    correct = sum(1 for question in questions if question.is_correct(checked[question.id]))
    total = len(questions)
    score = correct / total
    values = {
        "answers": checked,
        "correct_count": correct,
        "question_count": total,
        "score": score,
        "passed": score_passes(course, score),
        "submitted_at": now,
    }
    closed = s.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt.id, QuizAttempt.submitted_at.is_(None))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if getattr(closed, "rowcount", 1) != 1:
        s.refresh(attempt)  # submitted meanwhile: the recorded result
        return QuizSubmission(attempt, first=False, update=None)
    for name, value in values.items():  # what the UPDATE wrote, without reading the row back
        set_committed_value(attempt, name, value)
    result = refresh_progress(s, learner, course, module, "quiz_submitted", now, location="quiz")
    return QuizSubmission(attempt, first=True, update=result)

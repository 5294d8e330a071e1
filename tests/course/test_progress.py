"""lti_tool.progress: what each write records and reports, that every grade-affecting write queues the grade
(read from the outbox), and that concurrent requests of one learner neither fail nor count twice."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import delete, select

from lti_tool import progress
from lti_tool.course.model import Course, Module
from lti_tool.db import session_scope
from lti_tool.models import (
    CourseProgress,
    GradeOutbox,
    LearnerSummary,
    LessonVisit,
    ModuleProgress,
    PracticeSubmission,
    QuizAttempt,
)
from lti_tool.progress import Learner as ProgressLearner
from lti_tool.progress import ProgressUpdate

from ..lti.test_service_urls import ags as claim_ags
from ..peer import INSTRUCTOR, Launcher, claim
from .learner import (
    Learner,
    answers,
    attempt_id,
    count,
    course,
    module,
    progress_learner,
    quiz_answers,
    take_quiz,
)

TEXT = "Unsere Kommune hat einen Nachhaltigkeitsbeirat."


@pytest.fixture
def who(app: Flask, launcher: Launcher) -> ProgressLearner:
    Learner.launch(launcher)
    return progress_learner(app)


@pytest.fixture
def graded(app: Flask, launcher: Launcher) -> ProgressLearner:
    """A learner launched from an activity with a grade column per module (AGS): grade-affecting writes queue
    scores."""
    lineitems = launcher.peer.issuer + "/lineitems"
    Learner.launch(
        launcher, **claim_ags(lineitems, lineitems + "/1"), **claim("custom", {"module_grade_items": "true"})
    )
    return progress_learner(app)


def queued(app: Flask) -> list[tuple[str | None, Any, str]]:
    """The grade outbox as the worker would find it: (module or None for the course, score given, progress)."""
    with session_scope(app) as s:
        rows = s.scalars(select(GradeOutbox).order_by(GradeOutbox.id))
        return [(r.module_id, r.payload.get("scoreGiven"), r.payload["activityProgress"]) for r in rows]


def write(app: Flask, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with session_scope(app, write=True) as s:
        return action(s, *args, **kwargs)


def quiz(app: Flask, who: ProgressLearner, crs: Course, mod: Module, right: int | None = None) -> Any:
    with session_scope(app, write=True) as s:
        attempt = progress.start_quiz_attempt(s, who, crs, mod)
        return progress.submit_quiz_attempt(s, who, crs, mod, attempt.public_id, answers(mod, right))


def complete_module(app: Flask, who: ProgressLearner, crs: Course, mod: Module) -> list[ProgressUpdate]:
    """Every lesson read, the quiz passed, the practice task submitted; what each write reported."""
    updates = [write(app, progress.record_lesson_view, who, crs, mod, lesson.id) for lesson in mod.lessons]
    updates += [
        quiz(app, who, crs, mod).update,
        write(app, progress.save_practice, who, crs, mod, TEXT).update,
    ]
    return [u for u in updates if u is not None]


def test_lesson_view_records_once_and_remembers_the_place(app: Flask, who: ProgressLearner) -> None:
    crs, mod = course(app), module(app, "modul-a")
    first = write(app, progress.record_lesson_view, who, crs, mod, "01-einstieg")
    assert first is not None and first.cause == "lesson_seen" and first.status.lessons_seen == 1
    assert not first.grade_affected
    assert write(app, progress.record_lesson_view, who, crs, mod, "01-einstieg") is None
    assert count(app, LessonVisit) == 1
    with session_scope(app) as s:
        assert s.scalars(select(ModuleProgress.lessons_seen)).one() == 1
        assert progress.last_location(s, who, crs) == progress.Location("modul-a", "01-einstieg")
    with pytest.raises(ValueError):
        write(app, progress.record_lesson_view, who, crs, mod, "99-unknown")


def test_a_repeat_visit_moves_the_place_and_the_last_activity_only(app: Flask, who: ProgressLearner) -> None:
    """A lesson read before: the learner's place and last activity (course row, gradebook summary) move to it,
    nothing else changes (on PostgreSQL in the visit's own statement, progress.statements.lesson_visit_statement)."""
    crs, mod = course(app), module(app, "modul-a")
    write(app, progress.record_lesson_view, who, crs, mod, "01-einstieg")
    write(app, progress.record_lesson_view, who, crs, mod, "02-vertiefung")

    def rows() -> tuple[Any, Any]:
        with session_scope(app) as s:
            place = s.execute(select(CourseProgress.__table__)).one()
            summary = s.execute(select(LearnerSummary.__table__)).one()
            return place, summary

    place, summary = rows()
    assert write(app, progress.record_lesson_view, who, crs, mod, "01-einstieg") is None
    again, summary_again = rows()
    assert again.last_location == "modul-a/01-einstieg" and again.last_module_id == "modul-a"
    assert again.updated_at > place.updated_at and again.started_at == place.started_at
    assert summary_again.last_activity == summary_again.updated_at == again.updated_at
    moved = {"last_location", "updated_at", "last_activity"}
    assert {k: v for k, v in again._mapping.items() if k not in moved} == {
        k: v for k, v in place._mapping.items() if k not in moved
    }
    assert {k: v for k, v in summary_again._mapping.items() if k not in moved} == {
        k: v for k, v in summary._mapping.items() if k not in moved
    }
    assert summary_again.lessons_seen == 2 and summary_again.started and count(app, LessonVisit) == 2

    # Rows that are not there (deleted by hand) are written as a first write would: the place and a summary with
    # nothing done but the last activity.
    with session_scope(app) as s:
        s.execute(delete(CourseProgress))
        s.execute(delete(LearnerSummary))
    assert write(app, progress.record_lesson_view, who, crs, mod, "02-vertiefung") is None
    place, summary = rows()
    assert place.last_location == "modul-a/02-vertiefung" and place.completed_at is None
    assert place.started_at is not None and place.updated_at == summary.last_activity == summary.updated_at
    assert (summary.started, summary.modules_done, summary.lessons_seen, summary.review_waiting) == (
        False,
        0,
        0,
        0,
    )
    assert not summary.delivery_failed and summary.grade is None and summary.completed_at is None


def test_writes_report_scores_and_completion_once(app: Flask, who: ProgressLearner) -> None:
    crs, a, b = course(app), module(app, "modul-a"), module(app, "modul-b")
    write(app, progress.record_lesson_view, who, crs, a, "01-einstieg")

    low = quiz(app, who, crs, a, right=2).update
    assert (low.cause, low.old_best_score, low.new_best_score) == ("quiz_submitted", None, 0.4)
    assert low.best_score_changed and low.grade_affected and not low.module_completed_now

    high = quiz(app, who, crs, a).update
    assert (high.old_best_score, high.new_best_score) == (0.4, 1.0) and high.status.quiz_passed
    with session_scope(app) as s:
        assert progress.last_location(s, who, crs) == progress.Location("modul-a", "quiz")

    lower = quiz(app, who, crs, a, right=1).update
    assert (lower.old_best_score, lower.new_best_score) == (1.0, 1.0)
    assert not lower.best_score_changed and not lower.grade_affected and lower.status.attempts == 3

    saved = write(app, progress.save_practice, who, crs, a, TEXT)
    assert saved.first and saved.update.cause == "practice_submitted" and saved.update.grade_affected
    assert not saved.update.module_completed_now  # the second lesson is still unread
    # a write that recomputes progress remembers the place in the same write of the course row
    with session_scope(app) as s:
        assert progress.last_location(s, who, crs) == progress.Location("modul-a", "praxis")

    last = write(app, progress.record_lesson_view, who, crs, a, "02-vertiefung")
    assert last.module_completed_now and last.module_completed_at is not None
    assert not last.course_completed_now and last.grade_affected

    updates = complete_module(app, who, crs, b)
    course_done = [u for u in updates if u.course_completed_now]
    assert len(course_done) == 1 and course_done[0].module_id == "modul-b"
    assert sum(u.module_completed_now for u in updates) == 1
    with session_scope(app) as s:
        rows = {r.module_id: r for r in s.scalars(select(ModuleProgress))}
        assert rows["modul-a"].completed_at == last.module_completed_at
        assert rows["modul-a"].attempts == 3 and rows["modul-a"].best_score == 1.0
        assert rows["modul-a"].practice_submitted_at is not None and rows["modul-a"].lessons_seen == 2
        assert s.scalars(select(CourseProgress.completed_at)).one() == course_done[0].course_completed_at


def test_every_grade_affecting_write_queues_the_grade(app: Flask, graded: ProgressLearner) -> None:
    """Each kind of write that can change what the LMS shows queues the new course grade with the progress that
    caused it (read here from the outbox, as the worker finds it), and the writes that change nothing queue
    nothing."""
    crs, a, b = course(app), module(app, "modul-a"), module(app, "modul-b")
    write(app, progress.record_lesson_view, graded, crs, a, "01-einstieg")
    assert queued(app) == []  # reading a lesson changes no grade
    first = quiz(app, graded, crs, a, right=2).update
    assert first.cause == "quiz_submitted"
    started = [(None, 0.0, "InProgress")]
    assert queued(app) == started  # the first quiz: the course is under way in the LMS
    quiz(app, graded, crs, a, right=1)
    saved = write(app, progress.save_practice, graded, crs, a, TEXT)
    edit = write(app, progress.save_practice, graded, crs, a, TEXT + " Mehr.")
    assert not edit.first and edit.update is None  # an edit changes no grade
    reviewed = write(
        app, progress.review_practice, graded, crs, a, reviewer_id=graded.user_id, feedback="Gut."
    )
    assert (saved.update.cause, reviewed.cause, reviewed.status.practice) == (
        "practice_submitted",
        "practice_reviewed",
        "reviewed",
    )
    quiz(app, graded, crs, a)
    assert queued(app) == started  # the same course grade: nothing new to send
    last = write(app, progress.record_lesson_view, graded, crs, a, "02-vertiefung")
    assert last.cause == "lesson_seen" and last.module_completed_now
    assert queued(app) == [*started, (None, 50.0, "InProgress")]  # the lesson that completes a module
    for lesson in b.lessons:
        write(app, progress.record_lesson_view, graded, crs, b, lesson.id)
    quiz(app, graded, crs, b)
    assert len(queued(app)) == 2
    done = write(app, progress.save_practice, graded, crs, b, TEXT).update
    assert done.cause == "practice_submitted" and done.course_completed_now
    assert queued(app)[2:] == [(None, 100.0, "Completed")]  # the practice text that completes the course


def test_practice_edit_until_reviewed(app: Flask, who: ProgressLearner) -> None:
    crs, mod = course(app), module(app, "modul-a")
    with pytest.raises(progress.PracticeNotFound):
        write(app, progress.review_practice, who, crs, mod, reviewer_id=who.user_id, feedback="x")
    write(app, progress.save_practice, who, crs, mod, "  Erste Fassung\r\nmit Zeilen.\x00  ")
    write(app, progress.save_practice, who, crs, mod, "Zweite Fassung\r\nmit Zeilen.")
    write(app, progress.review_practice, who, crs, mod, reviewer_id=who.user_id, feedback="Prima.\r\n")
    with pytest.raises(progress.PracticeLocked):
        write(app, progress.save_practice, who, crs, mod, "Dritte Fassung nach der Durchsicht.")
    with session_scope(app) as s:
        row = s.scalars(select(PracticeSubmission)).one()
        assert row.text == "Zweite Fassung\nmit Zeilen."
        assert row.feedback == "Prima." and row.reviewed_at is not None
        first_review = row.reviewed_at
    write(app, progress.review_practice, who, crs, mod, reviewer_id=who.user_id, feedback="Noch besser.")
    with session_scope(app) as s:
        row = s.scalars(select(PracticeSubmission)).one()
        assert row.feedback == "Noch besser." and row.reviewed_at == first_review


@pytest.mark.parametrize(
    ("text", "code"), [("kurz", "too_short"), ("x" * 2001, "too_long"), (" " * 50, "too_short")]
)
def test_practice_length(app: Flask, who: ProgressLearner, text: str, code: str) -> None:
    with pytest.raises(progress.PracticeTextInvalid) as refused:
        write(app, progress.save_practice, who, course(app), module(app, "modul-a"), text)
    assert refused.value.code == code
    assert count(app, PracticeSubmission) == 0


def test_answers_are_checked_against_the_quiz(app: Flask, who: ProgressLearner) -> None:
    crs, mod = course(app), module(app, "modul-a")
    good = answers(mod)
    bad_cases = [
        ({**good, "q1": []}, {"q1": "missing"}),
        ({k: v for k, v in good.items() if k != "q2"}, {"q2": "missing"}),
        ({**good, "q1": ["zz"]}, {"q1": "invalid"}),
        ({**good, "q1": ["a", "b"]}, {"q1": "invalid"}),
        ({**good, "q3": ["a", "a"]}, {"q3": "invalid"}),
        ({**good, "q4": ["s1", "s2"]}, {"q4": "invalid"}),
        ({**good, "nope": ["a"]}, {"nope": "invalid"}),
    ]
    for given, problems in bad_cases:
        with session_scope(app, write=True) as s:
            attempt = progress.start_quiz_attempt(s, who, crs, mod)
            with pytest.raises(progress.InvalidAnswers) as refused:
                progress.submit_quiz_attempt(s, who, crs, mod, attempt.public_id, given)
            assert refused.value.problems == problems
    assert count(app, QuizAttempt, QuizAttempt.submitted_at.is_not(None)) == 0
    with pytest.raises(progress.AttemptNotFound):
        write(app, progress.submit_quiz_attempt, who, crs, mod, "not-an-attempt", good)


def test_completion_is_sticky_when_the_course_text_grows(app: Flask, who: ProgressLearner) -> None:
    crs, mod = course(app), module(app, "modul-a")
    complete_module(app, who, crs, mod)
    extra = dataclasses.replace(mod.lessons[0], id="03-neu", position=3)
    grown = dataclasses.replace(mod, lessons=(*mod.lessons, extra))
    bigger = dataclasses.replace(crs, modules=(grown, *crs.modules[1:]))
    update = quiz(app, who, bigger, grown, right=1).update
    assert update.module_completed_at is not None and not update.module_completed_now
    assert update.status.complete and update.status.lessons_seen == 2 and update.status.lessons_total == 3


def test_second_submit_of_the_same_attempt_records_nothing(app: Flask, who: ProgressLearner) -> None:
    crs, mod = course(app), module(app, "modul-a")
    with session_scope(app, write=True) as s:
        public_id = progress.start_quiz_attempt(s, who, crs, mod).public_id
    first = write(app, progress.submit_quiz_attempt, who, crs, mod, public_id, answers(mod, right=1))
    second = write(app, progress.submit_quiz_attempt, who, crs, mod, public_id, answers(mod))
    assert first.first and not second.first and second.update is None
    assert second.attempt.score == first.attempt.score == 0.2


def test_open_attempt_is_reused_and_a_stale_one_replaced(app: Flask, who: ProgressLearner) -> None:
    crs, mod = course(app), module(app, "modul-a")
    with session_scope(app, write=True) as s:
        one = progress.start_quiz_attempt(s, who, crs, mod).public_id
    with session_scope(app, write=True) as s:
        assert progress.start_quiz_attempt(s, who, crs, mod).public_id == one
        assert progress.find_open_attempt(s, who, crs, mod) is not None
    fewer = dataclasses.replace(mod, quiz=dataclasses.replace(mod.quiz, questions=mod.quiz.questions[:2]))
    with session_scope(app, write=True) as s:
        assert progress.find_open_attempt(s, who, crs, fewer) is None
        fresh = progress.start_quiz_attempt(s, who, crs, fewer)
        assert fresh.public_id != one and set(fresh.layout) == {"q1", "q2"}
    assert count(app, QuizAttempt) == 1


def test_concurrent_requests_of_one_learner_do_not_fail(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    quiz_page = learner.get("m/modul-a/quiz")
    public_id = attempt_id(quiz_page.text)
    quiz_fields = [*quiz_answers(app, "modul-a", public_id), ("csrf_token", learner.csrf)]
    requests_to_make: list[tuple[str, str, Any]] = []
    for _ in range(3):
        for path in ("m/modul-a/01-einstieg", "m/modul-a/02-vertiefung", "m/modul-b/01-einstieg", ""):
            requests_to_make.append(("GET", path, None))
    requests_to_make.append(("POST", "m/modul-a/quiz", quiz_fields))
    requests_to_make.append(("POST", "m/modul-a/praxis", {"text": TEXT, "csrf_token": learner.csrf}))
    requests_to_make.append(("POST", "m/modul-b/praxis", {"text": TEXT, "csrf_token": learner.csrf}))
    requests_to_make.append(("GET", "m/modul-b/quiz", None))
    requests_to_make.append(("GET", "m/modul-b/quiz", None))
    barrier = threading.Barrier(len(requests_to_make))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def run(method: str, path: str, data: Any) -> None:
        try:
            http = requests.Session()
            barrier.wait()
            resp = http.request(method, learner.url(path), data=data, timeout=60)
            statuses.append(resp.status_code)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=r) for r in requests_to_make]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert statuses == [200] * len(requests_to_make)
    assert count(app, LessonVisit) == 3
    assert count(app, PracticeSubmission) == 2
    assert count(app, QuizAttempt, QuizAttempt.submitted_at.is_not(None)) == 1
    assert count(app, QuizAttempt, QuizAttempt.module_id == "modul-b") == 1  # two GETs, one open attempt
    with session_scope(app) as s:
        rows = {r.module_id: r for r in s.scalars(select(ModuleProgress))}
        assert rows["modul-a"].lessons_seen == 2 and rows["modul-a"].attempts == 1
        assert rows["modul-a"].completed_at is not None  # whatever order the requests ran in
        assert rows["modul-b"].lessons_seen == 1 and rows["modul-b"].completed_at is None
        assert count(app, CourseProgress) == 1


def test_instructor_activity_is_recorded_like_a_learners(app: Flask, launcher: Launcher) -> None:
    teacher = Learner.launch(launcher, sub="teacher", **claim("roles", INSTRUCTOR))
    take_quiz(app, teacher, "modul-a")
    with session_scope(app) as s:
        assert s.scalars(select(ModuleProgress.best_score)).one() == 1.0

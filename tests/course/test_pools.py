"""Question pools: each attempt draws per topic, stores its draw, keeps it on reload and on another device, and a
retry draws other questions as far as the pool allows. Driven over HTTP with the fixture course `poolkurs`
(8 questions in two topics of 4, an attempt draws 2 + 2)."""

from __future__ import annotations

from typing import Any

import requests
from flask import Flask
from sqlalchemy import select

from lti_tool.course.catalog import get_catalog
from lti_tool.course.model import Quiz
from lti_tool.course.pools import History, draw, layout
from lti_tool.db import session_scope
from lti_tool.models import QuizAttempt

from ..peer import LTI, Launcher
from .learner import Learner, attempt_id, questions_of, quiz_answers

POOL: dict[str, Any] = {LTI + "custom": {"course": "poolkurs"}}
GRUND = {"p1", "p2", "p3", "p4"}
PRAXIS = {"p5", "p6", "p7", "p8"}


def pool_quiz(app: Flask) -> Quiz:
    course = get_catalog(app).get("poolkurs")
    assert course is not None
    return course.modules[0].quiz


def test_draw_takes_each_topics_share_in_the_quiz_order(app: Flask) -> None:
    quiz = pool_quiz(app)
    for seed in range(50):
        drawn = draw(quiz, seed)
        assert len(drawn) == 4
        assert len(set(drawn) & GRUND) == 2 and len(set(drawn) & PRAXIS) == 2
        assert drawn == sorted(drawn, key=lambda q: int(q[1:]))
    assert draw(quiz, 7) == draw(quiz, 7)
    assert len({tuple(draw(quiz, seed)) for seed in range(50)}) > 10


def test_draw_prefers_questions_not_asked_before(app: Flask) -> None:
    quiz = pool_quiz(app)
    for seed in range(30):
        first = draw(quiz, seed)
        second = draw(quiz, seed + 1000, History.of([first]))
        assert not set(first) & set(second), (first, second)
        # Everything asked once: the third attempt avoids the last attempt's questions.
        third = draw(quiz, seed + 2000, History.of([first, second]))
        assert not set(third) & set(second)


def test_layout_is_reproducible_from_the_seed_and_never_starts_an_ordering_solved(app: Flask) -> None:
    quiz = pool_quiz(app)
    ids = [q.id for q in quiz.questions]
    assert layout(quiz, ids, 5) == layout(quiz, ids, 5)
    for seed in range(40):
        assert layout(quiz, ["p7"], seed)["p7"] != ["a", "b", "c"]


def _attempt(app: Flask, public_id: str) -> QuizAttempt:
    with session_scope(app) as s:
        row = s.scalars(select(QuizAttempt).where(QuizAttempt.public_id == public_id)).one()
        s.expunge(row)
        return row


def test_an_attempt_draws_four_and_keeps_them_on_reload_and_on_another_device(
    app: Flask, launcher: Launcher
) -> None:
    learner = Learner.launch(launcher, **POOL)
    # The module page says what an attempt asks, not how big the pool is.
    module_page = learner.get("m/pool/")
    assert module_page.status_code == 200
    assert "4 Fragen je Versuch, jedes Mal neu aus 8 ausgewählt." in module_page.text
    assert "8 Fragen." not in module_page.text
    page = learner.get("m/pool/quiz")
    assert page.status_code == 200
    assert "4 Fragen." in page.text and "Frage 4 von 4" in page.text and "Frage 5 von" not in page.text
    public_id = attempt_id(page.text)
    asked = questions_of(app, public_id)
    stored = _attempt(app, public_id)
    assert stored.draw_seed is not None and stored.question_count == 4
    assert set(stored.layout) == set(asked)
    prompts = [f"Poolfrage {q[1:]}:" for q in asked]
    assert all(p in page.text for p in prompts)

    again = learner.get("m/pool/quiz")
    assert attempt_id(again.text) == public_id
    assert [p for p in prompts if p in again.text] == prompts

    # The same person on another device (a new browser, a new launch): the same attempt, the same questions.
    launcher.browser = requests.Session()
    phone = Learner.launch(launcher, **POOL)
    other = phone.get("m/pool/quiz")
    assert attempt_id(other.text) == public_id
    assert all(p in other.text for p in prompts)


def test_a_retry_asks_other_questions_and_is_scored_by_its_own_four(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher, **POOL)
    public_id = attempt_id(learner.get("m/pool/quiz").text)
    first = questions_of(app, public_id)
    result = learner.post("m/pool/quiz", quiz_answers(app, "pool", public_id, right=1, course_id="poolkurs"))
    assert "1 von 4 Fragen richtig (25\xa0%)" in result.text

    retry = attempt_id(learner.get("m/pool/quiz").text)
    second = questions_of(app, retry)
    assert retry != public_id and not set(first) & set(second)
    result = learner.post("m/pool/quiz", quiz_answers(app, "pool", retry, right=3, course_id="poolkurs"))
    assert "<strong>Bestanden</strong>: 3 von 4 Fragen richtig (75\xa0%)" in result.text
    row = _attempt(app, retry)
    assert (row.correct_count, row.question_count, row.passed) == (3, 4, True)


def test_answers_to_questions_not_drawn_are_refused(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher, **POOL)
    public_id = attempt_id(learner.get("m/pool/quiz").text)
    fields = quiz_answers(app, "pool", public_id, course_id="poolkurs")
    page = learner.post("m/pool/quiz", [*fields, ("q5", "1")])
    assert page.status_code == 422
    assert "Das Formular enthielt Antworten, nach denen dieses Quiz nicht fragt." in page.text
    assert _attempt(app, public_id).submitted_at is None


def test_a_source_in_another_language_is_marked_with_its_lang(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher, **POOL)
    page = learner.get("m/pool/01-grundlagen")
    assert page.status_code == 200
    assert '<span lang="en">Test source</span>' in page.text
    assert "(Stand: 03/2025)" in page.text

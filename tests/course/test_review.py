"""Review options (course.toml [review.*]) and the attempt policy ([attempts]), checked in the HTML the learner
gets: after a failed attempt the page holds no correct answer and no explanation (the fixture course marks every
correct option's text with "Kernaussage-" and every explanation with "Begründung-"); after passing it holds
everything, explanations folded in <details>."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from lti_tool.models import utcnow
from lti_tool.progress import quiz as progress_quiz

from ..peer import LTI, Launcher
from .learner import Learner, attempt_id, check_structure, module, questions_of, quiz_answers

POOL: dict[str, Any] = {LTI + "custom": {"course": "poolkurs"}}
TAKT: dict[str, Any] = {LTI + "custom": {"course": "taktkurs"}}


def _chosen_texts(app: Flask, public_id: str, fields: list[tuple[str, str]]) -> set[str]:
    """The option texts the learner ticked (they may appear on the page as "your answer")."""
    from .learner import layout_of

    mod = module(app, "pool", "poolkurs")
    shown = layout_of(app, public_id)
    texts: set[str] = set()
    for number, question_id in enumerate(questions_of(app, public_id), start=1):
        question = mod.quiz.question(question_id)
        assert question is not None
        for name, value in fields:
            if name == f"q{number}" or name.startswith(f"q{number}."):
                index = int(name.split(".")[1]) if "." in name else int(value)
                option = question.option(shown[question_id][index - 1])
                assert option is not None
                texts.add(option.text)
    return texts


def test_failed_attempt_shows_wrong_questions_and_hints_but_no_answer_or_explanation(
    app: Flask, launcher: Launcher
) -> None:
    learner = Learner.launch(launcher, **POOL)
    public_id = attempt_id(learner.get("m/pool/quiz").text)
    fields = quiz_answers(app, "pool", public_id, right=1, course_id="poolkurs")
    page = learner.post("m/pool/quiz", fields)
    html = page.text
    check_structure(html)
    assert "Noch nicht bestanden</strong>: 1 von 4 Fragen richtig (25\xa0%)." in html
    assert "Zum Bestehen sind 75\xa0% nötig. Ihr bester Versuch zählt." in html
    assert "Begründung-" not in html and "<details" not in html
    asked = questions_of(app, public_id)
    mod = module(app, "pool", "poolkurs")
    chosen = _chosen_texts(app, public_id, fields)
    for question_id in asked:
        question = mod.quiz.question(question_id)
        assert question is not None
        for option in question.options:
            if "Kernaussage-" in option.text and option.text not in chosen:
                assert option.text not in html, f"correct answer {option.text!r} sent after a failed attempt"
    # ✓ for the first question, ✗ and a hint with a lesson link for the three others.
    assert html.count('class="result-item__mark" aria-hidden="true">✓') == 1
    assert html.count('class="result-item__mark" aria-hidden="true">✗') == 3
    assert html.count("Hinweis-") == 3 and f"Hinweis-{asked[0][1:]}:" not in html
    assert html.count("Noch einmal lesen: ") == 3
    assert re.search(r'href="[^"]*/m/pool/0[12]-(grundlagen|praxis)">Noch einmal lesen', html)
    assert html.count('<span class="visually-hidden">Nicht richtig:</span>') == 3
    assert "Richtige Antwort" not in html and "(richtig)" not in html and "(falsch)" not in html


def test_passed_attempt_shows_everything_with_explanations_folded(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher, **POOL)
    public_id = attempt_id(learner.get("m/pool/quiz").text)
    page = learner.post("m/pool/quiz", quiz_answers(app, "pool", public_id, right=3, course_id="poolkurs"))
    html = page.text
    check_structure(html)
    assert "<strong>Bestanden</strong>: 3 von 4 Fragen richtig (75\xa0%)." in html
    # Each fold says which question it belongs to, also to a screen reader listing the page's controls.
    for number in range(1, 5):
        assert f'<summary>Erklärungen<span class="visually-hidden"> (Frage {number})</span></summary>' in html
    mod = module(app, "pool", "poolkurs")
    for question_id in questions_of(app, public_id):
        question = mod.quiz.question(question_id)
        assert question is not None
        for option in question.options:
            assert option.explanation_html in html
    assert "Richtige " in html  # the one wrong question shows its right answer
    assert "Hinweis-" not in html  # the passed review shows no hints
    assert "(falsch)" in html or "(falsche Stelle)" in html


def test_the_result_has_one_list_not_a_region_per_question(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher, **POOL)
    public_id = attempt_id(learner.get("m/pool/quiz").text)
    html = learner.post("m/pool/quiz", quiz_answers(app, "pool", public_id, course_id="poolkurs")).text
    assert "<section" not in html.split("<main", 1)[1]
    assert html.count('<li class="result-item') == 4


def _fail(app: Flask, learner: Learner) -> str:
    public_id = attempt_id(learner.get("m/takt/quiz").text)
    learner.post("m/takt/quiz", quiz_answers(app, "takt", public_id, right=0, course_id="taktkurs"))
    return public_id


def test_wait_after_a_failed_attempt(app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch) -> None:
    learner = Learner.launch(launcher, **TAKT)
    _fail(app, learner)
    result = learner.page.text
    assert "Sie können das Quiz ab " in result and "Quiz wiederholen" not in result
    locked = learner.get("m/takt/quiz")
    assert locked.status_code == 200
    assert "Sie können das Quiz ab " in locked.text and 'name="versuch"' not in locked.text
    check_structure(locked.text)
    # 31 minutes later the quiz opens again.
    later = utcnow() + dt.timedelta(minutes=31)
    monkeypatch.setattr(progress_quiz, "utcnow", lambda: later)
    assert 'name="versuch"' in learner.get("m/takt/quiz").text


def _berlin_noon_before(now: dt.datetime) -> dt.datetime:
    """The latest 12:00 in Berlin not after `now` (UTC): two hours later it is still the same day there."""
    berlin = ZoneInfo("Europe/Berlin")
    local = now.astimezone(berlin)
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon > local:
        noon = (local - dt.timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    return noon.astimezone(dt.UTC)


def test_attempts_per_day(app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch) -> None:
    learner = Learner.launch(launcher, **TAKT)
    # A fixed hour of the day: run at 23:00 in Berlin, "80 minutes later" would be tomorrow (failed in CI at 22:45).
    start = _berlin_noon_before(utcnow())
    monkeypatch.setattr(progress_quiz, "utcnow", lambda: start)
    _fail(app, learner)
    monkeypatch.setattr(progress_quiz, "utcnow", lambda: start + dt.timedelta(minutes=40))
    _fail(app, learner)
    monkeypatch.setattr(progress_quiz, "utcnow", lambda: start + dt.timedelta(minutes=80))
    page = learner.get("m/takt/quiz")
    assert "Sie haben heute alle Versuche für dieses Quiz genutzt." in page.text
    assert 'name="versuch"' not in page.text
    assert ", 00:00 Uhr" in page.text  # from midnight in Berlin
    monkeypatch.setattr(progress_quiz, "utcnow", lambda: start + dt.timedelta(days=1, minutes=80))
    assert 'name="versuch"' in learner.get("m/takt/quiz").text


def test_passing_needs_no_wait(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher, **TAKT)
    public_id = attempt_id(learner.get("m/takt/quiz").text)
    result = learner.post("m/takt/quiz", quiz_answers(app, "takt", public_id, course_id="taktkurs"))
    assert "Quiz wiederholen" in result.text
    assert 'name="versuch"' in learner.get("m/takt/quiz").text

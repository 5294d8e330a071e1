"""The quiz over HTTP: no answers in the page, shuffled per attempt, scored on the server, one attempt per
submitted form (also when two submits race), bad input refused with a clear message and nothing changed."""

from __future__ import annotations

import re
import threading
from typing import Any

import requests
from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.models import ModuleProgress, QuizAttempt

from ..peer import Launcher
from .learner import (
    Learner,
    attempt_id,
    check_structure,
    count,
    layout_of,
    module,
    quiz_answers,
    take_quiz,
)


def submitted(app: Flask) -> int:
    return count(app, QuizAttempt, QuizAttempt.submitted_at.is_not(None))


def snapshot(app: Flask) -> list[tuple[Any, ...]]:
    """Every attempt's full state, to show that a refused submit changed nothing."""
    with session_scope(app) as s:
        rows = s.execute(
            select(
                QuizAttempt.public_id,
                QuizAttempt.answers,
                QuizAttempt.score,
                QuizAttempt.submitted_at,
                QuizAttempt.layout,
            ).order_by(QuizAttempt.id)
        ).all()
        progress = s.execute(select(ModuleProgress.module_id, ModuleProgress.attempts)).all()
    return [tuple(r) for r in rows] + [tuple(p) for p in progress]


def test_quiz_page_holds_no_answers(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.get("m/modul-a/quiz")
    assert page.status_code == 200
    html = page.text
    check_structure(html)
    mod = module(app, "modul-a")
    for question in mod.quiz.questions:
        assert question.prompt in html
        for option in question.options:
            assert option.text in html
            assert option.explanation_html not in html  # explanations only after submitting
    # Field values are positions as shown, never the course's option ids; nothing says "correct".
    values = set(
        re.findall(r'<input type="(?:radio|checkbox)" id="[^"]+" name="[^"]+" value="([^"]+)"', html)
    )
    assert values <= {"1", "2", "3"}
    assert "correct" not in html.lower()
    assert 'value="s1"' not in html and 'value="true"' not in html
    assert "data-correct" not in html and "data-answer" not in html
    # Ordering: one labelled <select> of positions per item (keyboard and no-JS friendly).
    selects = re.findall(r'<select id="(q4-\d)" name="q4\.\d"', html)
    assert len(selects) == 3
    for select_id in selects:
        assert f'<label for="{select_id}"' in html


def test_layout_is_shuffled_per_attempt_and_ordering_never_starts_solved(
    app: Flask, launcher: Launcher
) -> None:
    learner = Learner.launch(launcher)
    layouts = []
    for _ in range(12):
        public_id = attempt_id(learner.get("m/modul-a/quiz").text)
        layout = layout_of(app, public_id)
        layouts.append(layout)
        assert layout["q4"] != ["s1", "s2", "s3"]
        learner.post("m/modul-a/quiz", quiz_answers(app, "modul-a", public_id))
    orders = {tuple(layout["q3"]) for layout in layouts}
    assert len(orders) > 1  # 12 attempts with the same shuffle of 3 options: 1 in 6^11


def test_the_results_address_is_flasks_and_no_link_is_kept_per_attempt(
    app: Flask, launcher: Launcher
) -> None:
    """The redirect to an attempt's result names the attempt in its query, as Flask's own url_for builds it, and the
    links the tool keeps (lti_tool/links.py) do not grow with every attempt."""
    from flask import Flask as PlainFlask

    learner = Learner.launch(launcher)
    kept: list[int] = []
    for right in (1, 2, 3):
        public_id = attempt_id(learner.get("m/modul-a/quiz").text)
        sent = learner.post(
            "m/modul-a/quiz", quiz_answers(app, "modul-a", public_id, right=right), allow_redirects=False
        )
        assert sent.status_code == 303
        with app.test_request_context(f"/s/{learner.sid}/m/modul-a/quiz"):
            flasks = PlainFlask.url_for(
                app, "learner.quiz_result", sid=learner.sid, module_id="modul-a", versuch=public_id
            )
        assert sent.headers["Location"] == flasks
        assert f"{right} von 5" in learner.get(f"m/modul-a/ergebnis?versuch={public_id}").text
        kept.append(len(app._links))  # type: ignore[attr-defined]
    assert kept[0] == kept[1] == kept[2]


def test_reopening_the_quiz_shows_the_open_attempt(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    first = attempt_id(learner.get("m/modul-a/quiz").text)
    assert attempt_id(learner.get("m/modul-a/quiz").text) == first
    assert count(app, QuizAttempt) == 1


def test_all_right_passes_with_explanations(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    result = take_quiz(app, learner, "modul-a")
    assert result.status_code == 200
    assert "/m/modul-a/ergebnis?versuch=" in result.url
    text = result.text
    check_structure(text)
    assert "<strong>Bestanden</strong>: 5 von 5 Fragen richtig (100\xa0%)." in text
    assert "Zum Bestehen sind 80\xa0% nötig." in text  # number and sign never split over two lines
    assert 'id="result-summary" tabindex="-1" data-autofocus' in text
    assert "<title>Ergebnis: 5 von 5 richtig, bestanden" in text
    # Passed (the default review): every option's explanation, folded.
    mod = module(app, "modul-a")
    for question in mod.quiz.questions:
        for option in question.options:
            assert option.explanation_html in text
    assert text.count('<summary>Erklärungen<span class="visually-hidden"> (Frage ') == 5
    assert "Ihre Wahl" in text and "Platz 3" in text
    assert "(richtige Stelle)" in text
    assert "Quiz wiederholen" in text


def test_four_of_five_passes_three_of_five_fails(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    result = take_quiz(app, learner, "modul-a", right=3)
    assert "Noch nicht bestanden</strong>: 3 von 5 Fragen richtig (60\xa0%)." in result.text
    # Not passed (the default review without hints): own answers and ✓/✗ per question, nothing more.
    assert "Erklärungen" not in result.text and "Richtige Antwort" not in result.text
    assert "Richtige Reihenfolge" not in result.text and "Stelle)" not in result.text
    for question in module(app, "modul-a").quiz.questions:
        for option in question.options:
            assert option.explanation_html not in result.text
    assert result.text.count('class="result-item__mark" aria-hidden="true">✗') == 2
    result = take_quiz(app, learner, "modul-a", right=4)
    assert "(80\xa0%)" in result.text and "Bestanden" in result.text
    with session_scope(app) as s:
        row = s.scalars(select(ModuleProgress)).one()
        assert (row.attempts, row.best_score) == (2, 0.8)
        assert row.quiz_passed_at is not None


def test_best_attempt_counts(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    take_quiz(app, learner, "modul-a")
    worse = take_quiz(app, learner, "modul-a", right=1)
    assert "(20\xa0%)" in worse.text and "Ihr bestes Ergebnis: 100\xa0%" in worse.text
    with session_scope(app) as s:
        row = s.scalars(select(ModuleProgress)).one()
        assert (row.attempts, row.best_score) == (2, 1.0)
    overview = learner.get("")
    assert "Quiz 100\xa0%" in overview.text


def test_missing_answer_comes_back_with_a_linked_error_and_nothing_changed(
    app: Flask, launcher: Launcher
) -> None:
    learner = Learner.launch(launcher)
    public_id = attempt_id(learner.get("m/modul-a/quiz").text)
    before = snapshot(app)
    fields = [(k, v) for k, v in quiz_answers(app, "modul-a", public_id) if k != "q2"]
    page = learner.post("m/modul-a/quiz", fields)
    assert page.status_code == 422
    text = page.text
    assert "Bitte prüfen Sie Ihre Eingaben" in text and 'role="alert"' in text
    assert '<a href="#q2-1">Frage 2: Bitte wählen Sie eine Antwort.</a>' in text
    assert 'id="q2-error"' in text and 'aria-describedby="q2-error"' in text
    assert "<title>Fehler: " in text
    # The answers given are still ticked; the attempt is the same, still open.
    assert attempt_id(text) == public_id
    assert text.count(" checked") >= 3
    check_structure(text)
    assert snapshot(app) == before


def test_garbage_in_every_field_is_refused_and_nothing_changed(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    public_id = attempt_id(learner.get("m/modul-a/quiz").text)
    good = quiz_answers(app, "modul-a", public_id)
    before = snapshot(app)

    def replaced(name: str, *values: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in good if k != name] + [(name, v) for v in values]

    cases: list[tuple[list[tuple[str, str]], str]] = [
        (replaced("q1", "99"), "Frage 1: Die gesendete Antwort passt nicht zur Frage."),
        (replaced("q1", "abc"), "Frage 1: Die gesendete Antwort passt nicht zur Frage."),
        (replaced("q1", "1", "2"), "Frage 1: Die gesendete Antwort passt nicht zur Frage."),
        (replaced("q1", "-1"), "Frage 1: Die gesendete Antwort passt nicht zur Frage."),
        (replaced("q1", "١"), "Frage 1: Die gesendete Antwort passt nicht zur Frage."),  # Arabic-Indic digit
        (replaced("q3", "1", "1"), "Frage 3: Die gesendete Antwort passt nicht zur Frage."),
        (replaced("q4.1", "x"), "Frage 4: Die gesendete Antwort passt nicht zur Frage."),
        (replaced("q4.1", "7"), "Frage 4: Die gesendete Antwort passt nicht zur Frage."),
        (replaced("q4.1", "1", "2"), "Frage 4: Die gesendete Antwort passt nicht zur Frage."),
        (
            [
                *[(k, v) for k, v in good if not k.startswith("q4.")],
                ("q4.1", "1"),
                ("q4.2", "1"),
                ("q4.3", "2"),
            ],
            "Frage 4: Bitte vergeben Sie jede Position genau einmal.",
        ),
        ([*good, ("q9", "1")], "Das Formular enthielt Antworten, nach denen dieses Quiz nicht fragt."),
        ([*good, ("q1.1", "1")], "Das Formular enthielt Antworten, nach denen dieses Quiz nicht fragt."),
        ([*good, ("q", "1")], "Das Formular enthielt Antworten, nach denen dieses Quiz nicht fragt."),
        (replaced("q1", "\x00"), "Frage 1: Die gesendete Antwort passt nicht zur Frage."),
        (replaced("q1", "1" * 5000), "Frage 1: Die gesendete Antwort passt nicht zur Frage."),
    ]
    for fields, message in cases:
        page = learner.post("m/modul-a/quiz", fields)
        assert page.status_code == 422, (fields, page.text[:300])
        assert message in page.text, fields
    assert snapshot(app) == before
    # Still answerable afterwards.
    assert "5 von 5" in learner.post("m/modul-a/quiz", good).text


def test_wrong_or_tampered_attempt_id_is_refused(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    public_id = attempt_id(learner.get("m/modul-a/quiz").text)
    good = quiz_answers(app, "modul-a", public_id)
    before = snapshot(app)
    for bad in ["", "x" * 5000, public_id[:-1], public_id + "A", "' OR 1=1 --", "\x00"]:
        fields = [("versuch", bad)] + [(k, v) for k, v in good if k != "versuch"]
        page = learner.post("m/modul-a/quiz", fields)
        assert page.status_code == 404, bad
        assert "Diesen Quizversuch gibt es nicht, oder er gehört nicht Ihnen." in page.text
    missing = learner.post("m/modul-a/quiz", [(k, v) for k, v in good if k != "versuch"])
    assert missing.status_code == 404
    # The attempt belongs to module a: submitting it as module b's quiz is refused.
    assert learner.post("m/modul-b/quiz", good).status_code == 404
    assert learner.get("m/modul-a/ergebnis?versuch=nope").status_code == 404
    assert snapshot(app) == before


def test_double_submit_records_one_attempt_and_shows_the_first_result(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    public_id = attempt_id(learner.get("m/modul-a/quiz").text)
    first = learner.post("m/modul-a/quiz", quiz_answers(app, "modul-a", public_id, right=2))
    assert "2 von 5" in first.text
    second = learner.post("m/modul-a/quiz", quiz_answers(app, "modul-a", public_id))
    assert second.status_code == 200
    assert "2 von 5" in second.text and "bereits abgegeben" in second.text
    assert submitted(app) == 1
    with session_scope(app) as s:
        assert s.scalars(select(ModuleProgress.attempts)).one() == 1


def test_concurrent_double_submit_records_one_attempt(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    public_id = attempt_id(learner.get("m/modul-a/quiz").text)
    fields = [*quiz_answers(app, "modul-a", public_id), ("csrf_token", learner.csrf)]
    url = learner.url("m/modul-a/quiz")
    barrier = threading.Barrier(4)
    pages: list[requests.Response] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            http = requests.Session()
            barrier.wait()
            pages.append(http.post(url, data=fields, timeout=30))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [p.status_code for p in pages] == [200] * 4
    assert all("5 von 5" in p.text for p in pages)
    assert sum("bereits abgegeben" in p.text for p in pages) == 3
    assert submitted(app) == 1
    with session_scope(app) as s:
        assert s.scalars(select(ModuleProgress.attempts)).one() == 1


def test_retry_opens_a_new_attempt(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    first = attempt_id(learner.get("m/modul-a/quiz").text)
    learner.post("m/modul-a/quiz", quiz_answers(app, "modul-a", first, right=1))
    second = attempt_id(learner.get("m/modul-a/quiz").text)
    assert second != first
    assert "Ihr bisher bestes Ergebnis: 20\xa0%" in learner.page.text
    # The old result stays readable, the latest is the default result page.
    assert "1 von 5" in learner.get(f"m/modul-a/ergebnis?versuch={first}").text
    assert "1 von 5" in learner.get("m/modul-a/ergebnis").text
    # An open attempt has no result yet: back to the quiz.
    assert learner.get(f"m/modul-a/ergebnis?versuch={second}").url.endswith("/m/modul-a/quiz")


def test_result_page_without_any_attempt_goes_to_the_quiz(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.get("m/modul-a/ergebnis")
    assert page.url.endswith("/m/modul-a/quiz") and page.status_code == 200


def test_changed_quiz_refuses_an_old_attempt(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    public_id = attempt_id(learner.get("m/modul-a/quiz").text)
    fields = quiz_answers(app, "modul-a", public_id)
    with session_scope(app, write=True) as s:  # as if the course text had lost a question since
        attempt = s.scalars(select(QuizAttempt).where(QuizAttempt.public_id == public_id)).one()
        attempt.layout = {**attempt.layout, "gone": ["a", "b"]}
    page = learner.post("m/modul-a/quiz", fields)
    assert page.status_code == 409 and "Das Quiz wurde geändert" in page.text
    assert submitted(app) == 0
    # Opening the quiz again drops the stale attempt and starts a fresh one.
    fresh = attempt_id(learner.get("m/modul-a/quiz").text)
    assert fresh != public_id and count(app, QuizAttempt) == 1


def test_quiz_in_english(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    learner.post("sprache/", {"lang": "en"})
    page = learner.get("m/modul-a/quiz")
    assert "Question 1 of 5" in page.text and "Submit answers" in page.text
    assert "Welche Antwort ist richtig?" in page.text  # course text stays German
    result = take_quiz(app, learner, "modul-a", right=4)
    assert "<strong>Passed</strong>: 4 of 5 questions right (80%)." in result.text
    assert "You pass with 80% or more." in result.text  # the English way, as the score beside it
    assert "You pass with 80% or more; your best attempt counts." in learner.get("m/modul-a/quiz").text

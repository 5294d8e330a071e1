"""The shipped Grundlagenkurs over HTTP, as its learners get it: after a failed attempt the result page's HTML
holds no correct answer the learner did not tick and no explanation (only which questions were wrong and a hint
each); after passing it holds every option's explanation, folded. Read in the HTML the server sends (soft hyphens
and markup taken out), not in what the browser shows."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ..peer import Launcher
from .learner import Learner, attempt_id, course, layout_of, questions_of, quiz_answers

CONTENT = Path(__file__).resolve().parents[2] / "content"


@pytest.fixture
def test_config(test_config: dict[str, Any]) -> dict[str, Any]:
    test_config["CONTENT_DIR"] = str(CONTENT)
    return test_config


def plain(markup: str) -> str:
    """Text as a reader gets it: no tags, no soft hyphens, entities resolved, spaces collapsed."""
    text = htmllib.unescape(re.sub(r"<[^>]+>", " ", markup)).replace("\u00ad", "")
    return " ".join(text.split())


def test_result_pages_of_the_shipped_course_keep_answers_back_until_passed(
    app: Flask, launcher: Launcher
) -> None:
    learner = Learner.launch(launcher)
    first = course(app).modules[0]
    page = learner.get(f"m/{first.id}/quiz")
    assert page.status_code == 200
    public_id = attempt_id(page.text)
    asked = questions_of(app, public_id)
    assert len(asked) == first.quiz.draw  # drawn from the pool
    fields = quiz_answers(app, first.id, public_id, right=2)
    failed = learner.post(f"m/{first.id}/quiz", fields)
    assert failed.status_code == 200 and "Noch nicht bestanden" in failed.text
    shown = plain(failed.text.split("<main", 1)[1])
    layout = layout_of(app, public_id)
    ticked = {
        (question_id, layout[question_id][int(value) - 1])
        for number, question_id in enumerate(asked, start=1)
        for name, value in fields
        if name == f"q{number}"
    }
    # What the page may quote: the questions, the hints and the options the learner ticked (the same words can
    # stand in another question's options, e.g. the Agenda's full title).
    quotable = " ".join(
        plain(text)
        for question_id in asked
        for question in [first.quiz.question(question_id)]
        if question is not None
        for text in (
            question.prompt,
            question.hint_html,
            *(o.text for o in question.options if (question_id, o.id) in ticked),
        )
    )
    for number, question_id in enumerate(asked, start=1):
        question = first.quiz.question(question_id)
        assert question is not None
        for option in question.options:
            assert plain(option.explanation_html) not in shown, (
                f"explanation of {question_id}/{option.id} sent"
            )
            if question.kind == "ordering" or not option.correct or (question_id, option.id) in ticked:
                continue
            if plain(option.text) not in quotable:
                assert plain(option.text) not in shown, f"correct answer {question_id}/{option.id} sent"
        if number > 2:  # answered wrongly: a hint that points back to the lesson
            assert plain(question.hint_html) in shown
    assert (
        "<details" not in failed.text
        and "Richtige Antwort" not in shown
        and "Richtige Reihenfolge" not in shown
    )
    assert failed.text.count('result-item__mark" aria-hidden="true">✗') == len(asked) - 2
    assert "(richtig)" not in shown and "(falsch)" not in shown

    page = learner.get(f"m/{first.id}/quiz")
    public_id = attempt_id(page.text)
    passed = learner.post(f"m/{first.id}/quiz", quiz_answers(app, first.id, public_id))
    assert passed.status_code == 200 and "<strong>Bestanden</strong>" in passed.text
    folded = [plain(part.split("</details>")[0]) for part in passed.text.split("<details")[1:]]
    assert len(folded) == len(questions_of(app, public_id))
    for question_id, explanations in zip(questions_of(app, public_id), folded, strict=True):
        question = first.quiz.question(question_id)
        assert question is not None
        for option in question.options:
            assert plain(option.explanation_html) in explanations, (question_id, option.id)

"""The export as the person reads it: after a quiz taken over HTTP, each attempt lists its questions' texts, the
options the person chose (their texts) and right or wrong; lessons and modules carry their titles."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskCliRunner

from ..course.learner import Learner, module, take_quiz
from ..peer import Launcher


def test_quiz_answers_read_as_questions_answers_and_right_or_wrong(
    app: Flask, runner: FlaskCliRunner, launcher: Launcher
) -> None:
    lea = Learner.launch(launcher, sub="lea-7", name="Lea Schneider")
    assert lea.get("m/modul-a/01-einstieg").status_code == 200
    result = take_quiz(app, lea, "modul-a", right=1)
    assert result.status_code == 200, result.text[:500]

    exported = runner.invoke(args=["learner", "export", "--platform", launcher.peer.issuer, "--sub", "lea-7"])
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported.output)
    [attempt] = [a for a in data["quiz_attempt"] if a["answers"] is not None]
    assert attempt["course_title"] and attempt["module_title"] == module(app).title
    quiz = module(app).quiz
    questions = attempt["questions"]
    assert [q["number"] for q in questions] == list(range(1, len(attempt["question_ids"]) + 1))
    assert [q["correct"] for q in questions] == [True] + [False] * (len(questions) - 1)
    for asked in questions:
        question = quiz.question(asked["question_id"])
        assert question is not None and asked["question"] == question.prompt
        texts = {o.text for o in question.options}
        assert asked["answer"] and set(asked["answer"]) <= texts  # option texts, never ids like "a"
        chosen = attempt["answers"][asked["question_id"]]
        assert asked["answer"] == [next(o.text for o in question.options if o.id == i) for i in chosen]
    [visit] = data["lesson_visit"]
    assert visit["lesson_title"] == module(app).lessons[0].title
    assert {row["module_title"] for row in data["module_progress"]} == {module(app).title}

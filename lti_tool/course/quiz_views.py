"""The module quiz: the form (a fresh or the open attempt), submitting it, and the result with explanations.

The page never holds the right answers before submission: options come in the attempt's shuffled order and the
form speaks in positions (quizform.py). Scoring happens in `progress.submit_quiz_attempt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import db, progress
from ..models import QuizAttempt
from . import quizform
from .completion import next_step_in_module, score_passes
from .model import Course, Module, Option, Question
from .views import bp, find_module, here, percent, step_title, step_url

ATTEMPT_FIELD = "versuch"


def _render_form(
    course: Course,
    module: Module,
    attempt: QuizAttempt,
    *,
    best: float | None,
    attempts: int,
    decoded: quizform.Decoded | None = None,
    status: int = 200,
) -> tuple[str, int]:
    shown = quizform.shown_questions(
        module.quiz,
        attempt.layout,
        previous=decoded.partial if decoded else None,
        problems=decoded.problems if decoded else None,
    )
    problems = [question for question in shown if question.problem]
    html = render_template(
        "course/quiz.html",
        course=course,
        module=module,
        attempt=attempt,
        attempt_field=ATTEMPT_FIELD,
        questions=shown,
        problems=problems,
        stray=bool(decoded and decoded.stray),
        best=best,
        attempts=attempts,
        single=here().single_module,
        percent=percent,
    )
    return html, status


@bp.get("/m/<module_id>/quiz")
def quiz(module_id: str) -> tuple[str, int]:
    where = here()
    course = where.course
    module = find_module(course, module_id)
    s = db.session()
    attempt = progress.find_open_attempt(s, where.learner, course, module)
    if attempt is None:
        s = db.write_session()
        attempt = progress.start_quiz_attempt(s, where.learner, course, module)
        s.commit()
    best, attempts = progress.quiz_record(s, where.learner, course, module)
    return _render_form(course, module, attempt, best=best, attempts=attempts)


@bp.post("/m/<module_id>/quiz")
def submit_quiz(module_id: str) -> Response | tuple[str, int]:
    where = here()
    course = where.course
    module = find_module(course, module_id)
    public_id = request.form.get(ATTEMPT_FIELD, "")[:64]
    s = db.write_session()
    attempt = progress.get_attempt(s, where.learner, course, module, public_id)
    if attempt.submitted_at is None:
        if not progress.layout_fits(module.quiz, attempt.layout):
            raise progress.QuizChanged(public_id)
        decoded = quizform.decode(module.quiz, attempt.layout, request.form)
        if decoded.problems or decoded.stray:
            s.rollback()
            best, attempts = progress.quiz_record(s, where.learner, course, module)
            return _render_form(
                course, module, attempt, best=best, attempts=attempts, decoded=decoded, status=422
            )
        result = progress.submit_quiz_attempt(s, where.learner, course, module, public_id, decoded.answers)
        s.commit()
        first = result.first
    else:
        first = False
    args: dict[str, Any] = {ATTEMPT_FIELD: public_id}
    if not first:
        args["doppelt"] = "1"
    return redirect(url_for("learner.quiz_result", module_id=module.id, **args), code=303)


@dataclass(frozen=True)
class ResultOption:
    option: Option
    chosen: bool
    right: bool  # choice: the option is correct; ordering: the learner put it at the right place
    position: int  # ordering: where the learner put it (1-based)


@dataclass(frozen=True)
class ResultQuestion:
    number: int
    question: Question
    correct: bool
    options: list[ResultOption]  # choice: as shown in the attempt; ordering: in the learner's order
    correct_order: list[Option]  # ordering only


def _result_questions(module: Module, attempt: QuizAttempt) -> list[ResultQuestion]:
    answers = attempt.answers or {}
    results: list[ResultQuestion] = []
    for number, question in enumerate(module.quiz.questions, start=1):
        given = [str(x) for x in answers.get(question.id) or []]
        if question.kind == "ordering":
            correct_order = list(question.options)
            options = []
            for position, option_id in enumerate(given, start=1):
                option = question.option(option_id)
                if option is not None:
                    right = position <= len(correct_order) and correct_order[position - 1].id == option_id
                    options.append(ResultOption(option, True, right, position))
            results.append(
                ResultQuestion(number, question, question.is_correct(given), options, correct_order)
            )
            continue
        shown = [str(x) for x in attempt.layout.get(question.id) or [o.id for o in question.options]]
        choice_options = []
        for position, option_id in enumerate(shown, start=1):
            option = question.option(option_id)
            if option is not None:
                choice_options.append(ResultOption(option, option_id in given, option.correct, position))
        results.append(ResultQuestion(number, question, question.is_correct(given), choice_options, []))
    return results


@bp.get("/m/<module_id>/ergebnis")
def quiz_result(module_id: str) -> Response | str:
    where = here()
    course = where.course
    module = find_module(course, module_id)
    s = db.session()
    public_id = request.args.get(ATTEMPT_FIELD, "")[:64]
    attempt = (
        progress.get_attempt(s, where.learner, course, module, public_id)
        if public_id
        else progress.latest_submitted_attempt(s, where.learner, course, module)
    )
    if attempt is None or attempt.submitted_at is None:
        return redirect(url_for("learner.quiz", module_id=module.id), code=303)
    snap = progress.module_snapshot(s, where.learner, course, module)
    step = next_step_in_module(course, module, snap)
    if step is not None and step.kind == "quiz":
        step = None  # the retry button says that already
    score = attempt.score or 0.0
    return render_template(
        "course/quiz_result.html",
        course=course,
        module=module,
        attempt=attempt,
        score=score,
        passed=score_passes(course, score),
        best=snap.best_score,
        attempts=snap.attempts,
        questions=_result_questions(module, attempt),
        double=request.args.get("doppelt") == "1",
        step=step,
        step_href=step_url(step) if step else None,
        step_title=step_title(course, step) if step else None,
        single=where.single_module,
        percent=percent,
    )

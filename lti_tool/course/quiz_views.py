"""The module quiz: the form (a fresh or the open attempt), submitting it, and the result.

The page never holds the right answers before submission: options come in the attempt's shuffled order and the
form speaks in positions (quizform.py). Scoring happens in `progress.submit_quiz_attempt`. After submission the
result shows what the course's review options allow (review.py builds only that).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import db, fragments, progress
from ..i18n import percent
from ..models import QuizAttempt
from . import quiz_parts, quizform
from .attempt_policy import Gate
from .completion import next_step_in_module, score_passes
from .model import Course, Module
from .review import review_questions
from .views import bp, find_module, here, step_title, step_url

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
) -> tuple[str | bytes, int]:
    questions = progress.attempt_questions(module.quiz, attempt)
    if questions is None:
        raise progress.QuizChanged(attempt.public_id)
    shown = quizform.shown_questions(
        questions,
        attempt.layout,
        previous=decoded.partial if decoded else None,
        problems=decoded.problems if decoded else None,
    )
    questions_html = quiz_parts.questions_html(course, module, shown)
    problems = [question for question in shown if question.problem]
    single = here().single_module
    context = {
        "course": course,
        "module": module,
        "attempt_field": ATTEMPT_FIELD,
        "questions": shown,
        "problems": problems,
        "stray": bool(decoded and decoded.stray),
        "best": best,
        "attempts": attempts,
        "single": single,
        "percent": percent,
    }
    holes = {"attempt_id": attempt.public_id, "questions_html": questions_html}
    if decoded is not None:  # back with problems: as it is
        return render_template("course/quiz.html", **context, **holes), status
    # The form's page but for the attempt (its id and its questions, put in per request: holes) is the same for
    # every learner with the same best result and attempts: kept rendered (fragments.page).
    html = fragments.page(
        "course/quiz.html",
        (id(course), module.id, single.id if single else None, len(shown), best, attempts),
        lambda: context,
        holes,
        store="nama_learner_pages",
    )
    return html, status


def _render_locked(
    course: Course, module: Module, gate: Gate, best: float | None, attempts: int
) -> tuple[str, int]:
    html = render_template(
        "course/quiz_locked.html",
        course=course,
        module=module,
        gate=gate,
        best=best,
        attempts=attempts,
        single=here().single_module,
        percent=percent,
    )
    return html, 200


@bp.get("/m/<module_id>/quiz")
def quiz(module_id: str) -> tuple[str | bytes, int]:
    where = here()
    course = where.course
    module = find_module(course, module_id)
    s = db.session()
    attempt = progress.find_open_attempt(s, where.learner, course, module)
    best, attempts = progress.quiz_record(s, where.learner, course, module)
    if attempt is None:
        gate = progress.attempt_gate(s, where.learner, course, module)
        if gate is not None:
            return _render_locked(course, module, gate, best, attempts)
        s = db.write_session()
        try:
            attempt = progress.start_quiz_attempt(s, where.learner, course, module)
        except progress.AttemptLocked as locked:  # another tab submitted meanwhile
            s.rollback()
            return _render_locked(course, module, locked.gate, best, attempts)
        s.commit()
    return _render_form(course, module, attempt, best=best, attempts=attempts)


@bp.post("/m/<module_id>/quiz")
def submit_quiz(module_id: str) -> Response | tuple[str | bytes, int]:
    where = here()
    course = where.course
    module = find_module(course, module_id)
    public_id = request.form.get(ATTEMPT_FIELD, "")[:64]
    s = db.write_session()
    progress.lock_learner(s, where.learner, course.id)  # read once, under the lock the submit needs
    attempt = progress.get_attempt(s, where.learner, course, module, public_id)
    if attempt.submitted_at is None:
        questions = progress.attempt_questions(module.quiz, attempt)
        if questions is None:
            raise progress.QuizChanged(public_id)
        decoded = quizform.decode(questions, attempt.layout, request.form)
        if decoded.problems or decoded.stray:
            s.rollback()
            best, attempts = progress.quiz_record(s, where.learner, course, module)
            return _render_form(
                course, module, attempt, best=best, attempts=attempts, decoded=decoded, status=422
            )
        result = progress.submit_quiz_attempt(
            s, where.learner, course, module, public_id, decoded.answers, locked=attempt
        )
        s.commit()
        first = result.first
    else:
        first = False
    args: dict[str, Any] = {ATTEMPT_FIELD: public_id}
    if not first:
        args["doppelt"] = "1"
    # The attempt's id joined on as the query, not given to url_for: the tool keeps each link it builds by its
    # values (lti_tool/links.py), and one per attempt would be kept for nothing (~1,200 per web process in ten
    # minutes of bench/load.py's soak). The same URL werkzeug builds: the id is token_urlsafe's letters.
    location = url_for("learner.quiz_result", module_id=module.id) + "?" + urlencode(args)
    return redirect(location, code=303)


@bp.get("/m/<module_id>/ergebnis")
def quiz_result(module_id: str) -> Response | str | bytes:
    where = here()
    course = where.course
    module = find_module(course, module_id)
    s = db.session()
    public_id = request.args.get(ATTEMPT_FIELD, "")[:64]
    attempt = progress.attempt_result(s, where.learner, course, module, public_id)
    if attempt is None or attempt.submitted_at is None:
        return redirect(url_for("learner.quiz", module_id=module.id), code=303)
    snap = progress.module_snapshot(s, where.learner, course, module)
    step = next_step_in_module(course, module, snap)
    if step is not None and step.kind == "quiz":
        step = None  # the retry button says that already
    score = attempt.score or 0.0
    passed = score_passes(course, score)
    review = course.review.after(passed)
    questions = progress.attempt_questions(module.quiz, attempt)
    reviewed = (
        review_questions(module, questions, attempt.layout, attempt.answers or {}, review)
        if questions is not None
        else None
    )
    gate = progress.attempt_gate(s, where.learner, course, module)
    double = request.args.get("doppelt") == "1"
    # The best result and the attempts are shown only when the best is another attempt's.
    best = snap.best_score if snap.best_score != score else None
    attempts = snap.attempts if best is not None else 0
    single = where.single_module
    # Kept rendered (fragments.page) per module and what the page shows besides this attempt's numbers and
    # answers, which are put in per request (holes): learners with the same verdict share the page.
    holes = {
        "right": str(attempt.correct_count or 0),
        "total": str(attempt.question_count),
        "score_percent": percent(score),
    }
    if reviewed is not None:
        holes["answers_html"] = quiz_parts.answers_html(course, module, reviewed)
    return fragments.page(
        "course/quiz_result.html",
        (
            id(course),
            module.id,
            single.id if single else None,
            passed,
            best,
            attempts,
            gate,
            double,
            step,
            reviewed is None,
        ),
        lambda: {
            "course": course,
            "module": module,
            "passed": passed,
            "review": review,
            "best": best,
            "attempts": attempts,
            "questions_changed": reviewed is None,
            "gate": gate,
            "double": double,
            "step": step,
            "step_href": step_url(step) if step else None,
            "step_title": step_title(course, step) if step else None,
            "single": single,
            "percent": percent,
        },
        holes,
        store="nama_learner_pages",
    )

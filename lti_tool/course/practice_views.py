"""The practice task (write, edit until a teacher accepted it, revise when a teacher asks for it, then read-only
with the feedback of every review round) and the exchange page where learners of the same course context read
each other's answers after submitting their own."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import db, progress
from ..models import PracticeSubmission
from . import drafts
from .model import Course, Module
from .views import bp, find_module, here

PEERS_PER_PAGE = 20


def _reviewed_before(submission: PracticeSubmission) -> bool:
    """Has the answer any review round (every round leaves its feedback, at least ""; saves the query if not)."""
    return submission.feedback is not None or submission.reviewed_at is not None


def _render(
    course: Course,
    module: Module,
    submission: PracticeSubmission | None,
    *,
    text: str,
    problem: str | None = None,
    length: int = 0,
    saved: str | None = None,
    status: int = 200,
    kept_at: object = None,
) -> tuple[str, int]:
    html = render_template(
        "course/practice.html",
        course=course,
        module=module,
        task=module.practice,
        submission=submission,
        rounds=(
            progress.review_rounds(db.session(), submission.id)
            if submission is not None and _reviewed_before(submission)
            else []
        ),
        text=text,
        problem=problem,
        length=length,
        saved=saved,
        kept_at=kept_at,
        single=here().single_module,
    )
    return html, status


@bp.get("/m/<module_id>/praxis")
def practice(module_id: str) -> tuple[str, int]:
    where = here()
    module = find_module(where.course, module_id)
    submission = progress.get_practice(db.session(), where.learner, where.course, module)
    saved = request.args.get("gespeichert")
    text = submission.text if submission else ""
    kept = drafts.kept_text(where.learner.user_id, where.learner.context_id, where.course.id, module.id)
    reviewed = submission is not None and submission.reviewed_at is not None
    kept_at = None
    if kept is not None and not reviewed and (submission is None or submission.updated_at < kept[1]):
        text, kept_at = kept  # the text sent after the last session ended, offered again
    return _render(
        where.course,
        module,
        submission,
        text=text,
        saved=saved if saved in ("neu", "geaendert", "ueberarbeitet") else None,
        kept_at=kept_at,
    )


@bp.post("/m/<module_id>/praxis")
def save_practice(module_id: str) -> Response | tuple[str, int]:
    where = here()
    module = find_module(where.course, module_id)
    text = request.form.get("text")
    s = db.write_session()
    if text is None:
        s.rollback()
        submission = progress.get_practice(s, where.learner, where.course, module)
        return _render(where.course, module, submission, text="", problem="missing", status=422)
    try:
        saved = progress.save_practice(s, where.learner, where.course, module, text)
    except progress.PracticeTextInvalid as exc:
        s.rollback()
        submission = progress.get_practice(s, where.learner, where.course, module)
        if submission is not None and submission.reviewed_at is not None:
            raise progress.PracticeLocked(module.id) from exc
        return _render(
            where.course,
            module,
            submission,
            text=progress.normalize_text(text),
            problem=exc.code,
            length=exc.length,
            status=422,
        )
    s.commit()
    drafts.forget(where.learner.user_id, where.learner.context_id, where.course.id, module.id)
    state = "neu" if saved.first else "ueberarbeitet" if saved.revised else "geaendert"
    return redirect(url_for("learner.practice", module_id=module.id, gespeichert=state), code=303)


def _page_number(raw: str | None) -> int:
    if raw and raw.isascii() and raw.isdigit() and len(raw) < 6:
        return max(1, int(raw))
    return 1


@bp.get("/m/<module_id>/austausch")
def exchange(module_id: str) -> str:
    where = here()
    module = find_module(where.course, module_id)
    s = db.session()
    own = progress.get_practice(s, where.learner, where.course, module)
    page = _page_number(request.args.get("seite"))
    answers: list[progress.PeerAnswer] = []
    total = 0
    if own is not None:
        answers, total = progress.peer_answers(
            s, where.learner, where.course, module, limit=PEERS_PER_PAGE, offset=(page - 1) * PEERS_PER_PAGE
        )
    pages = max(1, -(-total // PEERS_PER_PAGE))
    if own is not None and page > pages:
        page = pages
        answers, total = progress.peer_answers(
            s, where.learner, where.course, module, limit=PEERS_PER_PAGE, offset=(page - 1) * PEERS_PER_PAGE
        )
    return render_template(
        "course/exchange.html",
        course=where.course,
        module=module,
        own=own,
        answers=answers,
        total=total,
        page=page,
        pages=pages,
        single=where.single_module,
    )

"""Reviewing practice tasks as a dialogue, under /s/<sid>/lehrende/ (the instructor blueprint of views.py).

The instructor reads the learner's answer and either accepts it or asks for a revision, with feedback either way
(`progress.review_practice` keeps every round). The list of answers waiting for a review (or for the learner's
revision) spans the course context. A learner is only found through a membership of the session's own context.
"""

from __future__ import annotations

import logging

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from .. import db, progress
from ..auth import current_visitor, instructor_required
from ..course.model import Module
from ..errors import NotFound
from ..i18n import lazy_gettext as _l
from ..models import PracticeSubmission, ReviewDecision
from ..progress import Learner as ProgressLearner
from . import detail as details
from . import reviews
from .detail import PracticeMissing
from .rows import Scope
from .views import bp, find_learner, find_module, scope

log = logging.getLogger(__name__)

FEEDBACK_MAX = 5000  # characters, after normalising line breaks
# The form's button values (German, as people may see them in the address bar's history) -> decisions.
DECISIONS = {"annehmen": ReviewDecision.ACCEPTED, "ueberarbeiten": ReviewDecision.REVISION}


def _page_number(raw: str | None) -> int:
    if raw and raw.isascii() and raw.isdigit() and len(raw) < 7:
        return max(1, int(raw))
    return 1


@bp.get("/praxis")
@instructor_required
def reviews_waiting() -> str:
    """Every practice answer of the course context that waits for a review (or, `?liste=ueberarbeitung`, for
    the learner's revision)."""
    where = scope()
    s = db.session()
    revision = request.args.get("liste") == "ueberarbeitung"
    counts = reviews.review_counts(s, where)
    shown = reviews.waiting_page(s, where, revision=revision, number=_page_number(request.args.get("seite")))
    return render_template(
        "gradebook/reviews.html", course=where.course, counts=counts, shown=shown, revision=revision
    )


def _render_review(
    where: Scope,
    learner: details.Learner,
    module: Module,
    submission: PracticeSubmission,
    *,
    feedback: str,
    problem: str | None = None,
    length: int = 0,
    saved: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    html = render_template(
        "gradebook/review.html",
        course=where.course,
        learner=learner,
        module=module,
        submission=submission,
        rounds=progress.review_rounds(db.session(), submission.id),
        version=progress.practice_version(submission),
        feedback=feedback,
        problem=problem,
        length=length,
        saved=saved,
        feedback_max=FEEDBACK_MAX,
    )
    return html, status


def _practice(where: Scope, learner: details.Learner, module: Module) -> PracticeSubmission:
    try:
        return details.find_practice(db.session(), where, learner, module)
    except PracticeMissing:
        raise NotFound(
            _l("This learner has not submitted this practice task."),
            hint=_l("Please choose a submitted practice task from the learner's page."),
            code="practice_not_found",
        ) from None


@bp.get("/lernende/<int:user_id>/praxis/<module_id>")
@instructor_required
def review(user_id: int, module_id: str) -> tuple[str, int]:
    where = scope()
    learner = find_learner(where, user_id)
    module = find_module(where, module_id)
    submission = _practice(where, learner, module)
    saved = request.args.get("gespeichert")
    return _render_review(
        where,
        learner,
        module,
        submission,
        # A new round starts with an empty field; an accepted answer's feedback can be amended.
        feedback=(submission.feedback or "") if submission.reviewed_at is not None else "",
        saved=saved if saved in DECISIONS else None,
    )


@bp.post("/lernende/<int:user_id>/praxis/<module_id>")
@instructor_required
def save_review(user_id: int, module_id: str) -> BaseResponse | tuple[str, int]:
    """One review round: accept, or ask for a revision, with feedback (`progress.review_practice`, which also
    queues the grades when an answer is accepted).

    Refused, with nothing changed: no or empty feedback, feedback over FEEDBACK_MAX characters, no or an unknown
    decision, a revision of an accepted answer, and a text the learner changed after the page was opened (the
    teacher reads it again first).
    """
    where = scope()
    s = db.write_session()
    learner = find_learner(where, user_id)
    module = find_module(where, module_id)
    submission = _practice(where, learner, module)
    raw = request.form.get("feedback")
    feedback = progress.normalize_text(raw or "")
    decision = DECISIONS.get(request.form.get("entscheidung", ""))
    problem = None
    if raw is None:
        problem = "missing"
    elif not feedback:
        problem = "empty"
    elif len(feedback) > FEEDBACK_MAX:
        problem = "too_long"
    elif decision is None:
        problem = "decision"
    if problem is None:
        assert decision is not None
        owner = ProgressLearner(
            user_id=learner.user.id, context_id=where.context_id, platform_id=where.platform_id
        )
        try:
            progress.review_practice(
                s,
                owner,
                where.course,
                module,
                reviewer_id=current_visitor().user.id,
                feedback=feedback,
                decision=decision,
                version=request.form.get("stand", ""),
            )
        except progress.PracticeChanged:
            problem = "changed"
        except progress.PracticeAlreadyAccepted:
            problem = "accepted"
    if problem is not None:
        s.rollback()
        submission = _practice(where, learner, module)
        status = 409 if problem in ("changed", "accepted") else 422
        return _render_review(
            where,
            learner,
            module,
            submission,
            feedback=feedback,
            problem=problem,
            length=len(feedback),
            status=status,
        )
    s.commit()
    log.info(
        "instructor %s reviewed the practice task %s of user %s: %s",
        current_visitor().user.id,
        module.id,
        learner.user.id,
        decision,
    )
    saved = "annehmen" if decision == ReviewDecision.ACCEPTED else "ueberarbeiten"
    return redirect(
        url_for("instructor.review", user_id=learner.user.id, module_id=module.id, gespeichert=saved),
        code=303,
    )

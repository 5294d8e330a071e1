"""The practice task (write, edit until a teacher accepted it, revise when a teacher asks for it, then read-only
with the feedback of every review round) and the exchange page where learners of the same course context read
each other's answers after submitting their own."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import db, exchange, fragments, progress
from ..errors import NotFound
from ..i18n import lazy_gettext as _l
from ..models import PracticeSubmission
from . import drafts, exchange_parts
from .model import Course, Module
from .views import berlin_day, bp, find_module, here

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
def practice(module_id: str) -> tuple[str | bytes, int]:
    where = here()
    course = where.course
    module = find_module(course, module_id)
    s = db.session()
    submission = progress.get_practice(s, where.learner, course, module)
    saved = request.args.get("gespeichert")
    text = submission.text if submission else ""
    kept = drafts.kept_text(where.learner.user_id, where.learner.context_id, course.id, module.id, session=s)
    reviewed = submission is not None and submission.reviewed_at is not None
    kept_at = None
    if kept is not None and not reviewed and (submission is None or submission.updated_at < kept[1]):
        text, kept_at = kept  # the text sent after the last session ended, offered again
    shown = saved if saved in ("neu", "geaendert", "ueberarbeitet") else None
    if kept_at is not None or (
        submission is not None
        and (reviewed or submission.revision_requested_at is not None or _reviewed_before(submission))
    ):
        return _render(course, module, submission, text=text, saved=shown, kept_at=kept_at)
    # Not yet written, or written and waiting for a review: the same page for every learner but for their text
    # (a hole) and, before it is saved again, the day it was submitted on. Kept rendered (fragments.page).
    day = berlin_day(submission.submitted_at) if submission is not None and not shown else None
    single = where.single_module
    html = fragments.page(
        "course/practice.html",
        (id(course), module.id, single.id if single else None, submission is not None, shown, day),
        lambda: {
            "course": course,
            "module": module,
            "task": module.practice,
            "submission": submission,
            "rounds": [],
            "problem": None,
            "length": 0,
            "saved": shown,
            "kept_at": None,
            "single": single,
        },
        {"text": text},
    )
    return html, 200


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
    # The text kept from an ended session goes with this save (the table store: in its transaction).
    drafts.forget(where.learner.user_id, where.learner.context_id, where.course.id, module.id, session=s)
    s.commit()
    state = "neu" if saved.first else "ueberarbeitet" if saved.revised else "geaendert"
    return redirect(url_for("learner.practice", module_id=module.id, gespeichert=state), code=303)


def _page_number(raw: str | None) -> int:
    if raw and raw.isascii() and raw.isdigit() and len(raw) < 6:
        return max(1, int(raw))
    return 1


def _render_exchange(
    where: Any,
    module: Module,
    *,
    page: int = 1,
    problem: tuple[str, int, exchange.TextInvalid | None] | None = None,
    reply_text: str = "",
    municipality_text: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The exchange page; `problem` is (which form: "reply" or "municipality", the answer id, the error)."""
    s = db.session()
    shown = exchange.read_page(s, where.learner, where.course, module, per_page=PEERS_PER_PAGE, page=page)
    if shown.own is not None and shown.new_replies:
        # Shown now: from the next visit on these are no longer new (one write, only when there were new ones).
        # Seen up to the newest reply read, not up to now: one written after the read was not shown.
        newest = max(reply.at for reply in shown.own.replies if reply.new)
        s = db.write_session()
        exchange.mark_replies_seen(s, where.learner, shown.own.answer.id, now=newest)
        s.commit()
    html = render_template(
        "course/exchange.html",
        course=where.course,
        module=module,
        shown=shown,
        problem=problem,
        reply_text=reply_text,
        municipality_text=shown.municipality if municipality_text is None else municipality_text,
        reply_max=exchange.REPLY_MAX,
        municipality_max=exchange.MUNICIPALITY_MAX,
        saved=request.args.get("gespeichert") if status == 200 else None,
        single=where.single_module,
        # A reply form come back with a problem is rendered in the page's loop, the answers otherwise kept.
        threads_html=None
        if problem is not None and problem[0] == "reply"
        else exchange_parts.threads_html(where.course, module, shown),
    )
    return html, status


@bp.get("/m/<module_id>/austausch", endpoint="exchange")
def exchange_page(module_id: str) -> tuple[str, int]:
    where = here()
    module = find_module(where.course, module_id)
    return _render_exchange(where, module, page=_page_number(request.args.get("seite")))


def _answer_id(raw: str | None) -> int:
    if raw and raw.isascii() and raw.isdigit() and len(raw) < 19:
        return int(raw)
    return 0  # found by nobody: a clear "not found"


@bp.post("/m/<module_id>/austausch/antworten")
def reply(module_id: str) -> Response | tuple[str, int]:
    """A reply to an answer on this exchange page (field `antwort`: the answer's id, `text`: the reply)."""
    where = here()
    module = find_module(where.course, module_id)
    answer_id = _answer_id(request.form.get("antwort"))
    text = request.form.get("text")
    s = db.write_session()
    try:
        exchange.add_reply(s, where.learner, where.course, module, answer_id, text)
    except exchange.TextInvalid as exc:
        s.rollback()
        return _render_exchange(
            where,
            module,
            page=_page_number(request.form.get("seite")),
            problem=("reply", answer_id, exc),
            reply_text=progress.normalize_text(text or ""),
            status=422,
        )
    except exchange.NoOwnAnswer:
        s.rollback()
        raise NotFound(
            _l("You can reply once you have submitted your own answer."),
            hint=_l("Please write your answer to the practice task first."),
            code="no_own_answer",
        ) from None
    except exchange.AnswerNotFound:
        s.rollback()
        raise NotFound(
            _l("There is no such answer on this exchange page."),
            hint=_l("Please open the exchange page again and reply to an answer shown there."),
            code="answer_not_found",
        ) from None
    s.commit()
    # No fragment: the notice at the top takes the focus and says what happened (a fragment would move it away).
    return redirect(url_for("learner.exchange", module_id=module.id, gespeichert="antwort"), code=303)


@bp.post("/m/<module_id>/austausch/kommune")
def municipality(module_id: str) -> Response | tuple[str, int]:
    """Show (field `kommune`) or, with `aktion=entfernen`, no longer show the learner's municipality."""
    where = here()
    module = find_module(where.course, module_id)
    s = db.write_session()
    if request.form.get("aktion") == "entfernen":
        exchange.remove_municipality(s, where.learner)
        state = "kommune-entfernt"
    else:
        raw = request.form.get("kommune")
        try:
            exchange.set_municipality(s, where.learner, raw)
        except exchange.TextInvalid as exc:
            s.rollback()
            return _render_exchange(
                where,
                module,
                problem=("municipality", 0, exc),
                municipality_text=progress.normalize_text(raw or ""),
                status=422,
            )
        state = "kommune"
    s.commit()
    return redirect(url_for("learner.exchange", module_id=module.id, gespeichert=state), code=303)

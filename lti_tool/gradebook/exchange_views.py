"""The exchange pages as their instructor sees them, under /s/<sid>/lehrende/austausch/ (the instructor blueprint
of views.py): every answer and reply of a module in the course context, hidden ones included, and the way to
hide a post with a reason or show it again. Posts are only found in the session's own course context."""

from __future__ import annotations

import logging

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from .. import db, exchange
from ..auth import current_visitor, instructor_required
from ..course.model import Module
from ..errors import NotFound
from ..i18n import lazy_gettext as _l
from .rows import Scope
from .views import bp, find_module, scope

log = logging.getLogger(__name__)

PER_PAGE = 20
KINDS: dict[str, exchange.PostKind] = {"antwort": "answer", "erwiderung": "reply"}


def _page_number(raw: str | None) -> int:
    if raw and raw.isascii() and raw.isdigit() and len(raw) < 7:
        return max(1, int(raw))
    return 1


def _render(
    where: Scope,
    module: Module,
    *,
    page: int,
    problem: tuple[str, int, exchange.TextInvalid] | None = None,
    reason: str = "",
    status: int = 200,
) -> tuple[str, int]:
    threads, total, page, pages = exchange.moderation_page(
        db.session(),
        context_id=where.context_id,
        course=where.course,
        module=module,
        per_page=PER_PAGE,
        page=page,
    )
    html = render_template(
        "gradebook/exchange.html",
        course=where.course,
        module=module,
        threads=threads,
        total=total,
        page=page,
        pages=pages,
        problem=problem,
        reason=reason,
        reason_max=exchange.REASON_MAX,
        saved=request.args.get("gespeichert") if status == 200 else None,
    )
    return html, status


@bp.get("/austausch/<module_id>")
@instructor_required
def exchange_moderation(module_id: str) -> tuple[str, int]:
    where = scope()
    return _render(where, find_module(where, module_id), page=_page_number(request.args.get("seite")))


@bp.post("/austausch/<module_id>/sichtbarkeit")
@instructor_required
def set_visibility(module_id: str) -> BaseResponse | tuple[str, int]:
    """Hide a post (`aktion=ausblenden`, with `grund`) or show it again (`aktion=einblenden`): `art` says whether
    it is an answer or a reply, `beitrag` its id."""
    where = scope()
    module = find_module(where, module_id)
    kind = KINDS.get(request.form.get("art", ""))
    action = request.form.get("aktion", "")
    raw_id = request.form.get("beitrag", "")
    post_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 19 else 0
    page = _page_number(request.form.get("seite"))
    if kind is None or action not in ("ausblenden", "einblenden"):
        raise NotFound(
            _l("There is no such post on this exchange page."),
            hint=_l("Please open the exchange page again and choose a post shown there."),
            code="post_not_found",
        )
    s = db.write_session()
    try:
        exchange.set_hidden(
            s,
            context_id=where.context_id,
            course=where.course,
            module=module,
            kind=kind,
            post_id=post_id,
            instructor_id=current_visitor().user.id,
            reason=request.form.get("grund"),
            hidden=action == "ausblenden",
        )
    except exchange.TextInvalid as exc:
        s.rollback()
        reason = exchange.normalize_text(request.form.get("grund") or "")
        return _render(where, module, page=page, problem=(kind, post_id, exc), reason=reason, status=422)
    except (exchange.AnswerNotFound, exchange.ReplyNotFound):
        s.rollback()
        raise NotFound(
            _l("There is no such post on this exchange page."),
            hint=_l("Please open the exchange page again and choose a post shown there."),
            code="post_not_found",
        ) from None
    s.commit()
    log.info(
        "instructor %s %s %s %s on the exchange of %s in context %s",
        current_visitor().user.id,
        "hid" if action == "ausblenden" else "showed again",
        kind,
        post_id,
        module.id,
        where.context_id,
    )
    # No fragment: the notice at the top takes the focus and says what happened (a fragment would move it away).
    return redirect(
        url_for("instructor.exchange_moderation", module_id=module.id, seite=page, gespeichert=action),
        code=303,
    )

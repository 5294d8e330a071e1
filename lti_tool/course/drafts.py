"""Practice texts posted after the session ended: kept for the learner, offered again after the next launch.

A learner who writes for a long time may send the practice form after the session ended (idle or absolute
timeout, or "End session" in another tab). The text is not accepted as a submission (an ended session must not
write), but it is not lost either: if the expired session is still known, the text is kept in the launch store
for DRAFT_DAYS under the learner, course context and module, and the practice page offers it again (prefilled,
with a notice) once the learner opens the activity from the platform; saving it removes the kept copy. The
refusal page always shows the text to copy as well.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import db
from ..cache import get_store
from ..lti.provision import token_hash
from ..models import ToolSession, utcnow
from .model import Catalog

DRAFT_DAYS = 14
MAX_DRAFT_LENGTH = 100_000

log = logging.getLogger(__name__)


def _store_down(exc: Exception, doing: str) -> None:
    """The kept texts live in the launch store; with Redis out of reach (a restart, a network hiccup) the practice
    page is shown and saved without them instead of failing: a kept text is an extra, the learner's work is not."""
    log.warning("launch store unreachable (%s): %s", type(exc).__name__, doing)


def _key(user_id: int, context_id: int, course_id: str, module_id: str) -> str:
    return f"practice-draft:{user_id}:{context_id}:{course_id}:{module_id}"


def keep_posted_text(token: str, endpoint: str | None, view_args: Mapping[str, Any] | None) -> bool:
    """Keep the posted practice text of an ended session; True when it was kept."""
    from flask import request

    module_id = (view_args or {}).get("module_id")
    text = request.form.get("text") or ""
    if endpoint != "learner.save_practice" or not isinstance(module_id, str) or not token or not text:
        return False
    with db.session_scope() as s:
        row = s.execute(
            select(ToolSession.user_id, ToolSession.context_id, ToolSession.course_id).where(
                ToolSession.token_hash == token_hash(token)
            )
        ).one_or_none()
    if row is None:
        return False
    value = {"text": text[:MAX_DRAFT_LENGTH], "at": utcnow().isoformat()}
    store = get_store()
    try:
        store.set(_key(row[0], row[1], row[2], module_id[:100]), value, DRAFT_DAYS * 86400)
    except store.unavailable as exc:
        _store_down(
            exc, "a practice text sent after the session ended was not kept (the page shows it to copy)"
        )
        return False
    return True


def kept_text(
    user_id: int, context_id: int, course_id: str, module_id: str, *, session: Session | None = None
) -> tuple[str, dt.datetime] | None:
    """The kept text and when it was sent; with `session`, read in that transaction (the table store)."""
    store = get_store()
    try:
        value = store.get(_key(user_id, context_id, course_id, module_id), session=session)
    except store.unavailable as exc:
        _store_down(exc, "practice page shown without a text kept from an ended session")
        return None
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    try:
        at = dt.datetime.fromisoformat(str(value.get("at")))
    except ValueError:
        return None
    return value["text"], at


def forget(
    user_id: int, context_id: int, course_id: str, module_id: str, *, session: Session | None = None
) -> None:
    """Remove the kept text; with `session`, in that transaction (the table store: its commit removes it). With
    Redis out of reach the save goes on and the kept text stays (offered again, to be dismissed or saved)."""
    store = get_store()
    try:
        store.delete(_key(user_id, context_id, course_id, module_id), session=session)
    except store.unavailable as exc:
        _store_down(exc, "a kept practice text was not removed after the save")


def drafts_of(user_id: int, context_ids: Iterable[int], catalog: Catalog) -> list[dict[str, Any]]:
    """Every kept text of the learner in these contexts (for their data export), any course, any module."""
    found = []
    for context_id in sorted(set(context_ids)):
        for course in catalog.courses.values():
            for module in course.modules:
                kept = kept_text(user_id, context_id, course.id, module.id)
                if kept is not None:
                    found.append(
                        {
                            "context_id": context_id,
                            "course_id": course.id,
                            "module_id": module.id,
                            "module_title": module.title,
                            "text": kept[0],
                            "kept_at": kept[1].isoformat(),
                        }
                    )
    return found


def forget_all(user_id: int, context_ids: Iterable[int], catalog: Catalog) -> int:
    """Delete every kept text of the learner in these contexts (their data's deletion); returns how many there were.

    The launch store writes in transactions of its own: call it outside any open write transaction."""
    drafts = drafts_of(user_id, context_ids, catalog)
    for draft in drafts:
        forget(user_id, draft["context_id"], draft["course_id"], draft["module_id"])
    return len(drafts)

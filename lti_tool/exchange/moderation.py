"""The instructor's moderation: hide a post with a reason (its author still sees it, and why), show it again, and
read every post of a module, hidden ones included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..course.model import Course, Module
from ..models import ExchangeReply, PracticeSubmission, utcnow
from .page import Post, answers_select, replies_query
from .texts import REASON_MAX, AnswerNotFound, ReplyNotFound, checked_text

PostKind = Literal["answer", "reply"]


def set_hidden(
    s: Session,
    *,
    context_id: int,
    course: Course,
    module: Module,
    kind: PostKind,
    post_id: int,
    instructor_id: int,
    reason: str | None,
    hidden: bool,
) -> None:
    """Hide a post with a reason (TextInvalid when it has none or too long a one), or show it again. Only a post
    of this course context, course and module is found (AnswerNotFound / ReplyNotFound)."""
    clean = checked_text(reason, REASON_MAX) if hidden else None
    values: dict[str, Any] = {
        "hidden_at": utcnow() if hidden else None,
        "hidden_by": instructor_id if hidden else None,
        "hidden_reason": clean,
    }
    model: type[PracticeSubmission] | type[ExchangeReply] = (
        PracticeSubmission if kind == "answer" else ExchangeReply
    )
    if not 0 < post_id < 2**63:
        raise AnswerNotFound(post_id) if kind == "answer" else ReplyNotFound(post_id)
    result = s.execute(
        update(model)
        .where(
            model.id == post_id,
            model.context_id == context_id,
            model.course_id == course.id,
            model.module_id == module.id,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise AnswerNotFound(post_id) if kind == "answer" else ReplyNotFound(post_id)


@dataclass(frozen=True, slots=True)
class ModeratedThread:
    answer: Post
    replies: list[Post]


def moderation_page(
    s: Session, *, context_id: int, course: Course, module: Module, per_page: int, page: int = 1
) -> tuple[list[ModeratedThread], int, int, int]:
    """Every answer of the module in the course context with every reply, hidden ones included (with their
    reasons), newest answer first: threads, total answers, page, pages. Three statements."""
    where = [
        PracticeSubmission.context_id == context_id,
        PracticeSubmission.course_id == course.id,
        PracticeSubmission.module_id == module.id,
    ]
    total = int(s.scalar(select(func.count(PracticeSubmission.id)).where(*where)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = s.execute(
        answers_select(context_id)
        .where(*where)
        .order_by(PracticeSubmission.submitted_at.desc(), PracticeSubmission.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    threads = {
        row.id: ModeratedThread(
            Post(
                row.id,
                row.user_id,
                row.given_name,
                row.name,
                row.municipality,
                row.text,
                row.submitted_at,
                row.updated_at,
                row.hidden_at,
                row.hidden_reason,
                mine=False,
            ),
            [],
        )
        for row in rows
    }
    for r in s.execute(replies_query(context_id, threads)):
        threads[r.submission_id].replies.append(
            Post(
                r.id,
                r.user_id,
                r.given_name,
                r.name,
                r.municipality,
                r.text,
                r.created_at,
                r.created_at,
                r.hidden_at,
                r.hidden_reason,
                mine=False,
            )
        )
    return list(threads.values()), total, page, pages

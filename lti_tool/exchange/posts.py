"""A learner's writes on the exchange page: a reply to an answer, and the municipality shown with their name."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..course.model import Course, Module
from ..db import upsert
from ..models import ExchangeProfile, ExchangeReply, PracticeSubmission, utcnow
from ..progress import Learner
from .page import visible_to, where_page
from .texts import REPLY_MAX, AnswerNotFound, NoOwnAnswer, checked_municipality, checked_text


def _answer_on_page(s: Session, learner: Learner, course: Course, module: Module, answer_id: int) -> int:
    """The id of an answer the learner may reply to: on this page (context, course, module), visible to them."""
    if not 0 < answer_id < 2**63:
        raise AnswerNotFound(answer_id)
    found = s.scalar(
        select(PracticeSubmission.id).where(
            PracticeSubmission.id == answer_id,
            *where_page(learner, course, module),
            visible_to(PracticeSubmission, learner),
        )
    )
    if found is None:
        raise AnswerNotFound(answer_id)
    return int(found)


def add_reply(
    s: Session, learner: Learner, course: Course, module: Module, answer_id: int, text: str | None
) -> ExchangeReply:
    """A reply to an answer on the learner's exchange page (their own answer included: they may answer back).
    Refused: text empty or over REPLY_MAX (TextInvalid), no own answer yet (NoOwnAnswer), an answer not on the
    page (AnswerNotFound)."""
    clean = checked_text(text, REPLY_MAX)
    own = s.scalar(
        select(PracticeSubmission.id).where(
            *where_page(learner, course, module), PracticeSubmission.user_id == learner.user_id
        )
    )
    if own is None:
        raise NoOwnAnswer(module.id)
    reply = ExchangeReply(
        submission_id=_answer_on_page(s, learner, course, module, answer_id),
        user_id=learner.user_id,
        context_id=learner.context_id,
        course_id=course.id,
        module_id=module.id,
        text=clean,
        created_at=utcnow(),
    )
    s.add(reply)
    s.flush()
    return reply


def set_municipality(s: Session, learner: Learner, raw: str | None) -> str:
    """The municipality the learner works for, shown with their name on the exchange pages of this course
    context (entered once, for every module). Refused: empty or too long (TextInvalid)."""
    clean = checked_municipality(raw)
    upsert(
        s,
        ExchangeProfile.__table__,
        {"user_id": learner.user_id, "context_id": learner.context_id},
        {"municipality": clean, "updated_at": utcnow()},
    )
    return clean


def remove_municipality(s: Session, learner: Learner) -> bool:
    """Forget the learner's municipality in this course context; True when there was one."""
    result = s.execute(
        delete(ExchangeProfile)
        .where(ExchangeProfile.user_id == learner.user_id, ExchangeProfile.context_id == learner.context_id)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]

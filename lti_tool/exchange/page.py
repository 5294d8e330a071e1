"""Reading the exchange page: the reader's answer with its replies, a page of the others' answers with theirs,
and which replies are new to the reader."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from ..course.model import Course, Module
from ..models import ExchangeProfile, ExchangeReply, PracticeSubmission, User, utcnow
from ..progress import Learner


@dataclass(frozen=True, slots=True)
class Post:
    """An answer or a reply as the page shows it."""

    id: int
    user_id: int
    given_name: str | None
    name: str | None
    municipality: str | None
    text: str
    at: dt.datetime  # submitted (answer) or written (reply)
    updated_at: dt.datetime
    hidden_at: dt.datetime | None
    hidden_reason: str | None
    mine: bool
    new: bool = False  # a reply to the reader's own answer, written since they last looked


@dataclass(frozen=True, slots=True)
class Thread:
    answer: Post
    replies: list[Post] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExchangePage:
    own: Thread | None  # None: the reader has not submitted an answer (and reads nothing else)
    threads: list[Thread]  # others' answers on this page, newest first
    total: int  # others' answers visible to the reader
    page: int
    pages: int
    municipality: str | None  # the reader's own, as others see it
    new_replies: int  # replies to the reader's answer since they last looked


def where_page(learner: Learner, course: Course, module: Module) -> list[Any]:
    return [
        PracticeSubmission.context_id == learner.context_id,
        PracticeSubmission.course_id == course.id,
        PracticeSubmission.module_id == module.id,
    ]


def visible_to(model: type[PracticeSubmission] | type[ExchangeReply], learner: Learner) -> Any:
    """Hidden posts are seen by their author only (the instructor's moderation page reads with `everything`)."""
    return or_(model.hidden_at.is_(None), model.user_id == learner.user_id)


_PROFILE = aliased(ExchangeProfile, name="profile")  # built once (see grading/outbox/rows._NEWER)


def answers_select(context_id: int) -> Select[*tuple[Any, ...]]:
    """The practice answers in the course context, each with its author's names and municipality (read by the
    learner's page and the instructors' moderation page, which add which answers)."""
    profile = _PROFILE
    return (
        select(
            PracticeSubmission.id,
            PracticeSubmission.user_id,
            User.given_name,
            User.name,
            profile.municipality,
            PracticeSubmission.text,
            PracticeSubmission.submitted_at,
            PracticeSubmission.updated_at,
            PracticeSubmission.hidden_at,
            PracticeSubmission.hidden_reason,
            PracticeSubmission.replies_seen_at,
        )
        .join(User, User.id == PracticeSubmission.user_id)
        .outerjoin(
            profile, and_(profile.user_id == PracticeSubmission.user_id, profile.context_id == context_id)
        )
    )


def _replies_select(context_id: Any) -> Select[*tuple[Any, ...]]:
    """The replies in the course context, oldest first, each with its author's names and municipality."""
    return (
        select(
            ExchangeReply.id,
            ExchangeReply.submission_id,
            ExchangeReply.user_id,
            User.given_name,
            User.name,
            _PROFILE.municipality,
            ExchangeReply.text,
            ExchangeReply.created_at,
            ExchangeReply.hidden_at,
            ExchangeReply.hidden_reason,
        )
        .join(User, User.id == ExchangeReply.user_id)
        .outerjoin(
            _PROFILE, and_(_PROFILE.user_id == ExchangeReply.user_id, _PROFILE.context_id == context_id)
        )
        .where(ExchangeReply.context_id == context_id)
        .order_by(ExchangeReply.created_at, ExchangeReply.id)
    )


def replies_query(context_id: int, answer_ids: Collection[int]) -> Select[*tuple[Any, ...]]:
    """The replies to these answers in the course context (read by the learner's page and the instructors'
    moderation page)."""
    return _replies_select(context_id).where(ExchangeReply.submission_id.in_(list(answer_ids)))


# The learner page's statements, built once with bind parameters (:user_id, :context_id, :course_id, :module_id;
# the page's :limit and :offset; the answers' :answer_ids): building a statement costs more than running it.
_ON_PAGE = and_(
    PracticeSubmission.context_id == bindparam("context_id"),
    PracticeSubmission.course_id == bindparam("course_id"),
    PracticeSubmission.module_id == bindparam("module_id"),
)
_OTHERS = and_(
    PracticeSubmission.user_id != bindparam("user_id"),
    or_(PracticeSubmission.hidden_at.is_(None), PracticeSubmission.user_id == bindparam("user_id")),
)
_ANSWERS = answers_select(bindparam("context_id")).where(_ON_PAGE)  # type: ignore[arg-type]
_OWN_ANSWER = _ANSWERS.where(PracticeSubmission.user_id == bindparam("user_id"))
_OWN_MUNICIPALITY = select(ExchangeProfile.municipality).where(
    ExchangeProfile.user_id == bindparam("user_id"), ExchangeProfile.context_id == bindparam("context_id")
)
_OTHERS_COUNT = select(func.count(PracticeSubmission.id)).where(_ON_PAGE, _OTHERS)
_OTHERS_PAGE = (
    _ANSWERS.where(_OTHERS)
    .order_by(PracticeSubmission.submitted_at.desc(), PracticeSubmission.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_REPLIES = _replies_select(bindparam("context_id")).where(
    ExchangeReply.submission_id.in_(bindparam("answer_ids", expanding=True)),
    or_(ExchangeReply.hidden_at.is_(None), ExchangeReply.user_id == bindparam("user_id")),
)


def read_page(
    s: Session, learner: Learner, course: Course, module: Module, *, per_page: int, page: int = 1
) -> ExchangePage:
    """The reader's answer with its replies, a page of the others' answers with theirs, and the reader's
    municipality: four statements (two when the reader has no answer yet). Replies to the reader's answer written
    by others since `replies_seen_at` are marked new (`mark_replies_seen` records that they were shown)."""
    c = s.connection()
    bound = {
        "user_id": learner.user_id,
        "context_id": learner.context_id,
        "course_id": course.id,
        "module_id": module.id,
    }
    own_row = c.execute(_OWN_ANSWER, bound).first()
    if own_row is None:
        own_profile = c.execute(_OWN_MUNICIPALITY, bound).scalar()
        return ExchangePage(None, [], 0, 1, 1, own_profile, 0)
    total = int(c.execute(_OTHERS_COUNT, bound).scalar() or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = c.execute(_OTHERS_PAGE, {**bound, "limit": per_page, "offset": (page - 1) * per_page}).all()
    answer_ids = [own_row.id, *(row.id for row in rows)]
    replies: dict[int, list[Post]] = {answer_id: [] for answer_id in answer_ids}
    seen = own_row.replies_seen_at
    reply_rows = c.execute(_REPLIES, {**bound, "answer_ids": answer_ids}).all()
    new_replies = 0
    for r in reply_rows:
        new = (
            r.submission_id == own_row.id
            and r.user_id != learner.user_id
            and (seen is None or r.created_at > seen)
        )
        new_replies += new
        replies[r.submission_id].append(
            Post(
                id=r.id,
                user_id=r.user_id,
                given_name=r.given_name,
                name=r.name,
                municipality=r.municipality,
                text=r.text,
                at=r.created_at,
                updated_at=r.created_at,
                hidden_at=r.hidden_at,
                hidden_reason=r.hidden_reason if r.user_id == learner.user_id else None,
                mine=r.user_id == learner.user_id,
                new=new,
            )
        )

    def thread(row: Any) -> Thread:
        mine = row.user_id == learner.user_id
        post = Post(
            id=row.id,
            user_id=row.user_id,
            given_name=row.given_name,
            name=row.name,
            municipality=row.municipality,
            text=row.text,
            at=row.submitted_at,
            updated_at=row.updated_at,
            hidden_at=row.hidden_at,
            hidden_reason=row.hidden_reason if mine else None,
            mine=mine,
        )
        return Thread(post, replies[post.id])

    return ExchangePage(
        own=thread(own_row),
        threads=[thread(row) for row in rows],
        total=total,
        page=page,
        pages=pages,
        municipality=own_row.municipality,
        new_replies=new_replies,
    )


def mark_replies_seen(s: Session, learner: Learner, answer_id: int, now: dt.datetime | None = None) -> None:
    """The reader has been shown the replies to their answer up to `now` (the newest one shown; a reply written
    after the page read them was not shown and stays new): later ones are new."""
    s.execute(
        update(PracticeSubmission)
        .where(PracticeSubmission.id == answer_id, PracticeSubmission.user_id == learner.user_id)
        .values(replies_seen_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )

"""The exchange page: learners of one course context read each other's practice answers, reply to them (one
level: a reply belongs to an answer, never to a reply), may say which municipality they work for, and see the
replies to their own answer that are new since they last looked. An instructor can hide an answer or a reply
with a reason: its author still sees it, marked hidden with the reason; nobody else does.

Everything is read and written through the learner's own course context (`Learner.context_id`) and the course and
module of the page: an answer id from a form that belongs to another context, course or module is not found.
A fixed number of statements per page, whatever the number of answers and replies. Services take a session and
never commit; the views commit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from .course.model import Course, Module
from .db import upsert
from .models import ExchangeProfile, ExchangeReply, PracticeSubmission, User, utcnow
from .progress import Learner, normalize_text

REPLY_MAX = 2000  # characters, after normalising line breaks
MUNICIPALITY_MAX = 100
REASON_MAX = 500


class ExchangeError(Exception):
    """A refused exchange write; nothing was changed. `code` says why (views pick the words)."""

    code = "exchange_error"


class AnswerNotFound(ExchangeError):
    """No answer with this id on this page (another context, course or module, or none)."""

    code = "answer_not_found"


class ReplyNotFound(ExchangeError):
    code = "reply_not_found"


class NoOwnAnswer(ExchangeError):
    """Replies come from learners who have submitted their own answer (as reading the others' does)."""

    code = "no_own_answer"


class TextInvalid(ExchangeError):
    def __init__(self, code: Literal["empty", "too_long"], length: int, maximum: int) -> None:
        super().__init__(f"{code}: {length} characters, allowed 1..{maximum}")
        self.code = code
        self.length = length
        self.maximum = maximum


def checked_text(raw: str | None, maximum: int) -> str:
    """A reply or a reason: normalised, not empty, at most `maximum` characters (TextInvalid)."""
    clean = normalize_text(raw or "")
    if not clean:
        raise TextInvalid("empty", 0, maximum)
    if len(clean) > maximum:
        raise TextInvalid("too_long", len(clean), maximum)
    return clean


_SPACES = re.compile(r"\s+")


def checked_municipality(raw: str | None) -> str:
    """One line (runs of white space, line breaks included, become one space), 1..MUNICIPALITY_MAX characters."""
    clean = _SPACES.sub(" ", normalize_text(raw or "")).strip()
    if not clean:
        raise TextInvalid("empty", 0, MUNICIPALITY_MAX)
    if len(clean) > MUNICIPALITY_MAX:
        raise TextInvalid("too_long", len(clean), MUNICIPALITY_MAX)
    return clean


# --- Reading the page ---------------------------------------------------------------------------------------


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


def _where_page(learner: Learner, course: Course, module: Module) -> list[Any]:
    return [
        PracticeSubmission.context_id == learner.context_id,
        PracticeSubmission.course_id == course.id,
        PracticeSubmission.module_id == module.id,
    ]


def _visible_to(model: type[PracticeSubmission] | type[ExchangeReply], learner: Learner) -> Any:
    """Hidden posts are seen by their author only (the instructor's moderation page reads with `everything`)."""
    return or_(model.hidden_at.is_(None), model.user_id == learner.user_id)


def read_page(
    s: Session, learner: Learner, course: Course, module: Module, *, per_page: int, page: int = 1
) -> ExchangePage:
    """The reader's answer with its replies, a page of the others' answers with theirs, and the reader's
    municipality: four statements (two when the reader has no answer yet). Replies to the reader's answer written
    by others since `replies_seen_at` are marked new (`mark_replies_seen` records that they were shown)."""
    profile = aliased(ExchangeProfile, name="profile")
    answer_columns = (
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

    def answers_query() -> Any:
        return (
            select(*answer_columns)
            .join(User, User.id == PracticeSubmission.user_id)
            .outerjoin(
                profile,
                and_(profile.user_id == PracticeSubmission.user_id, profile.context_id == learner.context_id),
            )
            .where(*_where_page(learner, course, module))
        )

    own_row = s.execute(answers_query().where(PracticeSubmission.user_id == learner.user_id)).first()
    if own_row is None:
        own_profile = s.scalar(
            select(ExchangeProfile.municipality).where(
                ExchangeProfile.user_id == learner.user_id, ExchangeProfile.context_id == learner.context_id
            )
        )
        return ExchangePage(None, [], 0, 1, 1, own_profile, 0)
    others = and_(PracticeSubmission.user_id != learner.user_id, _visible_to(PracticeSubmission, learner))
    total = int(
        s.scalar(
            select(func.count(PracticeSubmission.id)).where(*_where_page(learner, course, module), others)
        )
        or 0
    )
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = s.execute(
        answers_query()
        .where(others)
        .order_by(PracticeSubmission.submitted_at.desc(), PracticeSubmission.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    answer_ids = [own_row.id, *(row.id for row in rows)]
    replies: dict[int, list[Post]] = {answer_id: [] for answer_id in answer_ids}
    seen = own_row.replies_seen_at
    reply_rows = s.execute(
        select(
            ExchangeReply.id,
            ExchangeReply.submission_id,
            ExchangeReply.user_id,
            User.given_name,
            User.name,
            profile.municipality,
            ExchangeReply.text,
            ExchangeReply.created_at,
            ExchangeReply.hidden_at,
            ExchangeReply.hidden_reason,
        )
        .join(User, User.id == ExchangeReply.user_id)
        .outerjoin(
            profile, and_(profile.user_id == ExchangeReply.user_id, profile.context_id == learner.context_id)
        )
        .where(
            ExchangeReply.submission_id.in_(answer_ids),
            ExchangeReply.context_id == learner.context_id,
            _visible_to(ExchangeReply, learner),
        )
        .order_by(ExchangeReply.created_at, ExchangeReply.id)
    ).all()
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
    """The reader has been shown the replies to their answer: later ones are new."""
    s.execute(
        update(PracticeSubmission)
        .where(PracticeSubmission.id == answer_id, PracticeSubmission.user_id == learner.user_id)
        .values(replies_seen_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


# --- Writing ----------------------------------------------------------------------------------------------


def _answer_on_page(s: Session, learner: Learner, course: Course, module: Module, answer_id: int) -> int:
    """The id of an answer the learner may reply to: on this page (context, course, module), visible to them."""
    if not 0 < answer_id < 2**63:
        raise AnswerNotFound(answer_id)
    found = s.scalar(
        select(PracticeSubmission.id).where(
            PracticeSubmission.id == answer_id,
            *_where_page(learner, course, module),
            _visible_to(PracticeSubmission, learner),
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
            *_where_page(learner, course, module), PracticeSubmission.user_id == learner.user_id
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


# --- The instructor's moderation ------------------------------------------------------------------------------

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
    profile = aliased(ExchangeProfile, name="profile")
    where = [
        PracticeSubmission.context_id == context_id,
        PracticeSubmission.course_id == course.id,
        PracticeSubmission.module_id == module.id,
    ]
    total = int(s.scalar(select(func.count(PracticeSubmission.id)).where(*where)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = s.execute(
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
        )
        .join(User, User.id == PracticeSubmission.user_id)
        .outerjoin(
            profile, and_(profile.user_id == PracticeSubmission.user_id, profile.context_id == context_id)
        )
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
    for r in s.execute(
        select(
            ExchangeReply.id,
            ExchangeReply.submission_id,
            ExchangeReply.user_id,
            User.given_name,
            User.name,
            profile.municipality,
            ExchangeReply.text,
            ExchangeReply.created_at,
            ExchangeReply.hidden_at,
            ExchangeReply.hidden_reason,
        )
        .join(User, User.id == ExchangeReply.user_id)
        .outerjoin(profile, and_(profile.user_id == ExchangeReply.user_id, profile.context_id == context_id))
        .where(ExchangeReply.submission_id.in_(list(threads)), ExchangeReply.context_id == context_id)
        .order_by(ExchangeReply.created_at, ExchangeReply.id)
    ):
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


__all__ = [
    "MUNICIPALITY_MAX",
    "REASON_MAX",
    "REPLY_MAX",
    "AnswerNotFound",
    "ExchangeError",
    "ExchangePage",
    "ModeratedThread",
    "NoOwnAnswer",
    "Post",
    "ReplyNotFound",
    "TextInvalid",
    "Thread",
    "add_reply",
    "checked_municipality",
    "checked_text",
    "mark_replies_seen",
    "moderation_page",
    "normalize_text",
    "read_page",
    "remove_municipality",
    "set_hidden",
    "set_municipality",
]

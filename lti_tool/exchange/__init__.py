"""The exchange page: learners of one course context read each other's practice answers, reply to them (one
level: a reply belongs to an answer, never to a reply), may say which municipality they work for, and see the
replies to their own answer that are new since they last looked. An instructor can hide an answer or a reply
with a reason: its author still sees it, marked hidden with the reason; nobody else does.

Everything is read and written through the learner's own course context (`Learner.context_id`) and the course and
module of the page: an answer id from a form that belongs to another context, course or module is not found.
A fixed number of statements per page, whatever the number of answers and replies. Services take a session and
never commit; the views commit.

- `page`: reading the page (answers, replies, which are new to the reader);
- `posts`: a learner's writes (a reply, their municipality);
- `moderation`: the instructor hides a post with a reason, or shows it again;
- `texts`: what a reply, a reason and a municipality may hold, and the errors of a refused write.
"""

from __future__ import annotations

from ..progress import normalize_text
from .moderation import ModeratedThread, PostKind, moderation_page, set_hidden
from .page import ExchangePage, Post, Thread, mark_replies_seen, read_page
from .posts import add_reply, remove_municipality, set_municipality
from .texts import (
    MUNICIPALITY_MAX,
    REASON_MAX,
    REPLY_MAX,
    AnswerNotFound,
    ExchangeError,
    NoOwnAnswer,
    ReplyNotFound,
    TextInvalid,
    checked_municipality,
    checked_text,
)

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
    "PostKind",
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

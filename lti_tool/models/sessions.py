"""What a launch leaves behind for the next requests: the tool session, and the short-lived store (nonces,
JWKS, sign-ins, drafts) used when Redis is not configured."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..legal.inventory import N_, TOOL, PersonalData, Retention, Subject, group, launch
from .base import LEARNER, OPERATOR, PARTICIPANTS, PK, Base, utcnow


class ToolSession(Base):
    """What a launch grants: carried by a token in the tool's own URLs (no third-party cookie needed).

    Only the SHA-256 of the token is stored, so a database dump does not hand out sessions.
    """

    __tablename__ = "tool_session"
    __data__ = PersonalData(
        N_("Your session after a launch"),
        PARTICIPANTS,
        (
            group(
                ("locale", "claims"),
                N_("your language and the launch's presentation settings and custom parameters"),
                N_("to show the pages in your language and to return you to the learning platform"),
                launch("launch_presentation", "custom", "deep_linking_settings"),
                (LEARNER,),
            ),
            group(
                (
                    "token_hash",
                    "message_type",
                    "is_instructor",
                    "course_id",
                    "module_id",
                    "created_at",
                    "expires_at",
                    "last_seen_at",
                ),
                N_(
                    "the session itself: a hash of its key, the course and module it opens, when it started and "
                    "when you last used it"
                ),
                N_("to keep you signed in on the tool's pages and to end the session on time"),
                TOOL,
                (LEARNER,),
            ),
        ),
        Retention.SESSION,
        keys=("id", "user_id", "context_id", "resource_link_id", "deployment_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    resource_link_id: Mapped[int | None] = mapped_column(ForeignKey("resource_link.id", ondelete="CASCADE"))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    message_type: Mapped[str] = mapped_column(String(40))
    is_instructor: Mapped[bool] = mapped_column(Boolean, default=False)
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str | None] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(10), default="de")
    # Claims the session needs later: launch_presentation, deep_linking_settings, custom.
    claims: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    # The last request of the session (recorded at most once a minute): it ends SESSION_IDLE_SECONDS later.
    last_seen_at: Mapped[dt.datetime | None]


class LaunchCache(Base):
    """Short-lived entries with their own expiry (used-up nonces, platform JWKS, access tokens, operator sign-ins
    and login throttles, practice drafts) when Redis is not configured."""

    __tablename__ = "launch_cache"
    __data__ = PersonalData(
        N_("Short-lived records (launch store)"),
        frozenset({Subject.PARTICIPANT, Subject.OPERATOR}),
        (
            group(
                ("key", "value", "expires_at"),
                N_(
                    "used-up launch numbers (nonces, as hashes); operators' sign-ins; failed operator sign-ins "
                    "counted per user name and network address (as hashes); a practice text you sent after your "
                    "session had ended"
                ),
                N_(
                    "to refuse a replayed launch, to keep operators signed in, to slow down password guessing, "
                    "and to offer you your practice text again at your next launch instead of losing it"
                ),
                TOOL,
                (LEARNER, OPERATOR),
            ),
        ),
        Retention.LAUNCH_STORE,
        keys=(),
    )

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)

"""The exchange page's own rows: replies to practice answers, and the municipality a learner chose to show.

The answers themselves are practice submissions (models/progress.py), hidden there by an instructor like a reply
here (`hidden_at`, `hidden_by`, `hidden_reason`): the author still sees a hidden post, with the reason, nobody
else does.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..legal.inventory import INSTRUCTOR_INPUT, N_, PERSON, TOOL, PersonalData, Retention, group
from .base import INSTRUCTOR, LEARNER, PARTICIPANTS, PEERS, PK, Base, utcnow


class ExchangeReply(Base):
    """A reply to a practice answer on the exchange page (one level: replies answer answers, not replies)."""

    __tablename__ = "exchange_reply"
    __data__ = PersonalData(
        N_("Your replies on the exchange page"),
        PARTICIPANTS,
        (
            group(
                ("course_id", "module_id", "text", "created_at"),
                N_("your replies to colleagues' answers on the exchange page, and when you wrote them"),
                N_("so that colleagues in the same LMS course can read your reply to their answer"),
                PERSON,
                (LEARNER, PEERS, INSTRUCTOR),
            ),
            group(
                ("hidden_at", "hidden_reason"),
                N_("whether an instructor hid your reply from the others, when and why"),
                N_(
                    "so that instructors can keep the exchange fair, and you see why a reply of yours is hidden"
                ),
                INSTRUCTOR_INPUT,
                (LEARNER, INSTRUCTOR),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "submission_id", "user_id", "context_id", "hidden_by"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    # The answer replied to; a reply goes with it.
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("practice_submission.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    hidden_at: Mapped[dt.datetime | None]
    hidden_by: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))
    hidden_reason: Mapped[str | None] = mapped_column(Text)


class ExchangeProfile(Base):
    """What a learner chose to show about themselves on the exchange pages of one LMS course: the municipality
    they work for (entered once, optional, removable: removing it deletes the row)."""

    __tablename__ = "exchange_profile"
    __table_args__ = (UniqueConstraint("user_id", "context_id"),)
    __data__ = PersonalData(
        N_("Your municipality on the exchange page"),
        PARTICIPANTS,
        (
            group(
                "municipality",
                N_("the municipality you work for, if you entered it (you can remove it at any time)"),
                N_("so that colleagues in the same LMS course see which municipality an answer comes from"),
                PERSON,
                (LEARNER, PEERS, INSTRUCTOR),
            ),
            group(
                "updated_at",
                N_("when you last entered it"),
                N_("to know how current it is"),
                TOOL,
                (LEARNER,),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "user_id", "context_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), index=True)
    municipality: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

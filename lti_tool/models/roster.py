"""The participant list as NRPS gives it, and the erasures that keep an erased person from coming back
through it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..legal.inventory import N_, OPERATOR_INPUT, TOOL, PersonalData, Retention, Subject, group, roster
from .base import INSTRUCTOR, OPERATOR, PARTICIPANTS, PK, Base, utcnow


class RosterEntry(Base):
    """A context member as NRPS lists it (also learners who never launched the tool)."""

    __tablename__ = "roster_entry"
    __table_args__ = (UniqueConstraint("context_id", "sub"),)
    __data__ = PersonalData(
        N_("The participant list of an LMS course"),
        frozenset({Subject.ROSTER_MEMBER}),
        (
            group(
                "sub",
                N_("the member's user id in the learning platform"),
                N_("to match the participant list with the people who opened the tool"),
                roster("user_id"),
                (INSTRUCTOR,),
            ),
            group(
                ("name", "email"),
                N_("the member's name and e-mail address, as far as the learning platform sends them"),
                N_("so that instructors see everyone enrolled, also those who have not opened the tool yet"),
                roster("name", "given_name", "family_name", "email"),
                (INSTRUCTOR,),
            ),
            group(
                ("roles", "is_learner", "status", "fetched_at"),
                N_("the member's roles and status in the course, and when the list was fetched"),
                N_("to list learners only, and to say how current the list is"),
                roster("roles", "status"),
                (INSTRUCTOR,),
            ),
        ),
        Retention.ROSTER,
        keys=("id", "context_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[list[Any]]
    is_learner: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="Active")
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ListedLearner(Base):
    """Someone the gradebook of a course context lists (a learner of its participant list, or someone who
    launched there as a learner; never someone who launched there as a teacher), with what the list shows of
    them: copied from their user row, membership and roster entry (`lti_tool.gradebook.listed`) where a launch,
    a roster refresh or a deletion changes those, so that a gradebook page reads its rows in the order it shows
    them instead of joining the participant list with the people who launched on every request."""

    __tablename__ = "listed_learner"
    __table_args__ = (
        UniqueConstraint("context_id", "sub"),
        Index("ix_listed_learner_by_name", "context_id", "sort_key", "sub"),
    )
    __data__ = PersonalData(
        N_("The participant list of an LMS course"),
        PARTICIPANTS | {Subject.ROSTER_MEMBER},
        (
            group(
                ("sub", "name", "email", "sort_key"),
                N_("the member's name and e-mail address, as far as the learning platform sends them"),
                N_("so that instructors see everyone enrolled, also those who have not opened the tool yet"),
                TOOL,
                (INSTRUCTOR,),
            ),
            group(
                ("roster_status", "last_launch_at", "updated_at"),
                N_("the member's roles and status in the course, and when the list was fetched"),
                N_("to list learners only, and to say how current the list is"),
                TOOL,
                (INSTRUCTOR,),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "context_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    # None: known from the participant list only (never launched in this context as a learner)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(255))  # the user's name, else the roster's
    email: Mapped[str | None] = mapped_column(String(255))  # the user's e-mail, else the roster's
    roster_status: Mapped[str | None] = mapped_column(String(20))  # None: not in the participant list
    # What sorting by name orders by: the name without case and accents; nameless people after everyone named.
    sort_key: Mapped[str] = mapped_column(String(300))
    last_launch_at: Mapped[dt.datetime | None]  # of the membership in this context
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Erasure(Base):
    """A person whose data was erased at their request, as a keyed hash of (issuer, client id, sub) and nothing
    else: a roster refresh does not bring their name back, a restore from an older backup can erase them again,
    and their grades are held if they come back (lti_tool/privacy/erasure.py)."""

    __tablename__ = "erasure"
    # Pseudonymous, not anonymous (GDPR Recital 26): the tool holds the key and recognises the person when their
    # platform sends the same user id again, which is the record's purpose. So it is declared and described.
    __data__ = PersonalData(
        N_("Record of a deletion on request"),
        frozenset({Subject.PARTICIPANT, Subject.ROSTER_MEMBER}),
        (
            group(
                ("subject", "key_id"),
                N_(
                    "a keyed hash (HMAC) of the learning platform and the person's user id there, whose key is not "
                    "in the database: not the user id itself, no name, no e-mail address"
                ),
                N_(
                    "so that the deletion holds: an update of the participant list does not store the person "
                    "again, the grades of a person who comes back do not overwrite those the learning platform "
                    "keeps, and a restore from an older backup deletes the person again"
                ),
                TOOL,
                (OPERATOR,),
            ),
            group(
                ("erased_at", "send_grades"),
                N_("when the data was deleted, and whether grades are sent if the person comes back"),
                N_("to apply the deletion in the order it was made, and to send or hold grades as decided"),
                OPERATOR_INPUT,
                (OPERATOR,),
            ),
        ),
        Retention.ERASURE,
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    # HMAC-SHA256 (hex) under a key derived from the key secret; `key_id` says which one.
    subject: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(16))
    erased_at: Mapped[dt.datetime]
    # If they come back: send their grades as for anyone else (True) or hold them (False, the default).
    send_grades: Mapped[bool] = mapped_column(Boolean, default=False)

"""Grades on their way to the LMS: line items, the grade outbox and the workers' heartbeats
(access tokens live in the launch store, `lti_tool/cache.py`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..legal.inventory import N_, TOOL, NoPersonalData, PersonalData, Retention, group
from .base import INSTRUCTOR, LMS, OPERATOR, PARTICIPANTS, PK, Base, utcnow


class LineItem(Base):
    """An AGS line item the tool knows: the activity's own (from the launch) or one per module."""

    __tablename__ = "line_item"
    __table_args__ = (
        UniqueConstraint("context_id", "url"),
        Index("ix_line_item_resource", "context_id", "resource_id"),
    )
    __data__ = NoPersonalData(N_("A grade column in an LMS course."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(1024))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    resource_link_id: Mapped[int | None] = mapped_column(ForeignKey("resource_link.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(String(255), default="")
    tag: Mapped[str | None] = mapped_column(String(255))
    score_maximum: Mapped[float] = mapped_column(Float, default=100.0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When the platform answered 404 for it (the teacher deleted the grade item): never created again
    # unless a teacher asks for it in the gradebook.
    removed_at: Mapped[dt.datetime | None]


class GradeOutbox(Base):
    """One score to deliver. Written in the transaction that changed the grade; sent by a worker.

    States (grading.outbox.RowState): pending -> sending (leased) -> sent | applied (409: platform had it) |
    failed | removed (404: grade item deleted) | superseded (a newer row for the same user, context and target
    exists; never sent). lti_tool/grading/__init__.py documents them.
    """

    __tablename__ = "grade_outbox"
    __table_args__ = (
        Index("ix_grade_outbox_due", "state", "next_attempt_at"),
        Index("ix_grade_outbox_target", "user_id", "context_id", "target"),
        Index("ix_grade_outbox_recent", "platform_id", "last_attempt_at"),
    )
    __data__ = PersonalData(
        N_("Grades sent to the learning platform"),
        PARTICIPANTS,
        (
            group(
                (
                    "target",
                    "course_id",
                    "module_id",
                    "lineitem_url",
                    "payload",
                    "score_timestamp",
                    "state",
                    "attempts",
                    "next_attempt_at",
                    "lease_until",
                    "claimed_by",
                    "last_status",
                    "last_error",
                    "created_at",
                    "sent_at",
                    "last_attempt_at",
                    "restamps",
                    "request_id",
                    "last_duration_ms",
                    "destination",
                ),
                N_(
                    "each grade for the learning platform (score, progress, a short comment, your user id) and "
                    "whether it arrived"
                ),
                N_(
                    "to deliver every grade reliably, also when the learning platform is down for a while, and "
                    "to show whether it arrived"
                ),
                TOOL,
                (LMS, INSTRUCTOR, OPERATOR),
            ),
        ),
        Retention.GRADE_HISTORY,
        keys=("id", "platform_id", "user_id", "context_id", "resource_link_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    resource_link_id: Mapped[int | None] = mapped_column(ForeignKey("resource_link.id", ondelete="SET NULL"))
    # Which grade of the learner this is, as a key: rows with the same (user, context, target) are the scores
    # of one grade over time (grading/outbox/targets.py). What it is for is in course_id, module_id and
    # destination; nothing parses the key.
    target: Mapped[str] = mapped_column(String(255))
    lineitem_url: Mapped[str | None] = mapped_column(String(1024))
    payload: Mapped[dict[str, Any]]
    score_timestamp: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[dt.datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    # The course and module the grade is for (module_id None: the course result), for gradebook queries.
    course_id: Mapped[str | None] = mapped_column(String(100))
    module_id: Mapped[str | None] = mapped_column(String(100))
    # Which line item the score goes to (grading.outbox.Destination): the activity's own ("link") or the tool's
    # per-module line item, found or created through the platform's container ("module_item").
    destination: Mapped[str] = mapped_column(String(12), default="link", server_default="link")
    # When the last delivery attempt ended (a row in flight keeps the previous one's; its lease: lease_until).
    last_attempt_at: Mapped[dt.datetime | None]
    # How often the timestamp was renewed after a 409 that our own earlier delivery caused (at most once).
    restamps: Mapped[int] = mapped_column(Integer, default=0)
    # The id of the request that queued it (X-Request-ID): the worker's lines about this row carry it.
    request_id: Mapped[str | None] = mapped_column(String(64))
    # How long the last delivery attempt took (the platform's answer, line item look-up included), for the
    # operator's list of recent deliveries.
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeat"
    __data__ = NoPersonalData(N_("Which grade workers of the tool are running."))

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered: Mapped[int] = mapped_column(Integer, default=0)

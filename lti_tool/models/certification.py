"""Certification: certificates of participation, their revocations, and the certification office's register
of completions with its audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..legal.inventory import N_, OFFICE_INPUT, TOOL, PersonalData, Retention, Subject, group, launch
from .base import INSTRUCTOR, LEARNER, OFFICE, PARTICIPANTS, PK, PUBLIC, Base, utcnow


class Certificate(Base):
    __tablename__ = "certificate"
    __table_args__ = (UniqueConstraint("user_id", "context_id", "course_id"),)
    __data__ = PersonalData(
        N_("Your certificate of participation"),
        PARTICIPANTS,
        (
            group(
                "holder_name",
                N_("your name as printed on the certificate"),
                N_("to name the holder on the certificate and on its check page"),
                launch("name", "given_name", "family_name"),
                (LEARNER, INSTRUCTOR, OFFICE, PUBLIC),
            ),
            group(
                (
                    "code",
                    "course_id",
                    "course_title",
                    "issuer_name",
                    "issuer_url",
                    "modules",
                    "started_at",
                    "completed_at",
                    "workload_hours",
                    "teaching_units",
                    "issued_at",
                ),
                N_("the certificate's code, course, modules with their dates, course period and workload"),
                N_("to issue the certificate of participation and let anyone who holds its code check it"),
                TOOL,
                (LEARNER, INSTRUCTOR, OFFICE, PUBLIC),
            ),
            group(
                ("revoked_at", "revoked_by", "revoked_reason"),
                N_(
                    "whether the certification office revoked the certificate: when, by which of its accounts, why"
                ),
                N_("so that a revoked certificate no longer counts and its check page says so"),
                OFFICE_INPUT,
                (LEARNER, OFFICE, PUBLIC),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "user_id", "context_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    course_id: Mapped[str] = mapped_column(String(100))
    # Frozen at issue time: what the certificate says, and what /verify shows.
    holder_name: Mapped[str] = mapped_column(String(255))
    course_title: Mapped[str] = mapped_column(String(255))
    issuer_name: Mapped[str] = mapped_column(String(255))
    issuer_url: Mapped[str | None] = mapped_column(String(1024))
    modules: Mapped[list[Any]]
    started_at: Mapped[
        dt.datetime | None
    ]  # the first launch into the course; None on certificates before 0008
    completed_at: Mapped[dt.datetime]
    # The course's workload (course.toml [workload]); None when the course states none.
    workload_hours: Mapped[float | None] = mapped_column(Float)
    teaching_units: Mapped[int | None]
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Revocation by the certification office (lti_tool/register): when, by which account, why. Nothing is deleted;
    # reinstating clears these three, and every change is kept in CertificateEvent.
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    revoked_reason: Mapped[str | None] = mapped_column(Text)


class CertificateEvent(Base):
    """A revocation or reinstatement of a certificate: who, when, why (the office's record; never edited)."""

    __tablename__ = "certificate_event"
    __data__ = PersonalData(
        N_("Revocations of certificates"),
        frozenset({Subject.PARTICIPANT, Subject.OPERATOR}),
        (
            group(
                ("action", "account", "reason", "at"),
                N_(
                    "each revocation and reinstatement of a certificate: when, by which account of the office, why"
                ),
                N_("the certification office's record of what it decided about a certificate, and why"),
                OFFICE_INPUT,
                (OFFICE,),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "certificate_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # register.service.CertificateAction
    account: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RegisterEntry(Base):
    """One completion of a course in the certification register, written in the transaction that completed it.

    The office's own record (lti_tool/register): it stays when the learning data changes, goes with the learner
    (`scripts/flask learner delete`) and after REGISTER_RETENTION_DAYS. Names and e-mail are not copied here: the
    register shows the certificate's frozen name, else the user's as the LMS last sent it.
    """

    __tablename__ = "register_entry"
    __table_args__ = (
        UniqueConstraint("user_id", "context_id", "course_id"),
        Index("ix_register_entry_completed", "completed_at", "id"),
    )
    __data__ = PersonalData(
        N_("Your entry in the certification register"),
        PARTICIPANTS,
        (
            group(
                ("course_id", "completed_at", "created_at"),
                N_(
                    "that and when you completed the course, in which LMS course and activity (the register shows "
                    "it with your name and e-mail address and the certificate)"
                ),
                N_(
                    "so that the NaMa NRW certification office sees, checks and exports completions from every "
                    "learning platform for the certification"
                ),
                TOOL,
                (OFFICE,),
            ),
        ),
        Retention.REGISTER,
        keys=("id", "user_id", "platform_id", "context_id", "resource_link_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"), index=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[str] = mapped_column(String(100))
    # The activity (Moodle resource link) in which the course was completed; None when not known (before 0009).
    resource_link_id: Mapped[int | None] = mapped_column(ForeignKey("resource_link.id", ondelete="SET NULL"))
    completed_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RegisterAudit(Base):
    """Every view of a register record, every export, revocation and reinstatement, with the account's name.

    No learner's name is written here: the subject is the certificate code or the entry number (cleared when the
    learner's data is deleted), the detail of an export the filters it used.
    """

    __tablename__ = "register_audit"
    __data__ = PersonalData(
        N_("The certification register's audit trail"),
        frozenset({Subject.PARTICIPANT, Subject.OPERATOR}),
        (
            group(
                ("at", "account", "action", "subject", "detail"),
                N_(
                    "every view of a register record, every export, revocation and reinstatement: when, by which "
                    "account of the office, the certificate code or entry concerned, an export's filters"
                ),
                N_("an audit trail the certification office can show"),
                TOOL,
                (OFFICE,),
            ),
        ),
        Retention.REGISTER,
        keys=("id", "entry_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    account: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))  # register.audit.AuditAction
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("register_entry.id", ondelete="SET NULL"), index=True
    )
    subject: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(String(1000), default="")

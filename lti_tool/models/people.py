"""People and places as the platform describes them: users, LMS courses (contexts), activities (resource
links), memberships, and which activities a user opened."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from ..legal.inventory import N_, TOOL, NoPersonalData, PersonalData, Retention, group, launch
from .base import INSTRUCTOR, LEARNER, LMS, OFFICE, OPERATOR, PARTICIPANTS, PEERS, PK, Base, utcnow


class User(Base):
    __tablename__ = "lti_user"
    __table_args__ = (UniqueConstraint("platform_id", "sub"),)
    __data__ = PersonalData(
        N_("Your account with the course tool"),
        PARTICIPANTS,
        (
            group(
                "sub",
                N_("your user id in the learning platform (a number or code, not your name)"),
                N_("to recognise you at your next launch and to send your grades to the right person"),
                launch("sub"),
                (INSTRUCTOR, OFFICE, LMS, OPERATOR),
            ),
            group(
                ("name", "given_name", "family_name"),
                N_("your name, as far as the learning platform sends it"),
                N_(
                    "so that instructors know whose progress they see, colleagues see who wrote an answer on "
                    "the exchange page (first name), and the certificate names you"
                ),
                launch("name", "given_name", "family_name"),
                (LEARNER, PEERS, INSTRUCTOR, OFFICE),
            ),
            group(
                "email",
                N_("your e-mail address, as far as the learning platform sends it"),
                N_("so that instructors and the certification office can tell people of the same name apart"),
                launch("email"),
                (INSTRUCTOR, OFFICE),
            ),
            group(
                ("created_at", "last_launch_at"),
                N_("when you first and last opened the tool"),
                N_("to show instructors when you last worked in the course"),
                TOOL,
                (INSTRUCTOR,),
            ),
            group(
                "grades_held",
                N_("whether your grades are held back because you came back after your data was deleted"),
                N_(
                    "so that a fresh start after a deletion does not overwrite the grades your learning platform "
                    "holds, until the operator allows sending them"
                ),
                TOOL,
                (OPERATOR,),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "platform_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    # Only what the platform sends; never asked for otherwise.
    name: Mapped[str | None] = mapped_column(String(255))
    given_name: Mapped[str | None] = mapped_column(String(255))
    family_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_launch_at: Mapped[dt.datetime | None]
    # Came back after their data was erased (an `Erasure` names them): the tool sends no grades for them, so a
    # fresh start does not overwrite the grades the LMS holds, until the operator allows it
    # (`scripts/flask learner send-grades`).
    grades_held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def real_name(self) -> str | None:
        """The name as the platform sent it (`name`, else given and family name); None when it sent none
        (Moodle with its privacy settings off sends only `sub`, its user id, which is no name to greet anyone by)."""
        full = " ".join(p for p in (self.given_name, self.family_name) if p)
        return self.name or full or None


class Context(Base):
    """An LMS course. LTI scopes context ids to the deployment."""

    __tablename__ = "context"
    __table_args__ = (UniqueConstraint("deployment_id", "context_id"),)
    __data__ = NoPersonalData(N_("An LMS course: its id, title and service addresses."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    label: Mapped[str] = mapped_column(String(255), default="")
    # NRPS membership URL and AGS line-items URL as last sent by the platform.
    nrps_url: Mapped[str | None] = mapped_column(String(1024))
    lineitems_url: Mapped[str | None] = mapped_column(String(1024))
    ags_scopes: Mapped[list[Any] | None]
    roster_fetched_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ResourceLink(Base):
    """A placement of the tool in a course (a Moodle activity)."""

    __tablename__ = "resource_link"
    __table_args__ = (UniqueConstraint("deployment_id", "resource_link_id"),)
    __data__ = NoPersonalData(N_("An activity in an LMS course that opens the tool."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), index=True)
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    # Which course (content folder) and, optionally, which single module this activity delivers.
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str | None] = mapped_column(String(100))
    # The activity's own grade item (AGS `lineitem` claim): drives Moodle's activity completion. None: the
    # platform sent no `lineitem` (Moodle: "Accept grades from the tool" is off), so no grade goes there.
    lineitem_url: Mapped[str | None] = mapped_column(String(1024))
    # The teacher asked for one grade item per module besides the activity's own (custom parameter
    # `module_grade_items=true`): the tool finds or creates them through the line-items container.
    module_grade_items: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "context_id"),)
    __data__ = PersonalData(
        N_("Your membership in an LMS course"),
        PARTICIPANTS,
        (
            group(
                ("roles", "is_instructor"),
                N_("your roles in the LMS course (learner, teacher)"),
                N_(
                    "to show learners the course and instructors the gradebook, and to send grades for learners "
                    "only"
                ),
                launch("roles"),
                (INSTRUCTOR,),
            ),
            group(
                ("created_at", "last_launch_at"),
                N_("when you first and last opened the tool in this course"),
                N_("to show instructors when you last worked in the course"),
                TOOL,
                (INSTRUCTOR,),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "user_id", "context_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), index=True)
    roles: Mapped[list[Any]]
    is_instructor: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_launch_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LinkLaunch(Base):
    """Which resource links a user has launched: a course result goes only to the links its learner opened."""

    __tablename__ = "link_launch"
    __table_args__ = (UniqueConstraint("resource_link_id", "user_id"),)
    __data__ = PersonalData(
        N_("The activities you opened"),
        PARTICIPANTS,
        (
            group(
                ("first_launch_at", "last_launch_at"),
                N_("which activities of the LMS course you opened, and when"),
                N_("to send the course result only to the grade items of activities you opened"),
                TOOL,
                (LMS,),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "resource_link_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(ForeignKey("resource_link.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    first_launch_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_launch_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

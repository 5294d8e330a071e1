"""All tables, typed (SQLAlchemy 2 declarative).

Multi-tenant by construction: every row below Platform hangs off a Platform and, where LTI scopes an
identifier to a deployment (context, resource link), off a Deployment. A context's data is reached
only through the context row a launch resolved, never by a bare LTI id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .legal.inventory import (
    INSTRUCTOR_INPUT,
    OFFICE_INPUT,
    OPERATOR_INPUT,
    PERSON,
    TOOL,
    Audience,
    Declaration,
    NoPersonalData,
    PersonalData,
    Retention,
    Subject,
    group,
    launch,
    roster,
)
from .legal.inventory import N_ as N_

# Who sees what (lti_tool/legal/inventory.py): these names keep the declarations below short.
LEARNER, PEERS, INSTRUCTOR = Audience.LEARNER, Audience.PEERS, Audience.INSTRUCTOR
OFFICE, PUBLIC, LMS, OPERATOR = (
    Audience.CERTIFICATION_OFFICE,
    Audience.PUBLIC_WITH_CODE,
    Audience.LMS,
    Audience.OPERATOR,
)
PARTICIPANTS = frozenset({Subject.PARTICIPANT})


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone, so store naive UTC there)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


PK = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    # What personal data the table holds and why (lti_tool/legal/inventory.py; the privacy notice reads it).
    __data__: ClassVar[Declaration]

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


# --- LTI registration -------------------------------------------------------------------------


class Platform(Base):
    """An LMS registration: one issuer + client_id pair (an issuer may register the tool many times)."""

    __tablename__ = "platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)
    __data__ = NoPersonalData(N_("An LMS registration: addresses and identifiers of a learning platform."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    jwks_url: Mapped[str] = mapped_column(String(1024))
    # Audience for client assertions when the token endpoint wants something else than its URL.
    auth_audience: Mapped[str | None] = mapped_column(String(1024))
    # How it arrived: "cli", "dynamic", "demo".
    registered_via: Mapped[str] = mapped_column(String(20), default="cli")
    # Platform's openid-configuration as received during dynamic registration (for the operator).
    platform_config: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(back_populates="platform", lazy="raise")


class Deployment(Base):
    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)
    __data__ = NoPersonalData(N_("A deployment of the tool in a learning platform."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[dt.datetime | None]

    platform: Mapped[Platform] = relationship(back_populates="deployments", lazy="raise")


class RegistrationLink(Base):
    """One-time URL an operator hands to an LMS admin for LTI Dynamic Registration."""

    __tablename__ = "registration_link"
    __data__ = NoPersonalData(N_("A one-time registration link (only its hash) with the operator's note."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id", ondelete="SET NULL"))
    # Registrations started with the link (a failed one gives the link back until REGISTRATION_LINK_MAX_ATTEMPTS).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ToolKey(Base):
    """The tool's RSA signing keys. Lifecycle: next (published) -> current (signs) -> retired."""

    __tablename__ = "tool_key"
    __data__ = NoPersonalData(N_("The tool's signing keys."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    # The PEM private key, encrypted (lti_tool/lti/keystore.py); "" once destroyed after retirement.
    private_key_sealed: Mapped[str] = mapped_column(Text, default="", server_default="")
    public_jwk: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(10), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[dt.datetime | None]
    retired_at: Mapped[dt.datetime | None]


# --- People and places as the platform describes them -----------------------------------------


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
    """Short-lived entries with their own expiry (used-up nonces, platform JWKS, operator sign-ins and login
    throttles, practice drafts) when Redis is not configured."""

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


# --- Learning progress --------------------------------------------------------------------------


class LessonVisit(Base):
    __tablename__ = "lesson_visit"
    __table_args__ = (UniqueConstraint("user_id", "context_id", "course_id", "module_id", "lesson_id"),)
    __data__ = PersonalData(
        N_("Lessons you opened"),
        PARTICIPANTS,
        (
            group(
                ("course_id", "module_id", "lesson_id", "first_seen_at"),
                N_("which lessons you opened, and when first"),
                N_("to show your progress and to tell when a module is complete"),
                PERSON,
                (LEARNER, INSTRUCTOR),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "user_id", "context_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    lesson_id: Mapped[str] = mapped_column(String(100))
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class QuizAttempt(Base):
    """An attempt is created when the quiz is shown (it fixes the shuffled order) and closed once.

    Closing is a conditional UPDATE on `submitted_at IS NULL`, so a double-submitted form records one attempt.
    """

    __tablename__ = "quiz_attempt"
    __table_args__ = (Index("ix_quiz_attempt_owner", "user_id", "context_id", "course_id", "module_id"),)
    __data__ = PersonalData(
        N_("Your quiz attempts"),
        PARTICIPANTS,
        (
            group(
                (
                    "public_id",
                    "course_id",
                    "module_id",
                    "layout",
                    "question_ids",
                    "draw_seed",
                    "question_count",
                    "started_at",
                ),
                N_("each attempt: which questions were asked, in which order"),
                N_("to score your answers against what you were shown"),
                TOOL,
                (LEARNER, INSTRUCTOR),
            ),
            group(
                ("answers", "submitted_at"),
                N_("your answers and when you submitted them"),
                N_("to score the quiz, explain each answer and show instructors the attempt"),
                PERSON,
                (LEARNER, INSTRUCTOR),
            ),
            group(
                ("correct_count", "score", "passed"),
                N_("the result of each attempt"),
                N_("the best attempt counts for completion and for the grade sent to the learning platform"),
                TOOL,
                (LEARNER, INSTRUCTOR, LMS),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "user_id", "context_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    # question id -> option ids in the order shown
    layout: Mapped[dict[str, Any]]
    # The questions this attempt asks, in the order shown (course/pools.py drew them with `draw_seed`).
    # NULL: an attempt from before pools, which asked every question of the quiz.
    question_ids: Mapped[list[Any] | None]
    draw_seed: Mapped[int | None] = mapped_column(BigInteger)
    answers: Mapped[dict[str, Any] | None]
    correct_count: Mapped[int | None] = mapped_column(Integer)
    question_count: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)  # 0.0 .. 1.0
    passed: Mapped[bool | None] = mapped_column(Boolean)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None]


class PracticeSubmission(Base):
    __tablename__ = "practice_submission"
    __table_args__ = (UniqueConstraint("user_id", "context_id", "course_id", "module_id"),)
    __data__ = PersonalData(
        N_("Your practice tasks"),
        PARTICIPANTS,
        (
            group(
                ("course_id", "module_id", "text", "submitted_at", "updated_at"),
                N_("your answer to a practice task, and when you submitted and changed it"),
                N_(
                    "so that instructors can review it and colleagues in the same LMS course can read it on the "
                    "exchange page"
                ),
                PERSON,
                (LEARNER, PEERS, INSTRUCTOR),
            ),
            group(
                ("reviewed_at", "feedback"),
                N_("the instructor's feedback and when it was given"),
                N_("so that you can read the review of your answer"),
                INSTRUCTOR_INPUT,
                (LEARNER, INSTRUCTOR),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "user_id", "context_id", "reviewer_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[dt.datetime | None]
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))
    feedback: Mapped[str | None] = mapped_column(Text)


class ModuleProgress(Base):
    """Derived per-module state, kept up to date by `progress` in the same transaction as its causes."""

    __tablename__ = "module_progress"
    __table_args__ = (UniqueConstraint("user_id", "context_id", "course_id", "module_id"),)
    __data__ = PersonalData(
        N_("Your progress per module"),
        PARTICIPANTS,
        (
            group(
                (
                    "course_id",
                    "module_id",
                    "lessons_seen",
                    "attempts",
                    "best_score",
                    "quiz_passed_at",
                    "practice_submitted_at",
                    "started_at",
                    "completed_at",
                    "updated_at",
                ),
                N_(
                    "lessons seen, quiz attempts and best score, practice task submitted, module started and "
                    "completed"
                ),
                N_(
                    "to show your progress, to decide completion and to compute the grade for the learning "
                    "platform"
                ),
                TOOL,
                (LEARNER, INSTRUCTOR, LMS),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "user_id", "context_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    lessons_seen: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    best_score: Mapped[float | None] = mapped_column(Float)
    quiz_passed_at: Mapped[dt.datetime | None]
    practice_submitted_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CourseProgress(Base):
    __tablename__ = "course_progress"
    __table_args__ = (UniqueConstraint("user_id", "context_id", "course_id"),)
    __data__ = PersonalData(
        N_("Your progress in the course"),
        PARTICIPANTS,
        (
            group(
                ("course_id", "last_module_id", "last_location", "started_at", "completed_at", "updated_at"),
                N_("where you last were in the course, when you started and completed it"),
                N_("to take you back where you left off (also on another device) and to date the completion"),
                TOOL,
                (LEARNER, INSTRUCTOR, OFFICE),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "user_id", "context_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[str] = mapped_column(String(100))
    last_module_id: Mapped[str | None] = mapped_column(String(100))
    last_location: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


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


# --- Grades on their way to the LMS -------------------------------------------------------------


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

    States: pending -> sending (leased) -> sent | applied (409: platform had it) | failed | superseded
    (a newer row for the same user, context and target exists; never sent). lti_tool/grading documents them.
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
        Retention.UNTIL_DELETED,
        keys=("id", "platform_id", "user_id", "context_id", "resource_link_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    resource_link_id: Mapped[int | None] = mapped_column(ForeignKey("resource_link.id", ondelete="SET NULL"))
    # What the grade is for: "course:<course_id>" or "module:<course_id>/<module_id>" + where it goes.
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
    # When the last delivery attempt ended (while one is in flight: when its lease ends).
    last_attempt_at: Mapped[dt.datetime | None]
    # How often the timestamp was renewed after a 409 that our own earlier delivery caused (at most once).
    restamps: Mapped[int] = mapped_column(Integer, default=0)
    # The id of the request that queued it (X-Request-ID): the worker's lines about this row carry it.
    request_id: Mapped[str | None] = mapped_column(String(64))
    # How long the last delivery attempt took (the platform's answer, line item look-up included), for the
    # operator's list of recent deliveries.
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)


class AccessToken(Base):
    """OAuth2 access tokens per platform and scope set, shared by every process (unless Redis holds them)."""

    __tablename__ = "access_token"
    __table_args__ = (UniqueConstraint("platform_id", "scope_key"),)
    __data__ = NoPersonalData(N_("Access tokens the learning platforms issued to the tool."))

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    scope_key: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime]


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeat"
    __data__ = NoPersonalData(N_("Which grade workers of the tool are running."))

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered: Mapped[int] = mapped_column(Integer, default=0)


# --- Roster and operators ---------------------------------------------------------------------


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


class Erasure(Base):
    """A person whose data was erased at their request, as a keyed hash of (issuer, client id, sub) and nothing
    else: a roster refresh does not bring their name back, a restore from an older backup can erase them again,
    and their grades are held if they come back (lti_tool/privacy/erasure.py)."""

    __tablename__ = "erasure"
    __data__ = NoPersonalData(
        N_(
            "What a deletion on request leaves: a keyed hash (HMAC) of the platform and the user id, whose key is "
            "not in the database, and the time; it names no one and only lets the tool recognise that user id "
            "again."
        )
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    # HMAC-SHA256 (hex) under a key derived from the key secret; `key_id` says which one.
    subject: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(16))
    erased_at: Mapped[dt.datetime]
    # If they come back: send their grades as for anyone else (True) or hold them (False, the default).
    send_grades: Mapped[bool] = mapped_column(Boolean, default=False)


class Operator(Base):
    """An account of the operator area; `role` (admin.accounts.Role) decides which pages it opens."""

    __tablename__ = "operator"
    __data__ = PersonalData(
        N_("Accounts of the operator area"),
        frozenset({Subject.OPERATOR}),
        (
            group(
                ("username", "role", "password_hash"),
                N_("user name, role (operator or certification office) and password (stored only as a hash)"),
                N_("to sign in to the operator area or the certification register"),
                OPERATOR_INPUT,
                (OPERATOR,),
            ),
            group(
                ("created_at", "last_login_at"),
                N_("when the account was made and last signed in"),
                N_("so that operators can see unused accounts"),
                TOOL,
                (OPERATOR,),
            ),
        ),
        Retention.OPERATOR_ACCOUNT,
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="operator", server_default="operator")
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

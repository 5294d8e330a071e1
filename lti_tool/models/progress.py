"""Learning progress: the source rows (lessons seen, quiz attempts, practice texts) and the derived per-module
and per-course rows `lti_tool.progress` keeps up to date in the same transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..legal.inventory import (
    INSTRUCTOR_INPUT,
    N_,
    PERSON,
    TOOL,
    PersonalData,
    Retention,
    group,
)
from .base import INSTRUCTOR, LEARNER, LMS, OFFICE, PARTICIPANTS, PEERS, PK, Base, utcnow


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

"""Learning progress: the source rows (lessons seen, quiz attempts, practice texts) and the derived per-module
and per-course rows `lti_tool.progress` keeps up to date in the same transaction."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..legal.inventory import INSTRUCTOR_INPUT, N_, PERSON, TOOL, PersonalData, Retention, group
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
                ("reviewed_at", "revision_requested_at", "feedback"),
                N_(
                    "the instructor's latest feedback, when your answer was accepted, and whether you were asked "
                    "to revise it"
                ),
                N_("so that you can read the review of your answer and revise it when asked"),
                INSTRUCTOR_INPUT,
                (LEARNER, INSTRUCTOR),
            ),
            group(
                ("hidden_at", "hidden_reason"),
                N_(
                    "whether an instructor hid your answer from the others on the exchange page, when and why"
                ),
                N_("so that instructors can keep the exchange fair, and you see why your answer is hidden"),
                INSTRUCTOR_INPUT,
                (LEARNER, INSTRUCTOR),
            ),
            group(
                "replies_seen_at",
                N_("when you last read the replies to your answer"),
                N_("to mark the replies that are new to you"),
                TOOL,
                (LEARNER,),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "user_id", "context_id", "reviewer_id", "hidden_by"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When an instructor accepted the answer (the text is read-only from then on and a grade waiting for the
    # review is final); None while it waits for a review or for the learner's revision.
    reviewed_at: Mapped[dt.datetime | None]
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))
    # The latest feedback (every round's: PracticeReviewRound).
    feedback: Mapped[str | None] = mapped_column(Text)
    # An instructor asked for a revision and the learner has not saved a new version since (the text is open).
    revision_requested_at: Mapped[dt.datetime | None]
    # Hidden from the other learners on the exchange page by an instructor (the author still sees it, and why).
    hidden_at: Mapped[dt.datetime | None]
    hidden_by: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    # When the author last read the replies to it (later replies are marked new).
    replies_seen_at: Mapped[dt.datetime | None]


class ReviewDecision(StrEnum):
    """What an instructor decided in one review round of a practice answer."""

    ACCEPTED = "accepted"  # the answer is accepted: read-only, a grade waiting for the review is final
    REVISION = "revision"  # please revise: the text opens again for the learner


class PracticeReviewRound(Base):
    """One round of the review dialogue on a practice answer: the text version the instructor read, the decision,
    the feedback, who and when. Never changed; a later round (also a changed feedback after acceptance) is a new
    row, so the history stays as both sides saw it."""

    __tablename__ = "practice_review_round"
    __table_args__ = (UniqueConstraint("submission_id", "number"),)
    __data__ = PersonalData(
        N_("The review rounds of your practice tasks"),
        PARTICIPANTS,
        (
            group(
                ("course_id", "module_id", "number", "text", "text_updated_at"),
                N_("each version of your answer that an instructor reviewed"),
                N_("so that you and your instructors can follow the review from round to round"),
                PERSON,
                (LEARNER, INSTRUCTOR),
            ),
            group(
                ("decision", "feedback", "reviewed_at"),
                N_("the instructor's decision (accepted or please revise), feedback and when it was given"),
                N_("so that you can read every review of your answer and revise it when asked"),
                INSTRUCTOR_INPUT,
                (LEARNER, INSTRUCTOR),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "submission_id", "user_id", "context_id", "reviewer_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("practice_submission.id", ondelete="CASCADE"), index=True
    )
    # The learner whose answer it is (the submission's user), so that export and deletion find the rounds.
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … per submission
    decision: Mapped[str] = mapped_column(String(12))  # ReviewDecision
    text: Mapped[str] = mapped_column(Text)  # the learner's text as the instructor read it
    text_updated_at: Mapped[dt.datetime]  # when that version was saved
    feedback: Mapped[str] = mapped_column(Text)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


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


class LearnerSummary(Base):
    """One learner's standing in one course context, derived from the rows above and the grade outbox and kept
    in the transaction that changes them (`lti_tool.gradebook.summary`), so that the gradebook's pages, filter
    counts and sorting read one row per learner instead of aggregating every progress row of the context.
    `flask gradebook rebuild-summary` recomputes it from the source rows. Whether a grade failed is also written
    where the grade outbox changes it (a new grade queued, a delivery failed)."""

    __tablename__ = "learner_summary"
    __table_args__ = (
        UniqueConstraint("user_id", "context_id", "course_id"),
        Index("ix_learner_summary_context", "context_id", "course_id"),
    )
    __data__ = PersonalData(
        N_("Your progress at a glance, for your teachers"),
        PARTICIPANTS,
        (
            group(
                (
                    "course_id",
                    "started",
                    "modules_done",
                    "lessons_seen",
                    "completed_at",
                    "last_activity",
                    "review_waiting",
                    "grade",
                    "delivery_failed",
                    "updated_at",
                ),
                N_(
                    "a summary of your progress (modules completed, lessons read, completion, last activity, "
                    "practice tasks waiting for review, the course grade sent to the learning platform and whether a "
                    "grade failed to arrive)"
                ),
                N_("to show your teachers' gradebook quickly, also in large courses"),
                TOOL,
                (INSTRUCTOR,),
            ),
        ),
        Retention.UNTIL_DELETED,
        keys=("id", "user_id", "context_id"),
    )

    id: Mapped[int] = mapped_column(PK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(ForeignKey("context.id", ondelete="CASCADE"))
    course_id: Mapped[str] = mapped_column(String(100))
    started: Mapped[bool] = mapped_column(Boolean, default=False)
    modules_done: Mapped[int] = mapped_column(Integer, default=0)
    lessons_seen: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[dt.datetime | None]
    last_activity: Mapped[dt.datetime | None]
    review_waiting: Mapped[int] = mapped_column(Integer, default=0)
    grade: Mapped[float | None] = mapped_column(Float)  # the course result's value in its newest grade row
    delivery_failed: Mapped[bool] = mapped_column(Boolean, default=False)  # a newest grade row failed
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

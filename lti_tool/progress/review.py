"""The review of a practice answer as a dialogue: an instructor accepts it or asks for a revision, with feedback
either way; the learner's next save after a revision request sends it back for review. Every round is a
`PracticeReviewRound` (the text read, decision, feedback, who, when), never changed afterwards.

States of an answer (columns of `PracticeSubmission`): waiting for review (`reviewed_at` and
`revision_requested_at` both NULL), waiting for the learner's revision (`revision_requested_at` set), accepted
(`reviewed_at` set: read-only, and a grade that waits for the review is final). `waiting_for_review()` and
`waiting_for_revision()` are those states as WHERE clauses, for every list and count that needs them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from ..course.model import Course, Module
from ..models import PracticeReviewRound, PracticeSubmission, ReviewDecision, User, utcnow
from .learner import Learner, PracticeAlreadyAccepted, PracticeChanged, PracticeNotFound
from .practice import get_practice, normalize_text
from .writes import ProgressUpdate, lock_learner, refresh_progress


def waiting_for_review() -> Any:
    """WHERE for practice answers that wait for an instructor (submitted, not accepted, no revision pending)."""
    return and_(PracticeSubmission.reviewed_at.is_(None), PracticeSubmission.revision_requested_at.is_(None))


def waiting_for_revision() -> Any:
    """WHERE for practice answers an instructor asked to revise, not saved again since."""
    return and_(
        PracticeSubmission.reviewed_at.is_(None), PracticeSubmission.revision_requested_at.is_not(None)
    )


def practice_version(submission: PracticeSubmission) -> str:
    """Which version of the text a review form was opened on (its last save time)."""
    return submission.updated_at.isoformat()


def review_practice(
    s: Session,
    learner: Learner,
    course: Course,
    module: Module,
    *,
    reviewer_id: int,
    feedback: str,
    decision: ReviewDecision = ReviewDecision.ACCEPTED,
    version: str | None = None,
) -> ProgressUpdate:
    """One round of an instructor's review, kept as a `PracticeReviewRound` and mirrored on the submission
    (latest feedback, state).

    ACCEPTED: the text is read-only from now on; a grade waiting for the review becomes final (the grades are
    queued: the returned update). Accepting again records a changed feedback as a new round; the first acceptance
    time stays. REVISION: the text opens again for the learner, whose next save makes it wait for a review
    again; the grade stays Pending and its comment now says a revision was asked for. Refused: no submission
    (PracticeNotFound), a `version` that is not the text's current one (PracticeChanged: the learner saved since
    the page was opened), a revision of an accepted answer (PracticeAlreadyAccepted).
    """
    now = utcnow()
    lock_learner(s, learner, course.id)
    existing = get_practice(s, learner, course, module)
    if existing is None:
        raise PracticeNotFound(module.id)
    if version is not None and practice_version(existing) != version:
        raise PracticeChanged(module.id)
    if decision == ReviewDecision.REVISION and existing.reviewed_at is not None:
        raise PracticeAlreadyAccepted(module.id)
    clean = normalize_text(feedback)
    rounds = s.scalar(
        select(func.count(PracticeReviewRound.id)).where(PracticeReviewRound.submission_id == existing.id)
    )
    s.add(
        PracticeReviewRound(
            submission_id=existing.id,
            user_id=existing.user_id,
            context_id=existing.context_id,
            course_id=existing.course_id,
            module_id=existing.module_id,
            number=int(rounds or 0) + 1,
            decision=decision.value,
            text=existing.text,
            text_updated_at=existing.updated_at,
            feedback=clean,
            reviewer_id=reviewer_id,
            reviewed_at=now,
        )
    )
    accepted = decision == ReviewDecision.ACCEPTED
    s.execute(
        update(PracticeSubmission)
        .where(PracticeSubmission.id == existing.id)
        .values(
            reviewed_at=func.coalesce(PracticeSubmission.reviewed_at, now) if accepted else None,
            revision_requested_at=None if accepted else now,
            reviewer_id=reviewer_id,
            feedback=clean,
        )
        .execution_options(synchronize_session=False)
    )
    s.refresh(existing)
    # Both decisions go through refresh_progress: an acceptance may complete the module and release the
    # Pending grade; a revision changes what the LMS's gradebook should say (the learner's turn, not waiting for
    # a review), which enqueue_grades sends only where the course requires reviewed practice.
    return refresh_progress(
        s, learner, course, module, "practice_reviewed" if accepted else "practice_revision", now
    )


@dataclass(frozen=True, slots=True)
class ReviewRound:
    """One round of the review dialogue as the pages show it."""

    number: int
    decision: ReviewDecision
    text: str  # the version the instructor read
    text_updated_at: dt.datetime
    feedback: str
    reviewed_at: dt.datetime
    reviewer_name: str | None  # None: the reviewer's account was deleted, or the platform sent no name


def review_rounds(s: Session, submission_id: int) -> list[ReviewRound]:
    """Every review round of one practice answer, oldest first (the caller found the answer in its context)."""
    rows = s.execute(
        select(PracticeReviewRound, User)
        .outerjoin(User, User.id == PracticeReviewRound.reviewer_id)
        .where(PracticeReviewRound.submission_id == submission_id)
        .order_by(PracticeReviewRound.number)
    ).all()
    return [
        ReviewRound(
            number=r.number,
            decision=ReviewDecision(r.decision),
            text=r.text,
            text_updated_at=r.text_updated_at,
            feedback=r.feedback,
            reviewed_at=r.reviewed_at,
            reviewer_name=reviewer.real_name if reviewer is not None else None,
        )
        for r, reviewer in rows
    ]

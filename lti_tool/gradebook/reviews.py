"""Practice answers across one course context as their reviewer sees them: which wait for a review, which wait
for the learner's revision, and how many of each (the gradebook header shows the counts).

"Waiting for review" means submitted, not accepted, and no revision asked for since the last save
(`progress.waiting_for_review`, the one definition every list and count uses). Only learners of
the context are counted (a teacher's own practice text is not theirs to review). Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ..course.model import Module
from ..models import Membership, PracticeSubmission, RosterEntry, User
from ..progress import waiting_for_review, waiting_for_revision
from .rows import Scope, learner_label

PER_PAGE = 50


def _learners_answers(scope: Scope) -> Any:
    """WHERE for the practice answers of this context's learners in the course's current modules (an answer to
    a module since removed from the course text is nobody's to review)."""
    return and_(
        PracticeSubmission.context_id == scope.context_id,
        PracticeSubmission.course_id == scope.course.id,
        PracticeSubmission.module_id.in_([module.id for module in scope.course.modules]),
        Membership.is_instructor.is_(False),
    )


def _joined(query: Any, scope: Scope) -> Any:
    return query.join(
        Membership,
        and_(
            Membership.user_id == PracticeSubmission.user_id,
            Membership.context_id == PracticeSubmission.context_id,
        ),
    )


@dataclass(frozen=True, slots=True)
class ReviewCounts:
    waiting: int  # answers waiting for an instructor's review
    revision: int  # answers waiting for the learner's revision

    @property
    def any(self) -> bool:
        return bool(self.waiting or self.revision)


def review_counts(s: Session, scope: Scope) -> ReviewCounts:
    """How many practice answers of the course context wait for a review, and for a revision (one statement)."""
    row = s.execute(
        _joined(
            select(
                func.coalesce(func.sum(case((waiting_for_review(), 1), else_=0)), 0),
                func.coalesce(func.sum(case((waiting_for_revision(), 1), else_=0)), 0),
            ).select_from(PracticeSubmission),
            scope,
        ).where(_learners_answers(scope))
    ).one()
    return ReviewCounts(int(row[0]), int(row[1]))


@dataclass(frozen=True, slots=True)
class Waiting:
    """One practice answer in the list."""

    user_id: int
    label: str  # the learner's name as the gradebook shows it
    module: Module
    submitted_at: dt.datetime
    updated_at: dt.datetime  # the version waiting (for a revision: the version sent back)
    revision_requested_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class WaitingPage:
    answers: list[Waiting]
    total: int
    number: int
    pages: int


def waiting_page(s: Session, scope: Scope, *, revision: bool = False, number: int = 1) -> WaitingPage:
    """A page of the answers waiting for a review (oldest save first: who waited longest comes first), or with
    `revision` those waiting for the learner's revision."""
    which = waiting_for_revision() if revision else waiting_for_review()
    where = and_(_learners_answers(scope), which)
    total = int(
        s.scalar(_joined(select(func.count()).select_from(PracticeSubmission), scope).where(where)) or 0
    )
    pages = max(1, -(-total // PER_PAGE))
    number = min(max(1, number), pages)
    rows = s.execute(
        _joined(
            select(
                PracticeSubmission.user_id,
                PracticeSubmission.module_id,
                PracticeSubmission.submitted_at,
                PracticeSubmission.updated_at,
                PracticeSubmission.revision_requested_at,
                User.sub,
                User.name,
                User.given_name,
                User.family_name,
                User.email,
                RosterEntry.name.label("roster_name"),
                RosterEntry.email.label("roster_email"),
            ).select_from(PracticeSubmission),
            scope,
        )
        .join(User, User.id == PracticeSubmission.user_id)
        .outerjoin(RosterEntry, and_(RosterEntry.context_id == scope.context_id, RosterEntry.sub == User.sub))
        .where(where)
        .order_by(PracticeSubmission.updated_at, PracticeSubmission.id)
        .limit(PER_PAGE)
        .offset((number - 1) * PER_PAGE)
    ).all()
    answers: list[Waiting] = []
    for row in rows:
        module = scope.course.module(row.module_id)
        assert module is not None  # filtered above
        full = " ".join(p for p in (row.given_name, row.family_name) if p)
        name = row.name or full or row.roster_name
        answers.append(
            Waiting(
                user_id=row.user_id,
                label=learner_label(name, row.email or row.roster_email, row.sub),
                module=module,
                submitted_at=row.submitted_at,
                updated_at=row.updated_at,
                revision_requested_at=row.revision_requested_at,
            )
        )
    return WaitingPage(answers, total, number, pages)

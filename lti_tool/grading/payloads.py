"""What a learner's progress means as an AGS Score: the course result and the module results.

Pure functions over progress rows (no queries, no Flask); `outbox.enqueue_grades` feeds them and stores the
payloads. The rules are in lti_tool/grading/__init__.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..course.completion import course_complete_from, module_started
from ..course.model import Course, Module
from ..models import CourseProgress, ModuleProgress

SCORE_MAXIMUM = 100.0

STARTED, IN_PROGRESS, COMPLETED = "Started", "InProgress", "Completed"
FULLY_GRADED, PENDING = "FullyGraded", "Pending"


@dataclass(frozen=True, slots=True)
class Result:
    """One score as the platform should record it (without user and timestamp)."""

    score_given: float
    activity_progress: str
    grading_progress: str
    comment: str

    def payload(self, user_sub: str, timestamp: str) -> dict[str, Any]:
        return {
            "userId": user_sub,
            "scoreGiven": self.score_given,
            "scoreMaximum": SCORE_MAXIMUM,
            "activityProgress": self.activity_progress,
            "gradingProgress": self.grading_progress,
            "timestamp": timestamp,
            "comment": self.comment,
        }


def _percent(value: float) -> float:
    return round(min(max(value, 0.0), 100.0), 2)


def _started(progress: ModuleProgress) -> bool:
    return module_started(
        lessons_seen=progress.lessons_seen,
        attempts=progress.attempts,
        practice_submitted=progress.practice_submitted_at is not None,
        completed=progress.completed_at is not None,
    )


def has_result(*, attempts: int, practice_submitted: bool, completed: bool) -> bool:
    """A module result worth sending: a quiz attempt, a submitted practice task or a completion. Lessons alone
    are not (Moodle's "receive a grade" completion would count the 0); `reconcile` and the gradebook's
    "missing" count both ask this."""
    return bool(attempts or practice_submitted or completed)


def course_result(
    course: Course,
    modules: Mapping[str, ModuleProgress],
    course_progress: CourseProgress | None,
    awaiting_review: Collection[str],
    revision_requested: Collection[str] = (),
) -> Result:
    """The whole course: share of required modules completed (as recorded, `course/completion.py` decides when
    they are), in percent; complete when recorded so or every required module is complete.

    `awaiting_review`: modules whose practice answer is not accepted yet; `revision_requested`: those of them
    the instructor sent back for a revision (the learner's turn), which the comment names as such so that the
    LMS's gradebook does not say "waiting for a review" while the text is with the learner."""
    required = [m.id for m in course.modules if m.id in course.required_module_ids]
    completed = [module_id for module_id, p in modules.items() if p.completed_at is not None]
    done = sum(1 for module_id in required if module_id in completed)
    total = len(required)
    complete = (course_progress is not None and course_progress.completed_at is not None) or (
        total > 0 and course_complete_from(course, completed)
    )
    if complete:
        activity = COMPLETED
    elif any(_started(p) for p in modules.values()):
        activity = IN_PROGRESS
    else:
        activity = STARTED
    score = 100.0 * done / total if total else (100.0 if complete else 0.0)
    open_reviews = [m for m in modules_of(course) if m in awaiting_review]
    pending = course.practice_review_required and bool(open_reviews)
    comment = f"{done} von {total} Modulen abgeschlossen"
    if pending:
        comment += _course_review_comment(open_reviews, revision_requested)
    return Result(_percent(score), activity, PENDING if pending else FULLY_GRADED, comment)


def _course_review_comment(open_reviews: list[str], revision_requested: Collection[str]) -> str:
    revising = sum(1 for m in open_reviews if m in revision_requested)
    waiting = len(open_reviews) - revising
    parts = []
    if waiting:
        parts.append(
            "eine Praxisaufgabe wartet auf Durchsicht"
            if waiting == 1
            else f"{waiting} Praxisaufgaben warten auf Durchsicht"
        )
    if revising:
        parts.append(
            "eine Praxisaufgabe wird überarbeitet"
            if revising == 1
            else f"{revising} Praxisaufgaben werden überarbeitet"
        )
    return "; " + ", ".join(parts)


def module_result(
    course: Course,
    module: Module,
    progress: ModuleProgress | None,
    awaiting_review: Collection[str],
    revision_requested: Collection[str] = (),
) -> Result:
    """One module: the best quiz score in percent."""
    best = progress.best_score if progress is not None and progress.best_score is not None else 0.0
    complete = progress is not None and progress.completed_at is not None
    pending = course.practice_review_required and module.id in awaiting_review
    state = "abgeschlossen" if complete else "in Bearbeitung"
    comment = f"{module.position}. {module.title}: {state}"
    if pending:
        comment += (
            "; Überarbeitung der Praxisaufgabe angefordert"
            if module.id in revision_requested
            else "; Praxisaufgabe wartet auf Durchsicht"
        )
    return Result(
        _percent(best * 100.0),
        COMPLETED if complete else IN_PROGRESS,
        PENDING if pending else FULLY_GRADED,
        comment,
    )


def modules_of(course: Course) -> list[str]:
    return [m.id for m in course.modules]


def same_score(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Two payloads say the same thing (the timestamp aside)."""
    return {k: v for k, v in a.items() if k != "timestamp"} == {
        k: v for k, v in b.items() if k != "timestamp"
    }


def format_timestamp(when: dt.datetime) -> str:
    """ISO 8601 in UTC with microseconds, e.g. 2026-11-25T12:00:00.123456+00:00."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse_timestamp(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def next_timestamp(last: str | None, now: dt.datetime) -> str:
    """`now`, or 1 µs after the last timestamp of the same target when the clock has not moved past it."""
    when = now
    if last is not None:
        previous = parse_timestamp(last)
        if when <= previous:
            when = previous + dt.timedelta(microseconds=1)
    return format_timestamp(when)

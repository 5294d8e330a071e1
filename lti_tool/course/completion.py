"""When is a module, and the course, complete: every rule in one place, as pure functions.

No Flask, no database: the functions take the model's `Course` and a `ModuleSnapshot`/`Snapshot` of what a learner
did (built by `lti_tool.progress` from the progress tables), so pages, the progress service and the grading work
all decide the same way.

The rules (content/FORMAT.md, issue 3):
- a module's quiz is passed when the best attempt's score reaches the course's pass mark (default 80 %);
- a module is complete when every lesson was seen and the quiz was passed, plus the submitted practice task when
  the course says `practice_required` (the default);
- the course is complete when every required module is complete.

Completion is sticky: once recorded (`completed_at`), a module stays complete even if the course text later
gains a lesson; the learner keeps what they earned.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from .model import Course, Module

# "reviewed": accepted by an instructor; "revision": an instructor asked for a revision (progress.review).
PracticeState = Literal["open", "submitted", "revision", "reviewed"]


@dataclass(frozen=True, slots=True)
class ModuleSnapshot:
    """What one learner did in one module."""

    seen_lessons: frozenset[str] = frozenset()
    best_score: float | None = None  # 0.0 .. 1.0 over submitted attempts; None: no attempt submitted
    attempts: int = 0  # submitted quiz attempts
    practice_submitted: bool = False
    practice_reviewed: bool = False  # accepted by an instructor
    practice_revision: bool = False  # an instructor asked for a revision the learner has not saved yet
    completed_at: dt.datetime | None = None  # as recorded; completion is sticky
    # Replies by colleagues to the practice answer not yet shown on the exchange page (read with the pages' state
    # to point to them; no part of completion, the writes leave it 0).
    new_replies: int = 0


_EMPTY = ModuleSnapshot()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one learner did in one course (in one course context), by module id."""

    modules: Mapping[str, ModuleSnapshot] = field(default_factory=lambda: MappingProxyType({}))

    def module(self, module_id: str) -> ModuleSnapshot:
        return self.modules.get(module_id, _EMPTY)


@dataclass(frozen=True, slots=True)
class ModuleStatus:
    """A module's state as pages and the gradebook show it."""

    module_id: str
    lessons_seen: int  # of the module's current lessons
    lessons_total: int
    best_score: float | None
    attempts: int
    quiz_passed: bool
    practice: PracticeState
    practice_counts: bool  # the practice task is part of completion
    complete: bool
    # The course wants an instructor's review before the module grade is final, and it is still missing.
    awaiting_review: bool

    @property
    def started(self) -> bool:
        return module_started(
            lessons_seen=self.lessons_seen,
            attempts=self.attempts,
            practice_submitted=self.practice != "open",
            completed=self.complete,
        )


def module_started(*, lessons_seen: int, attempts: int, practice_submitted: bool, completed: bool) -> bool:
    """Started: a lesson seen, a quiz attempt or the practice task submitted, or the module recorded complete.
    The one rule for the pages ("In progress"), the gradebook and the grades (activityProgress InProgress)."""
    return bool(lessons_seen or attempts or practice_submitted or completed)


def pass_mark(course: Course) -> int:
    """The pass mark in percent (1..100)."""
    return course.pass_mark


# A score is a fraction (correct / asked): 0.29 * 100 is 28.999999999999996 in floating point. This much below a
# whole percent still counts as reaching it, in the pass mark and in every percent shown; no real score is closer
# to a whole percent without being on it.
_TOLERANCE = 1e-9


def pass_threshold(course: Course) -> float:
    """The lowest quiz score (0.0..1.0) that passes, tolerance included (for queries that compare in SQL)."""
    return course.pass_mark / 100 - _TOLERANCE


def score_passes(course: Course, score: float | None) -> bool:
    """Does a quiz score (0.0..1.0) reach the pass mark? 4/5 = 0.8 passes 80 %."""
    return score is not None and score >= pass_threshold(course)


def whole_percent(score: float) -> int:
    """A quiz score (0.0..1.0) as whole percent, rounded down, so that 79.6 % never reads as a pass mark of 80 %."""
    return math.floor((score + _TOLERANCE) * 100)


def required_module_ids(course: Course) -> frozenset[str]:
    return course.required_module_ids


def practice_counts(course: Course) -> bool:
    return course.practice_required


def all_lessons_seen(module: Module, snap: ModuleSnapshot) -> bool:
    return all(lesson.id in snap.seen_lessons for lesson in module.lessons)


def module_requirements_met(course: Course, module: Module, snap: ModuleSnapshot) -> bool:
    """The completion rule itself, from scratch (ignores a recorded completion)."""
    if not all_lessons_seen(module, snap):
        return False
    if not score_passes(course, snap.best_score):
        return False
    return snap.practice_submitted or not course.practice_required


def module_complete(course: Course, module: Module, snap: ModuleSnapshot) -> bool:
    """Complete: recorded as complete before, or the rule holds now."""
    return snap.completed_at is not None or module_requirements_met(course, module, snap)


def course_complete(course: Course, snapshot: Snapshot) -> bool:
    """Every required module is complete."""
    required = [module for module in course.modules if module.id in course.required_module_ids]
    return all(module_complete(course, module, snapshot.module(module.id)) for module in required)


def course_complete_from(course: Course, complete_module_ids: Iterable[str]) -> bool:
    """The course rule given the ids of the modules already known to be complete."""
    return course.required_module_ids <= set(complete_module_ids)


def practice_state(snap: ModuleSnapshot) -> PracticeState:
    if snap.practice_reviewed:
        return "reviewed"
    if snap.practice_revision:
        return "revision"
    return "submitted" if snap.practice_submitted else "open"


def module_status(course: Course, module: Module, snap: ModuleSnapshot) -> ModuleStatus:
    seen = sum(1 for lesson in module.lessons if lesson.id in snap.seen_lessons)
    return ModuleStatus(
        module_id=module.id,
        lessons_seen=seen,
        lessons_total=len(module.lessons),
        best_score=snap.best_score,
        attempts=snap.attempts,
        quiz_passed=score_passes(course, snap.best_score),
        practice=practice_state(snap),
        practice_counts=course.practice_required,
        complete=module_complete(course, module, snap),
        awaiting_review=(
            course.practice_review_required and snap.practice_submitted and not snap.practice_reviewed
        ),
    )


# --- What comes next ----------------------------------------------------------------------------

StepKind = Literal["lesson", "quiz", "practice"]


@dataclass(frozen=True, slots=True)
class Step:
    """The next thing to do: a lesson (with its id), the quiz, or the practice task of a module."""

    module_id: str
    kind: StepKind
    lesson_id: str | None = None


def next_step_in_module(
    course: Course, module: Module, snap: ModuleSnapshot, *, include_optional: bool = True
) -> Step | None:
    """First unseen lesson, else the quiz until passed, else the practice task until submitted.

    With `include_optional=False` a practice task the course does not require is not suggested.
    """
    for lesson in module.lessons:
        if lesson.id not in snap.seen_lessons:
            return Step(module.id, "lesson", lesson.id)
    if not score_passes(course, snap.best_score):
        return Step(module.id, "quiz")
    if not snap.practice_submitted and (include_optional or course.practice_required):
        return Step(module.id, "practice")
    return None


def next_step(
    course: Course,
    snapshot: Snapshot,
    *,
    modules: Iterable[Module] | None = None,
    current_module_id: str | None = None,
) -> Step | None:
    """What the learner should do next among `modules` (default: all), None when nothing is left.

    The module the learner was last working in comes first (resume), then the others in course order; what
    completion needs comes before an optional practice task.
    """
    candidates = list(course.modules if modules is None else modules)
    candidates.sort(key=lambda module: (module.id != current_module_id, module.position))
    for include_optional in (False, True):
        for module in candidates:
            step = next_step_in_module(
                course, module, snapshot.module(module.id), include_optional=include_optional
            )
            if step is not None:
                return step
    return None

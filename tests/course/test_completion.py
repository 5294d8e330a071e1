"""Completion rules (lti_tool/course/completion.py): pure functions over a course and a snapshot."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from lti_tool.course.completion import (
    ModuleSnapshot,
    Snapshot,
    Step,
    course_complete,
    course_complete_from,
    module_complete,
    module_requirements_met,
    module_status,
    next_step,
    next_step_in_module,
    pass_threshold,
    score_passes,
    whole_percent,
)
from lti_tool.course.loader import load_course
from lti_tool.course.model import Course

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
LESSONS = frozenset({"01-start", "02-weiter"})
DONE = ModuleSnapshot(seen_lessons=LESSONS, best_score=1.0, attempts=1, practice_submitted=True)


@pytest.fixture
def course(course_dir: Path) -> Course:
    return load_course(course_dir)


def _course(course_dir: Path, edit: Callable[[str, str, str], None], old: str, new: str) -> Course:
    edit("course.toml", old, new)
    return load_course(course_dir)


@pytest.mark.parametrize(
    ("score", "mark", "passes"),
    [
        (None, 80, False),
        (0.0, 80, False),
        (0.79, 80, False),
        (0.8, 80, True),
        (4 / 5, 80, True),
        (2 / 3, 67, False),
        (2 / 3, 66, True),
        (1.0, 100, True),
        (0.99, 100, False),
    ],
)
def test_score_passes_at_the_pass_mark(
    course_dir: Path, edit: Callable[[str, str, str], None], score: float | None, mark: int, passes: bool
) -> None:
    course = _course(course_dir, edit, "pass_mark = 80", f"pass_mark = {mark}")
    assert score_passes(course, score) is passes


def test_pass_mark_defaults_to_80(course_dir: Path, edit: Callable[[str, str, str], None]) -> None:
    course = _course(course_dir, edit, "pass_mark = 80\n", "")
    assert course.pass_mark == 80
    assert score_passes(course, 0.8) and not score_passes(course, 0.75)


@pytest.mark.parametrize(
    ("score", "shown"), [(0.29, 29), (0.796, 79), (4 / 5, 80), (2 / 3, 66), (0.0, 0), (1.0, 100)]
)
def test_a_score_shows_as_whole_percent_rounded_down(score: float, shown: int) -> None:
    assert whole_percent(score) == shown  # 0.29 * 100 is 28.999999999999996 in floating point


def test_a_score_passes_exactly_when_the_percent_shown_reaches_the_pass_mark(course: Course) -> None:
    """One tolerance for the pass mark, its SQL threshold and the percent the pages show: a learner never reads
    "80 %" beside "not passed" at a pass mark of 80, nor "79 %" beside "passed"."""
    for mark in range(1, 101):
        marked = dataclasses.replace(course, pass_mark=mark)
        for total in range(1, 41):
            for correct in range(total + 1):
                score = correct / total
                passes = score_passes(marked, score)
                assert passes is (whole_percent(score) >= mark), (correct, total, mark)
                assert passes is (score >= pass_threshold(marked)), (correct, total, mark)


def test_module_needs_every_lesson_the_quiz_and_the_practice_task(course: Course) -> None:
    module = course.modules[0]
    assert module_requirements_met(course, module, DONE)
    for missing in (
        ModuleSnapshot(seen_lessons=frozenset({"01-start"}), best_score=1.0, practice_submitted=True),
        ModuleSnapshot(seen_lessons=LESSONS, best_score=0.75, practice_submitted=True),
        ModuleSnapshot(seen_lessons=LESSONS, best_score=None, practice_submitted=True),
        ModuleSnapshot(seen_lessons=LESSONS, best_score=1.0, practice_submitted=False),
    ):
        assert not module_requirements_met(course, module, missing)
        assert not module_complete(course, module, missing)


def test_practice_not_required(course_dir: Path, edit: Callable[[str, str, str], None]) -> None:
    course = _course(course_dir, edit, "practice_required = true", "practice_required = false")
    module = course.modules[0]
    snap = ModuleSnapshot(seen_lessons=LESSONS, best_score=0.8)
    assert module_complete(course, module, snap)
    status = module_status(course, module, snap)
    assert status.complete and status.practice == "open" and not status.practice_counts
    # An optional practice task is suggested only once nothing required is left.
    other = course.modules[1]
    assert next_step(course, Snapshot({module.id: snap})) == Step(other.id, "lesson", "01-start")
    all_done = Snapshot({module.id: snap, other.id: snap})
    assert next_step(course, all_done) == Step(module.id, "practice")


def test_seen_lessons_that_no_longer_exist_do_not_count(course: Course) -> None:
    module = course.modules[0]
    snap = ModuleSnapshot(
        seen_lessons=frozenset({"01-start", "03-removed"}), best_score=1.0, practice_submitted=True
    )
    assert not module_complete(course, module, snap)
    assert module_status(course, module, snap).lessons_seen == 1


def test_completion_is_sticky(course: Course) -> None:
    module = course.modules[0]
    # Recorded as complete earlier, although (say) a lesson was added to the course text since.
    snap = ModuleSnapshot(seen_lessons=frozenset(), best_score=0.5, completed_at=NOW)
    assert module_complete(course, module, snap)
    assert not module_requirements_met(course, module, snap)


def test_course_needs_every_required_module(course_dir: Path, edit: Callable[[str, str, str], None]) -> None:
    course = load_course(course_dir)
    assert not course_complete(course, Snapshot({"eins": DONE}))
    assert course_complete(course, Snapshot({"eins": DONE, "zwei": DONE}))
    assert course_complete_from(course, ["eins", "zwei"]) and not course_complete_from(course, ["zwei"])

    only_one = _course(course_dir, edit, 'required_modules = ["eins", "zwei"]', 'required_modules = ["eins"]')
    assert course_complete(only_one, Snapshot({"eins": DONE}))
    assert course_complete_from(only_one, ["eins"])


def test_required_modules_default_to_all(course_dir: Path, edit: Callable[[str, str, str], None]) -> None:
    course = _course(course_dir, edit, 'required_modules = ["eins", "zwei"]\n', "")
    assert course.required_module_ids == {"eins", "zwei"}
    assert not course_complete(course, Snapshot({"eins": DONE}))


def test_awaiting_review(course_dir: Path, edit: Callable[[str, str, str], None]) -> None:
    plain = load_course(course_dir)
    assert not module_status(plain, plain.modules[0], DONE).awaiting_review
    course = _course(course_dir, edit, "practice_review_required = false", "practice_review_required = true")
    module = course.modules[0]
    status = module_status(course, module, DONE)
    assert status.complete and status.awaiting_review and status.practice == "submitted"
    reviewed = ModuleSnapshot(
        seen_lessons=LESSONS, best_score=1.0, practice_submitted=True, practice_reviewed=True
    )
    status = module_status(course, module, reviewed)
    assert not status.awaiting_review and status.practice == "reviewed"


def test_module_status_counts(course: Course) -> None:
    module = course.modules[0]
    status = module_status(course, module, ModuleSnapshot())
    assert (status.lessons_seen, status.lessons_total, status.attempts) == (0, 2, 0)
    assert not status.started and not status.quiz_passed and status.practice == "open"
    status = module_status(course, module, ModuleSnapshot(best_score=0.5, attempts=2))
    assert status.started and not status.quiz_passed and status.best_score == 0.5


def test_next_step_walks_lessons_quiz_practice(course: Course) -> None:
    module = course.modules[0]
    assert next_step_in_module(course, module, ModuleSnapshot()) == Step("eins", "lesson", "01-start")
    seen_second = ModuleSnapshot(seen_lessons=frozenset({"02-weiter"}))
    assert next_step_in_module(course, module, seen_second) == Step("eins", "lesson", "01-start")
    read = ModuleSnapshot(seen_lessons=LESSONS, best_score=0.5)
    assert next_step_in_module(course, module, read) == Step("eins", "quiz")
    passed = ModuleSnapshot(seen_lessons=LESSONS, best_score=0.8)
    assert next_step_in_module(course, module, passed) == Step("eins", "practice")
    assert next_step_in_module(course, module, DONE) is None


def test_next_step_resumes_in_the_current_module(course: Course) -> None:
    snapshot = Snapshot({"zwei": ModuleSnapshot(seen_lessons=frozenset({"01-start"}))})
    assert next_step(course, snapshot) == Step("eins", "lesson", "01-start")
    assert next_step(course, snapshot, current_module_id="zwei") == Step("zwei", "lesson", "02-weiter")
    assert next_step(course, Snapshot({"eins": DONE, "zwei": DONE})) is None
    only_two = [course.modules[1]]
    assert next_step(course, Snapshot({"zwei": DONE}), modules=only_two) is None

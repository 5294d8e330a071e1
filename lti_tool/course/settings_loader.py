"""The assessment settings of `course.toml`: review options, attempt policy, workload, issuer details.

FORMAT.md, "Second edition". Review options follow Moodle's quiz review options; explanations may state the
right answer, so a review that shows explanations must also be allowed to show the correct answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .fields import Table
from .model import DEFAULT_REVIEW, AttemptPolicy, Review, ReviewOptions, Workload

REVIEW_KEYS = ("answers", "correctness", "hints", "explanations", "correct_answers")
MINUTES_PER_TEACHING_UNIT = 45
HTTP_URL = re.compile(r"https?://[^\s/]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CourseSettings:
    review: Review
    hints_required: bool  # a [review.*] table says hints = true: every question then needs a hint
    failed_hints_by_default: bool  # [review.failed] leaves hints out: shown when every question has one
    attempts: AttemptPolicy
    workload: Workload | None
    issuer_url: str
    min_pool_factor: int


def read_settings(course: Table) -> CourseSettings:
    """Reads the second-edition keys of course.toml (the caller's `course.end()` reports unknown ones)."""
    min_pool_factor = course.counted("min_pool_factor", at_least=1, required=False, default=0)
    failed, passed = DEFAULT_REVIEW.failed, DEFAULT_REVIEW.passed
    hints_required = False
    failed_hints_by_default = True
    review = course.table("review", required=False)
    if review is not None:
        failed_table = review.table("failed", required=False)
        if failed_table is not None:
            failed_hints_by_default = not failed_table.has("hints")
            failed = _review_options(failed_table, failed)
            hints_required = failed_table.has("hints") and failed.hints
        passed_table = review.table("passed", required=False)
        if passed_table is not None:
            passed = _review_options(passed_table, passed)
            hints_required = hints_required or (passed_table.has("hints") and passed.hints)
        review.end()
    return CourseSettings(
        review=Review(failed=failed, passed=passed),
        hints_required=hints_required,
        failed_hints_by_default=failed_hints_by_default,
        attempts=_attempts(course),
        workload=_workload(course),
        issuer_url=_issuer_url(course),
        min_pool_factor=min_pool_factor,
    )


def _review_options(table: Table, default: ReviewOptions) -> ReviewOptions:
    """A key the table leaves out keeps its default (FORMAT.md)."""
    values = {key: table.boolean(key, required=False, default=getattr(default, key)) for key in REVIEW_KEYS}
    table.end()
    options = ReviewOptions(**values)
    if options.explanations and not options.correct_answers:
        table.problem(
            "explanations",
            "explanations = true needs correct_answers = true (explanations may state the right answer)",
        )
    return options


def _attempts(course: Table) -> AttemptPolicy:
    table = course.table("attempts", required=False)
    if table is None:
        return AttemptPolicy()
    wait = table.counted("wait_minutes", at_least=0, required=False)
    per_day = table.counted("per_day", at_least=0, required=False)
    table.end()
    return AttemptPolicy(wait_minutes=max(wait, 0), per_day=max(per_day, 0))


def _workload(course: Table) -> Workload | None:
    table = course.table("workload", required=False)
    if table is None:
        return None
    hours = table.number("hours")
    if table.valid("hours") and hours <= 0:
        table.problem("hours", "must be greater than 0")
    units = table.counted("teaching_units", at_least=1)
    table.end()
    if table.valid("hours") and table.valid("teaching_units"):
        exact = hours * 60 / MINUTES_PER_TEACHING_UNIT
        if abs(exact - units) > 1:
            table.problem(
                "teaching_units",
                f"{units} Unterrichtseinheiten à 45 min do not agree with {hours:g} hours "
                f"({exact:.1f} units; allowed: within one unit)",
            )
    return Workload(hours=hours, teaching_units=units)


def _issuer_url(course: Table) -> str:
    table = course.table("issuer_details", required=False)
    if table is None:
        return ""
    url = table.string("url", required=False)
    if url and not HTTP_URL.match(url):
        table.problem("url", f"must be an http:// or https:// address, not {url!r}")
    table.end()
    return url

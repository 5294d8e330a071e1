"""The gradebook CSV's own path (`export.gradebook_lines`: plain tuples, raw times, cells written straight to
text) writes byte for byte what the path through the page's rows wrote before it (`all_rows` below: `fill_rows`
for each batch, with the records function it fed), for every filter and sort and two batch sizes, on a gradebook
with a bit of everything: roster-only people, nameless and formula-looking names, module progress, practice texts
submitted, reviewed and asked for revision, grades sent, waiting and failed, course completions, a time in the
hour before summer time starts, a name to be quoted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete
from sqlalchemy.orm import Session

from lti_tool import progress
from lti_tool.course.catalog import get_catalog
from lti_tool.db import session_scope
from lti_tool.gradebook import export, listing
from lti_tool.gradebook.export import Text, gradebook_header, percent
from lti_tool.gradebook.rows import Row, Scope, fill_rows
from lti_tool.models import ModuleProgress, ReviewDecision

from ..peer import Launcher
from .conftest import add_learner, add_learners, launch_teacher, place, user_id

COMPLETED = dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=dt.UTC)  # the hour before summer time starts in Berlin


def all_rows(s: Session, scope: Scope, *, sort: str, only: str, batch: int) -> Iterator[list[Row]]:
    """Every listed learner as the gradebook page fills its rows, `batch` at a time (what the export read)."""
    query = listing.listing_query(scope, sort=sort, only=only).execution_options(yield_per=batch)
    for part in s.execute(query).partitions():
        yield fill_rows(s, scope, [listing._person(row) for row in part])


def reference_records(scope: Scope, batches: Iterable[list[Row]]) -> Iterator[list[Any]]:
    """The gradebook's records as export.py wrote them through the page's rows (before the export's own path)."""
    total = len(scope.course.modules)
    words = export._words()
    yield gradebook_header(scope)
    for batch in batches:
        for row in batch:
            person = row.person
            grade = row.course_grade
            record: list[Any] = [
                Text(person.name) if person.name else None,
                Text(person.email) if person.email else None,
                Text(person.sub),
                words["yes" if person.in_roster else "no"],
                person.course_completed_at,
                person.modules_done,
                total,
                person.last_activity,
                words["delivery:" + row.delivery],
                None if grade is None else grade.score_given,
                None if grade is None else grade.score_maximum,
                None if grade is None else grade.sent_at,
            ]
            for module in row.modules:
                record += [
                    words["module:" + module.state],
                    module.lessons_seen,
                    percent(module.best_score),
                    module.attempts,
                    words["practice:" + module.practice],
                    module.completed_at,
                ]
            yield record


@pytest.mark.parametrize("batch", [3, 500])
def test_gradebook_csv_same_as_through_the_page_rows(app: Flask, launcher: Launcher, batch: int) -> None:
    launch_teacher(launcher)
    where = place(app)
    add_learners(app, where, 14)
    add_learner(
        app,
        where,
        "done",
        name="Jörg Müller; Sohn",
        email="joerg@example.org",
        done=("modul-a", "modul-b"),
        practice={"modul-a": "Unsere Kommune hat einen Klimabeirat."},
        reviewed=("modul-a",),
        course_completed=True,
        grade_state="sent",
        at=COMPLETED,
    )
    add_learner(app, where, "evil", name='=HYPERLINK("http://evil")', email="@evil", started=("modul-a",))
    add_learner(app, where, "roster", name="-Rita", roster=True, launched=False)
    add_learner(app, where, "tab", name="\tTabea", grade_state="failed")
    add_learner(app, where, "1/8", email="0049 221", grade_state="pending")
    add_learner(
        app, where, "quoted", name='Anna "Nina"\nSchmidt', started=("modul-b",)
    )  # quoted, quotes doubled
    nameless = add_learner(
        app, where, "nameless", practice={"modul-b": "Ein Text über den Rat unserer Kommune."}
    )
    assert nameless is not None
    course = get_catalog(app).get("grundlagenkurs")
    assert course is not None
    module = course.module("modul-b")
    assert module is not None
    with session_scope(app, write=True) as s:  # asked for a revision
        progress.review_practice(
            s,
            progress.Learner(nameless, where.context_id, where.platform_id),
            course,
            module,
            reviewer_id=user_id(app, "teacher-1"),
            feedback="Bitte ergänzen.",
            decision=ReviewDecision.REVISION,
        )
    # A practice text without the module's progress row (progress writes both; the export reads either alone)
    add_learner(app, where, "text-only", practice={"modul-a": "Ein Text über den Rat unserer Kommune."})
    with session_scope(app, write=True) as s:
        s.execute(delete(ModuleProgress).where(ModuleProgress.user_id == user_id(app, "text-only")))
    with app.test_request_context(), session_scope(app) as s:
        scope = Scope(context_id=where.context_id, platform_id=where.platform_id, course=course)
        for sort in listing.SORTS:
            for only in listing.FILTERS:
                rows = all_rows(s, scope, sort=sort, only=only, batch=batch)
                expected = "".join(export.lines(reference_records(scope, rows)))
                written = "".join(export.gradebook_lines(s, scope, sort=sort, only=only, batch=batch))
                assert written == expected, (sort, only)
                if (sort, only) == ("name", "alle"):
                    assert ";Überarbeitung erbeten;" in written  # the practice state "revision"
                    assert '\r\n"Anna ""Nina""\nSchmidt";' in written  # the name first, in quotes
                if only == "alle":
                    assert written.count("\r\n") == 1 + 14 + 8  # the header, everyone

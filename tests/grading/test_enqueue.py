"""What enqueue_grades queues: targets, payloads, superseding, timestamps, instructors, send again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, event

from lti_tool import progress
from lti_tool.db import get_db, session_scope
from lti_tool.grading import enqueue_grades, reconcile, resend
from lti_tool.grading.outbox import RowState, claim, record_failed
from lti_tool.grading.payloads import parse_timestamp
from lti_tool.models import GradeOutbox, ReviewDecision, utcnow

from ..services import take_grades
from .conftest import AGS, COURSE, Classroom, Lms


@pytest.fixture
def classroom(app: Flask, lms: Lms) -> Classroom:
    return Classroom(app, lms)


def by_target(rows: list[GradeOutbox]) -> dict[str, GradeOutbox]:
    return {r.target.split("@")[0]: r for r in rows}


def test_course_and_module_results(classroom: Classroom) -> None:
    lea = classroom.person("4")
    rows = by_target(classroom.record(lea, "modul-a", score=0.8, completed=True))
    assert set(rows) == {f"course:{COURSE}", f"module:{COURSE}/modul-a"}
    course = rows[f"course:{COURSE}"]
    assert course.lineitem_url == classroom.lms.activity_lineitem(1)
    assert course.resource_link_id == classroom.link_id
    assert (course.course_id, course.module_id) == (COURSE, None)
    assert course.payload == {
        "userId": "4",
        "scoreGiven": 50.0,
        "scoreMaximum": 100.0,
        "activityProgress": "InProgress",
        "gradingProgress": "FullyGraded",
        "timestamp": course.score_timestamp,
        "comment": "1 von 2 Modulen abgeschlossen",
    }
    module = rows[f"module:{COURSE}/modul-a"]
    assert module.target.endswith("@lineitems") and module.lineitem_url is None  # found or created later
    assert module.module_id == "modul-a"
    assert module.payload["scoreGiven"] == 80.0
    assert module.payload["activityProgress"] == "Completed"
    assert module.payload["comment"] == "1. Modul a: abgeschlossen"
    assert all(r.state == "pending" for r in rows.values())


def test_completed_course_scores_100(classroom: Classroom) -> None:
    lea = classroom.person("4")
    classroom.record(lea, "modul-a", score=1.0, completed=True)
    rows = by_target(classroom.record(lea, "modul-b", score=1.0, completed=True, course_completed=True))
    course = rows[f"course:{COURSE}"].payload
    assert (course["scoreGiven"], course["activityProgress"]) == (100.0, "Completed")
    assert course["comment"] == "2 von 2 Modulen abgeschlossen"


def test_started_module_is_in_progress_with_its_best_score(classroom: Classroom) -> None:
    lea = classroom.person("4")
    rows = by_target(classroom.record(lea, "modul-b", score=0.5))
    assert rows[f"module:{COURSE}/modul-b"].payload["activityProgress"] == "InProgress"
    assert rows[f"module:{COURSE}/modul-b"].payload["scoreGiven"] == 50.0
    assert rows[f"course:{COURSE}"].payload["scoreGiven"] == 0.0
    assert rows[f"course:{COURSE}"].payload["activityProgress"] == "InProgress"


def test_instructors_are_never_queued(classroom: Classroom) -> None:
    teacher = classroom.person("3", instructor=True)
    assert classroom.record(teacher, "modul-a", score=1.0, completed=True) == []
    assert classroom.rows() == []


def test_a_newer_score_supersedes_the_pending_one_and_the_same_score_is_not_queued_twice(
    classroom: Classroom,
) -> None:
    lea = classroom.person("4")
    first = classroom.record(lea, "modul-a", score=0.4)
    second = classroom.record(lea, "modul-a", score=0.6)
    assert classroom.record(lea, "modul-a", score=0.6) == []  # nothing changed
    assert classroom.record(lea, "modul-a", score=0.2) == []  # a lower score: the best one stands
    states = {r.id: r.state for r in classroom.rows()}
    first_by, second_by = by_target(first), by_target(second)
    assert states[first_by[f"module:{COURSE}/modul-a"].id] == "superseded"
    assert states[second_by[f"module:{COURSE}/modul-a"].id] == "pending"
    # the course result did not change with the quiz score: it was not queued again
    assert set(second_by) == {f"module:{COURSE}/modul-a"}
    assert states[first_by[f"course:{COURSE}"].id] == "pending"


def test_timestamps_strictly_increase_per_target(classroom: Classroom) -> None:
    lea = classroom.person("4")
    for score in (0.2, 0.4, 0.6, 0.8, 1.0):
        classroom.record(lea, "modul-a", score=score)
    stamps: dict[str, list[dt.datetime]] = {}
    for row in classroom.rows():
        assert row.payload["timestamp"] == row.score_timestamp
        assert row.score_timestamp.endswith("+00:00") and "." in row.score_timestamp  # UTC, microseconds
        stamps.setdefault(row.target, []).append(parse_timestamp(row.score_timestamp))
    for series in stamps.values():
        assert all(a < b for a, b in itertools.pairwise(series))


def test_timestamp_moves_past_a_previous_one_from_the_future(classroom: Classroom) -> None:
    lea = classroom.person("4")
    [row] = [r for r in classroom.record(lea, "modul-a", score=0.4) if r.module_id]
    future = (utcnow() + dt.timedelta(seconds=30)).isoformat(timespec="microseconds")
    with session_scope(classroom.app, write=True) as s:
        s.get(GradeOutbox, row.id).score_timestamp = future  # type: ignore[union-attr]
    [newer] = [r for r in classroom.record(lea, "modul-a", score=0.6) if r.module_id]
    assert parse_timestamp(newer.score_timestamp) - parse_timestamp(future) == dt.timedelta(microseconds=1)


def test_pending_while_a_practice_task_awaits_review(classroom: Classroom) -> None:
    classroom.course = dataclasses.replace(classroom.course, practice_review_required=True)
    lea = classroom.person("4")
    rows = by_target(classroom.record(lea, "modul-a", score=1.0, completed=True))
    assert rows[f"course:{COURSE}"].payload["gradingProgress"] == "Pending"
    assert rows[f"module:{COURSE}/modul-a"].payload["gradingProgress"] == "Pending"
    assert "Durchsicht" in rows[f"module:{COURSE}/modul-a"].payload["comment"]
    # modul-b has nothing awaiting review; the course still waits for modul-a's review
    rows_b = by_target(classroom.record(lea, "modul-b", score=1.0))
    assert rows_b[f"module:{COURSE}/modul-b"].payload["gradingProgress"] == "FullyGraded"
    rows = by_target(classroom.review(lea, "modul-a", reviewer=classroom.person("3", instructor=True)))
    assert rows[f"course:{COURSE}"].payload["gradingProgress"] == "FullyGraded"
    assert rows[f"module:{COURSE}/modul-a"].payload["gradingProgress"] == "FullyGraded"


def test_a_requested_revision_says_so_in_the_lms_while_the_grade_stays_pending(classroom: Classroom) -> None:
    classroom.course = dataclasses.replace(classroom.course, practice_review_required=True)
    lea, teacher = classroom.person("4"), classroom.person("3", instructor=True)
    classroom.record(lea, "modul-a", score=1.0, completed=True)
    rows = by_target(classroom.review(lea, "modul-a", reviewer=teacher, decision=ReviewDecision.REVISION))
    module, course = rows[f"module:{COURSE}/modul-a"].payload, rows[f"course:{COURSE}"].payload
    assert module["gradingProgress"] == course["gradingProgress"] == "Pending"
    assert module["comment"].endswith("; Überarbeitung der Praxisaufgabe angefordert")
    assert course["comment"].endswith("; eine Praxisaufgabe wird überarbeitet")
    assert "Durchsicht" not in module["comment"] + course["comment"]
    # the learner saves a new version: waiting for the teacher again
    module_a = classroom.course.module("modul-a")
    assert module_a is not None
    with classroom.queueing() as queued, session_scope(classroom.app, write=True) as s:
        text = "Überarbeitet: unser Beirat tagt jetzt vierteljährlich."
        progress.save_practice(s, classroom.learner(lea), classroom.course, module_a, text)
    rows = by_target(queued)
    assert (
        rows[f"module:{COURSE}/modul-a"].payload["comment"].endswith("; Praxisaufgabe wartet auf Durchsicht")
    )
    assert rows[f"course:{COURSE}"].payload["comment"].endswith("; eine Praxisaufgabe wartet auf Durchsicht")
    assert rows[f"course:{COURSE}"].payload["gradingProgress"] == "Pending"


def test_a_revision_queues_nothing_where_the_course_does_not_require_reviews(classroom: Classroom) -> None:
    lea, teacher = classroom.person("4"), classroom.person("3", instructor=True)
    classroom.record(lea, "modul-a", score=1.0, completed=True)
    assert classroom.review(lea, "modul-a", reviewer=teacher, decision=ReviewDecision.REVISION) == []


def test_course_result_goes_only_to_course_links_the_learner_launched(classroom: Classroom) -> None:
    other_course_link = classroom.add_link("2", module_id=None, lineitem_url=classroom.lms.url + "/li/2")
    module_link = classroom.add_link("3", module_id="modul-a", lineitem_url=classroom.lms.url + "/li/3")
    lea = classroom.person("4")
    never = classroom.person("5", via=("3",))  # only the deep-linked module so far
    rows = classroom.record(lea, "modul-a", score=1.0, completed=True)
    assert sorted(r.target for r in rows) == [
        f"course:{COURSE}@link:{classroom.link_id}",
        f"module:{COURSE}/modul-a@link:{module_link}",  # the deep-linked module is its grade column
    ]
    rows = classroom.record(never, "modul-a", score=1.0, completed=True)
    assert [r.target for r in rows] == [f"module:{COURSE}/modul-a@link:{module_link}"]
    with classroom.queueing() as queued:  # her launch of link 2 brings it her course result
        classroom.person("5", via=("2",))
    assert [r.target for r in queued] == [f"course:{COURSE}@link:{other_course_link}"]
    # per-module items only through a launched link that asks for them (link 1 does, link 2 does not); her
    # course result has not changed
    assert classroom.record(never, "modul-b", score=1.0) == []


def test_by_default_the_course_activity_is_the_only_grade_column(app: Flask, lms: Lms) -> None:
    classroom = Classroom(app, lms, module_grade_items=False)
    lea = classroom.person("4")
    rows = classroom.record(lea, "modul-a", score=1.0, completed=True)
    assert [r.target for r in rows] == [f"course:{COURSE}@link:{classroom.link_id}"]


def test_a_link_without_a_line_item_gets_no_grades_and_asks_for_no_module_items(app: Flask, lms: Lms) -> None:
    classroom = Classroom(app, lms, module_grade_items=False)
    classroom.add_link("2", module_id=None, lineitem_url=None, module_grade_items=True)
    lea = classroom.person("4", via=("1", "2"))
    rows = classroom.record(lea, "modul-a", score=1.0, completed=True)
    assert [r.target for r in rows] == [f"course:{COURSE}@link:{classroom.link_id}"]


def test_no_score_scope_no_grades(app: Flask, lms: Lms) -> None:
    classroom = Classroom(app, lms, scopes=[AGS + "lineitem.readonly"])
    lea = classroom.person("4")
    assert classroom.record(lea, "modul-a", score=1.0, completed=True) == []


def test_without_the_lineitem_scope_no_per_module_items(app: Flask, lms: Lms) -> None:
    classroom = Classroom(app, lms, scopes=[AGS + "score"])
    lea = classroom.person("4")
    rows = classroom.record(lea, "modul-a", score=1.0, completed=True)
    assert [r.target.split("@")[0] for r in rows] == [f"course:{COURSE}"]


def test_enqueue_writes_in_the_callers_transaction(classroom: Classroom) -> None:
    lea = classroom.person("4")
    with session_scope(classroom.app, write=True) as s:
        rows = enqueue_grades(
            s, user_id=lea, context_id=classroom.context_id, course=classroom.course, changed_module_ids=[]
        )
        assert len(rows) == 1  # the course result ("Started")
        assert rows[0].payload["activityProgress"] == "Started"
        s.rollback()
    assert classroom.rows() == []


def test_resend_queues_failed_rows_once_with_a_fresh_timestamp(classroom: Classroom) -> None:
    lea = classroom.person("4")
    classroom.record(lea, "modul-a", score=0.4)
    with session_scope(classroom.app, write=True) as s:
        claimed = claim(s, "w", limit=10, lease_seconds=30)
    with session_scope(classroom.app, write=True) as s:
        for row in claimed:
            record_failed(s, row.id, "w", status=400, reason="400 Bad Request: Incorrect score received")
    with session_scope(classroom.app, write=True) as s:
        again = resend(s, context_id=classroom.context_id)
        assert len(again) == 2
        assert all(r.state == "pending" for r in again)
    with session_scope(classroom.app, write=True) as s:
        assert resend(s) == []  # the failed rows are no longer the newest of their targets
    rows = classroom.rows()
    failed = [r for r in rows if r.state == "failed"]
    for old, new in zip(failed, again, strict=True):
        assert new.target == old.target
        assert parse_timestamp(new.score_timestamp) > parse_timestamp(old.score_timestamp)
        assert {k: v for k, v in new.payload.items() if k != "timestamp"} == {
            k: v for k, v in old.payload.items() if k != "timestamp"
        }
    assert [r.lineitem_url for r in again if r.target.endswith("@lineitems")] == [None]


def test_enqueue_takes_a_constant_number_of_statements(classroom: Classroom) -> None:
    """The course row, a deep-linked module, the tool's own module items: besides one INSERT per row, the
    statement count does not grow with the number of targets (progress.writes calls this in a request)."""
    classroom.add_link("2", module_id="modul-a", lineitem_url=classroom.lms.url + "/li/2")
    lea, ben = classroom.person("4"), classroom.person("5")
    engine = get_db(classroom.app).engine
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def enqueue(user: int, modules: list[str]) -> int:
        with session_scope(classroom.app, write=True) as s:
            s.connection()  # the transaction's BEGIN is not ours
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                rows = enqueue_grades(
                    s,
                    user_id=user,
                    context_id=classroom.context_id,
                    course=classroom.course,
                    changed_module_ids=modules,
                )
            finally:
                event.remove(engine, "before_cursor_execute", count)
        return len(statements) - len(rows)

    one = enqueue(lea, ["modul-b"])  # course + the tool's modul-b item
    two = enqueue(ben, ["modul-a", "modul-b"])  # course + deep-linked modul-a + the tool's modul-b item
    postgres = get_db(classroom.app).dialect == "postgresql"  # + advisory lock + NOTIFY
    # 9: with the gradebook summary's "a grade failed" flag, refreshed for the learner in one UPDATE
    assert one == two == (11 if postgres else 9), statements


def test_reconcile_takes_a_bounded_number_of_statements(classroom: Classroom) -> None:
    """What a launch adds: nothing to send costs a few reads; results for every link and module cost the same
    statements whatever their number (the INSERTs of the rows aside)."""
    for n in range(2, 6):
        classroom.add_link(str(n), module_id=None, lineitem_url=f"{classroom.lms.url}/li/{n}")
    classroom.add_link("9", module_id="modul-a", lineitem_url=classroom.lms.url + "/li/9")
    idle, lea, ben = classroom.person("3"), classroom.person("4"), classroom.person("5")
    classroom.record(lea, "modul-a", score=1.0, completed=True)
    classroom.record(ben, "modul-b", score=0.5)
    for user in (lea, ben):  # queued and sent: reconcile must not add them again
        take_grades(classroom.app, user, RowState.SENT)
    engine = get_db(classroom.app).engine
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def reconciled(user: int) -> tuple[int, int]:
        with session_scope(classroom.app, write=True) as s:
            s.connection()
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                rows = reconcile(
                    s, user_id=user, context_id=classroom.context_id, course=classroom.course, unlaunched=True
                )
            finally:
                event.remove(engine, "before_cursor_execute", count)
        return len([x for x in statements if not x.lstrip().upper().startswith("INSERT")]), len(rows)

    postgres = get_db(classroom.app).dialect == "postgresql"
    # no result: context, links, the tool's module items, progress (+ the lock); nothing written
    assert reconciled(idle) == (4 + postgres, 0)
    with session_scope(classroom.app, write=True) as s:
        s.execute(delete(GradeOutbox))
    lea_cost, lea_rows = reconciled(lea)  # 5 course links + modul-a's own link (so no tool item for modul-a)
    ben_cost, ben_rows = reconciled(ben)  # 5 course links + the tool's modul-b item
    assert (lea_rows, ben_rows) == (6, 6)
    assert lea_cost == ben_cost == (11 if postgres else 9), (
        statements
    )  # + the gradebook summary's failed flag
    assert reconciled(lea) == (7 + postgres, 0)  # all there now: reads only (+ the lock)

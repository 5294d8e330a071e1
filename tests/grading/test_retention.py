"""Outbox retention (grading/outbox/retention.py): the grade workers prune old sent and superseded rows and
nothing that is still needed. States built through the outbox's own services and delivered to the demo LMS:
a learner's grades sent three times (one score superseded on the way), a learner whose grades failed, one whose
grade items were deleted in the LMS, one whose grades are still waiting."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import update

from lti_tool.db import session_scope
from lti_tool.gradebook.detail import detail
from lti_tool.gradebook.listing import Scope
from lti_tool.grading import outbox
from lti_tool.grading.worker import Worker
from lti_tool.models import GradeOutbox, utcnow

from .conftest import Classroom, Lms, deliver_all


@pytest.fixture
def classroom(app: Flask, lms: Lms) -> Classroom:
    return Classroom(app, lms)


def _newest_ids(rows: list[GradeOutbox]) -> set[int]:
    newest: dict[tuple[int, str], int] = {}
    for row in rows:
        key = (row.user_id, row.target)
        newest[key] = max(newest.get(key, 0), row.id)
    return set(newest.values())


def _prune(classroom: Classroom, *, at: dt.datetime, days: int = 180) -> int:
    with session_scope(classroom.app, write=True) as s:
        return outbox.prune(s, history_days=days, now=at)


def test_pruning_keeps_the_newest_of_each_grade_and_everything_still_needed(classroom: Classroom) -> None:
    lea, fay, rex, wes = (classroom.person(sub) for sub in ("4", "5", "6", "7"))
    for score in (0.2, 0.6):
        classroom.record(lea, "modul-a", score=score)
        deliver_all(classroom.app)
    classroom.record(lea, "modul-a", score=0.7)  # superseded before it left
    classroom.record(lea, "modul-a", score=0.9)
    deliver_all(classroom.app)
    classroom.lms.faults(
        {"scores": {"status": 400, "count": 1}}
    )  # fay's course grade is refused (sent first)
    classroom.record(fay, "modul-a", score=0.5)
    deliver_all(classroom.app)
    classroom.lms.faults(
        {"scores": {"status": 404, "count": 1}}
    )  # rex's course grade: its grade item is gone
    classroom.record(rex, "modul-a", score=0.5)
    deliver_all(classroom.app)
    classroom.lms.clear_faults()
    classroom.record(wes, "modul-a", score=0.5)  # waiting (no worker runs)

    before = classroom.rows()
    states = {str(state): sum(1 for r in before if r.state == state) for state in outbox.STATES}
    # lea: the module grade sent three times (one superseded), the course grade once (it did not change);
    # fay's and rex's module grades were sent
    assert states["sent"] == 6 and states["superseded"] == 1 and states["pending"] == 2
    assert states["failed"] == 1 and states["removed"] == 1
    needed = _newest_ids(before) | {r.id for r in before if r.state not in ("sent", "applied", "superseded")}

    # Today nothing goes: the gradebook's timeline still lists every delivery, superseded rows are an hour old
    # at most.
    assert _prune(classroom, at=utcnow()) == 0
    # After an hour the superseded rows go; every delivery stays for the timeline.
    later = utcnow() + dt.timedelta(hours=1, minutes=1)
    assert _prune(classroom, at=later) == states["superseded"]
    assert {r.id for r in classroom.rows()} == {r.id for r in before if r.state != "superseded"}
    # With GRADE_HISTORY_DAYS 0 sent rows are kept for ever.
    assert _prune(classroom, at=utcnow() + dt.timedelta(days=3650), days=0) == 0
    # Past the history: every sent row goes but the newest of each grade; failed, removed and waiting rows stay.
    much_later = utcnow() + dt.timedelta(days=181)
    assert _prune(classroom, at=much_later, days=180) > 0
    after = classroom.rows()
    assert {r.id for r in after} == needed
    assert _prune(classroom, at=much_later, days=180) == 0

    # What the rows were kept for still works: the gradebook shows each grade's newest delivery...
    with session_scope(classroom.app) as s:
        scope = Scope(classroom.context_id, classroom.platform_id, classroom.course)
        shown = detail(s, scope, lea)
        assert sorted(d.state for d in shown.deliveries) == ["sent", "sent"]
        assert all(d.id in needed for d in shown.deliveries)
    # ...a new score gets a timestamp after the one the platform holds and is accepted (a 409 for the same
    # whole second as the kept previous delivery is explained by it and sent once more, as without pruning)...
    classroom.record(lea, "modul-a", score=1.0)
    deliver_all(classroom.app)
    [newest] = [r for r in classroom.rows() if r.user_id == lea and r.module_id and r.id not in needed]
    assert newest.state == "sent" and newest.last_status == 200 and newest.restamps <= 1
    held = {(r["line_item_url"], r["user_id"]): r for r in classroom.lms.scores()}
    assert held[(newest.lineitem_url, "4")]["timestamp"] == newest.payload["timestamp"]
    # ...a removed grade item is not filled again, and "send again" still finds the failed grades.
    rex_course = [r for r in classroom.rows() if r.user_id == rex and r.module_id is None]
    assert [r.state for r in rex_course] == ["removed"]
    with session_scope(classroom.app, write=True) as s:
        again = outbox.resend(s, user_id=fay)
    assert [(r.module_id, r.state) for r in again] == [(None, "pending")]


def test_the_grade_workers_prune_with_their_housekeeping(classroom: Classroom) -> None:
    lea = classroom.person("4")
    classroom.record(lea, "modul-a", score=0.2)
    classroom.record(lea, "modul-a", score=0.4)  # the first module score is superseded before it leaves
    deliver_all(classroom.app)
    with session_scope(classroom.app, write=True) as s:  # an hour and more has passed since
        s.execute(
            update(GradeOutbox)
            .where(GradeOutbox.state == "superseded")
            .values(created_at=utcnow() - dt.timedelta(hours=2))
        )
    assert classroom.count("superseded") == 1 and classroom.count("sent") == 2
    worker = Worker(classroom.app, label="housekeeper")
    worker._last_housekeeping -= worker.housekeeping_every + 1  # its interval has passed
    worker.housekeep()
    assert classroom.count("superseded") == 0 and classroom.count("sent") == 2

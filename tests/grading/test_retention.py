"""Outbox retention (grading/outbox/retention.py): the grade workers prune old sent and superseded rows and
nothing that is still needed. States built through the progress services and delivered to the demo LMS: a
learner's grades sent several times (one score superseded on the way), a learner whose grade failed, one whose
grade item was deleted in the LMS, one whose grades are still waiting."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import update

from lti_tool.db import session_scope
from lti_tool.gradebook.detail import detail
from lti_tool.gradebook.rows import Scope
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


def _sent_several_times(classroom: Classroom, user: int) -> None:
    for score in (0.2, 0.4):
        classroom.record(user, "modul-a", score=score)
        deliver_all(classroom.app)
    classroom.record(user, "modul-a", score=0.6)  # superseded before it left
    classroom.record(user, "modul-a", score=0.8)
    deliver_all(classroom.app)


def test_pruning_keeps_the_newest_of_each_grade_and_everything_still_needed(classroom: Classroom) -> None:
    lea, fay, rex, wes = (classroom.person(sub) for sub in ("4", "5", "6", "7"))
    _sent_several_times(classroom, lea)
    classroom.lms.faults({"scores": {"status": 400, "count": 1}})  # one of fay's grades is refused
    classroom.record(fay, "modul-a", score=0.4)
    deliver_all(classroom.app)
    classroom.lms.faults({"scores": {"status": 404, "count": 1}})  # one of rex's grade items is gone
    classroom.record(rex, "modul-a", score=0.4)
    deliver_all(classroom.app)
    classroom.lms.clear_faults()
    classroom.record(wes, "modul-a", score=0.4)  # waiting (no worker runs)

    before = classroom.rows()
    newest = _newest_ids(before)
    old = {r.id for r in before if r.id not in newest}
    states = {str(state): {r.id for r in before if r.state == state} for state in outbox.STATES}
    assert states["superseded"] & old and states["sent"] & old
    assert states["failed"] and states["removed"] and states["pending"]
    needed = newest | {r.id for r in before if r.state not in ("sent", "applied", "superseded")}

    # Today nothing goes: the gradebook's timeline lists every delivery, superseded rows are an hour old at most.
    assert _prune(classroom, at=utcnow()) == 0
    # After an hour the superseded rows go (but a newest one); every delivery stays for the timeline.
    later = utcnow() + dt.timedelta(hours=1, minutes=1)
    assert _prune(classroom, at=later) == len(states["superseded"] & old)
    assert {r.id for r in classroom.rows()} == {r.id for r in before} - (states["superseded"] & old)
    # With GRADE_HISTORY_DAYS 0 sent rows are kept for ever.
    assert _prune(classroom, at=utcnow() + dt.timedelta(days=3650), days=0) == 0
    # Past the history: every sent row goes but the newest of each grade; failed, removed and waiting rows stay.
    much_later = utcnow() + dt.timedelta(days=181)
    assert _prune(classroom, at=much_later, days=180) > 0
    assert {r.id for r in classroom.rows()} == needed
    assert _prune(classroom, at=much_later, days=180) == 0

    # What they were kept for: the gradebook shows each of lea's grades with its newest delivery, sent...
    with session_scope(classroom.app) as s:
        scope = Scope(classroom.context_id, classroom.platform_id, classroom.course)
        shown = detail(s, scope, lea).deliveries
    assert len(shown) == len({r.target for r in before if r.user_id == lea})
    assert all(d.state == "sent" and d.id in newest for d in shown)
    # ...rex's deleted grade item still stops his grades, and "send again" still finds fay's failed one.
    assert {r.id for r in classroom.rows() if r.user_id == rex and r.state == "removed"} == states["removed"]
    with session_scope(classroom.app, write=True) as s:
        again = outbox.resend(s, user_id=fay)
    assert len(again) == len(states["failed"])


def test_a_new_score_after_pruning_is_later_than_the_one_the_platform_holds(classroom: Classroom) -> None:
    lea = classroom.person("4")
    _sent_several_times(classroom, lea)
    assert _prune(classroom, at=utcnow() + dt.timedelta(days=181)) > 0
    kept = {r.id for r in classroom.rows()}
    classroom.record(lea, "modul-a", score=1.0)
    deliver_all(classroom.app)
    fresh = [r for r in classroom.rows() if r.id not in kept]
    assert fresh and all(r.state == "sent" and r.last_status == 200 for r in fresh)
    # (a 409 for the same whole second as the kept previous delivery is explained by it and sent once more)
    assert all(r.restamps <= 1 for r in fresh)
    held = {(r["line_item_url"], r["user_id"]): r for r in classroom.lms.scores()}
    for row in fresh:
        assert held[(row.lineitem_url, "4")]["timestamp"] == row.payload["timestamp"]


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
    superseded = classroom.count("superseded")
    assert superseded >= 1
    sent = classroom.count("sent")
    worker = Worker(classroom.app, label="housekeeper")
    worker._last_housekeeping -= worker.housekeeping_every + 1  # its interval has passed
    worker.housekeep()
    assert classroom.count("superseded") == 0 and classroom.count("sent") == sent

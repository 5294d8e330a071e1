"""Migration 0018 (learner_summary) on a database holding progress, practice texts and grades written under the
previous schema: the table matches the models and is filled with what a rebuild from the same rows gives (modules
done, lessons seen, completion, last activity, texts waiting for review, the course grade counted); down and up
again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lti_tool.gradebook.summary import differences, rebuild
from lti_tool.models import LearnerSummary

from ..migrations import LINK_ITEM, downgrade, outbox_row, previous_revision, session, upgrade_to_head

AT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(days=2)
COURSE = "grundlagenkurs"


def test_summary_migration_fills_the_summary_from_existing_rows(empty_database: str) -> None:
    with previous_revision(empty_database, "0017") as old:
        assert "learner_summary" not in old.tables
        old.course(AT, users=(1, 2, 3))
        old.link(AT, LINK_ITEM)
        owner = {"context_id": 1, "course_id": COURSE}
        old.insert(
            "course_progress",
            {"id": 1, "user_id": 1, **owner, "started_at": AT, "completed_at": LATER, "updated_at": LATER},
            {"id": 2, "user_id": 2, **owner, "started_at": AT, "completed_at": None, "updated_at": AT},
        )
        old.insert(
            "module_progress",
            {"id": 1, "user_id": 1, **owner, "module_id": "modul-a", "lessons_seen": 2, "attempts": 1, "started_at": AT,
             "best_score": 1.0, "completed_at": AT, "updated_at": AT},
            {"id": 2, "user_id": 1, **owner, "module_id": "modul-b", "lessons_seen": 3, "attempts": 2, "started_at": AT,
             "best_score": 0.9, "completed_at": LATER, "updated_at": LATER},
            {"id": 3, "user_id": 2, **owner, "module_id": "modul-a", "lessons_seen": 1, "attempts": 0, "started_at": AT,
             "best_score": None, "completed_at": None, "updated_at": AT},
        )  # fmt: skip
        old.insert(
            "practice_submission",
            {"id": 1, "user_id": 1, **owner, "module_id": "modul-a", "text": "x", "submitted_at": AT,
             "updated_at": AT, "reviewed_at": AT, "feedback": "gut", "revision_requested_at": None},
            {"id": 2, "user_id": 2, **owner, "module_id": "modul-a", "text": "y", "submitted_at": AT,
             "updated_at": AT, "reviewed_at": None, "feedback": None, "revision_requested_at": None},
            # a revision asked for: waits for the learner, not for a review
            {"id": 3, "user_id": 2, **owner, "module_id": "modul-b", "text": "z", "submitted_at": AT,
             "updated_at": AT, "reviewed_at": None, "feedback": None, "revision_requested_at": AT},
        )  # fmt: skip
        course = "course:grundlagenkurs@link:1"
        graded = {"scoreGiven": 100.0, "scoreMaximum": 100.0, "gradingProgress": "FullyGraded"}
        pending = {"scoreGiven": None, "scoreMaximum": 100.0, "gradingProgress": "Pending"}
        old.insert(
            "grade_outbox",
            outbox_row(1, AT, course, "sent", {**graded, "scoreGiven": 50.0}),
            outbox_row(2, AT, course, "sent", graded),  # the newest of the target: counts
            outbox_row(3, AT, course, "failed", pending, user_id=2),  # waiting for a review: no value counts
        )
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        rows = {
            row.user_id: row
            for row in s.execute(
                select(
                    LearnerSummary.user_id,
                    LearnerSummary.started,
                    LearnerSummary.modules_done,
                    LearnerSummary.lessons_seen,
                    LearnerSummary.completed_at,
                    LearnerSummary.last_activity,
                    LearnerSummary.review_waiting,
                    LearnerSummary.grade,
                    LearnerSummary.delivery_failed,
                )
            )
        }
        assert set(rows) == {1, 2}  # user 3 has no progress
        one, two = rows[1], rows[2]
        assert (one.started, one.modules_done, one.lessons_seen, one.review_waiting, one.grade) == (
            True,
            2,
            5,
            0,
            100.0,
        )
        assert one.completed_at == LATER and one.last_activity == LATER and not one.delivery_failed
        assert (two.started, two.modules_done, two.lessons_seen, two.review_waiting, two.grade) == (
            True,
            0,
            1,
            1,
            None,
        )
        assert two.completed_at is None and two.last_activity == AT and two.delivery_failed
        # What the migration wrote is what the tool's own rebuild computes from the same rows.
        assert differences(s) == []
        assert rebuild(s) == 2
        assert differences(s) == []
        s.rollback()
    assert "learner_summary" not in downgrade(empty_database, "0017")
    upgrade_to_head(empty_database)

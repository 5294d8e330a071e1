"""Migration 0018 (learner_summary) on a database holding progress, practice texts and grades written under the
previous schema: the table matches the models and is filled with what a rebuild from the same rows gives (modules
done, lessons seen, completion, last activity, texts waiting for review, the course grade counted); down and up
again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from alembic import command
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.gradebook.summary import differences, rebuild
from lti_tool.models import LearnerSummary

from ..grading.test_migration import _diff, empty_database  # noqa: F401  (the fixture)

AT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(days=2)
COURSE = "grundlagenkurs"


def _grade(n: int, user: int, target: str, state: str, payload: Mapping[str, object]) -> dict[str, object]:
    stamp = f"2026-11-30T09:00:0{n}.000000+00:00"
    return {
        "id": n,
        "platform_id": 1,
        "user_id": user,
        "context_id": 1,
        "resource_link_id": None,
        "target": target,
        "lineitem_url": "https://lms.example/lineitem/1",
        "payload": {"userId": str(user), "timestamp": stamp, **payload},
        "score_timestamp": stamp,
        "state": state,
        "attempts": 0,
        "restamps": 0,
        "next_attempt_at": AT,
        "created_at": AT,
        "course_id": COURSE,
        "module_id": None,
    }


def _write_previous_schema_rows(url: str) -> None:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    assert "learner_summary" not in t
    with engine.begin() as conn:
        conn.execute(
            t["platform"]
            .insert()
            .values(
                id=1,
                issuer="https://lms.example",
                client_id="c",
                name="LMS",
                auth_login_url="https://lms.example/a",
                auth_token_url="https://lms.example/t",
                jwks_url="https://lms.example/j",
                registered_via="cli",
                created_at=AT,
            )
        )
        conn.execute(
            t["deployment"]
            .insert()
            .values(id=1, platform_id=1, deployment_id="d", active=True, created_at=AT)
        )
        conn.execute(
            t["context"]
            .insert()
            .values(
                id=1, deployment_id=1, context_id="k", title="Kurs", label="K", created_at=AT, updated_at=AT
            )
        )
        conn.execute(
            t["lti_user"].insert(),
            [{"id": n, "platform_id": 1, "sub": f"u{n}", "created_at": AT} for n in (1, 2, 3)],
        )
        owner = {"context_id": 1, "course_id": COURSE}
        conn.execute(
            t["course_progress"].insert(),
            [
                {
                    "id": 1,
                    "user_id": 1,
                    **owner,
                    "started_at": AT,
                    "completed_at": LATER,
                    "updated_at": LATER,
                },
                {"id": 2, "user_id": 2, **owner, "started_at": AT, "completed_at": None, "updated_at": AT},
            ],
        )
        conn.execute(
            t["module_progress"].insert(),
            [
                {"id": 1, "user_id": 1, **owner, "module_id": "modul-a", "lessons_seen": 2, "attempts": 1, "started_at": AT,
                 "best_score": 1.0, "completed_at": AT, "updated_at": AT},
                {"id": 2, "user_id": 1, **owner, "module_id": "modul-b", "lessons_seen": 3, "attempts": 2, "started_at": AT,
                 "best_score": 0.9, "completed_at": LATER, "updated_at": LATER},
                {"id": 3, "user_id": 2, **owner, "module_id": "modul-a", "lessons_seen": 1, "attempts": 0, "started_at": AT,
                 "best_score": None, "completed_at": None, "updated_at": AT},
            ],
        )  # fmt: skip
        conn.execute(
            t["practice_submission"].insert(),
            [
                {"id": 1, "user_id": 1, **owner, "module_id": "modul-a", "text": "x", "submitted_at": AT,
                 "updated_at": AT, "reviewed_at": AT, "feedback": "gut", "revision_requested_at": None},
                {"id": 2, "user_id": 2, **owner, "module_id": "modul-a", "text": "y", "submitted_at": AT,
                 "updated_at": AT, "reviewed_at": None, "feedback": None, "revision_requested_at": None},
                # a revision asked for: waits for the learner, not for a review
                {"id": 3, "user_id": 2, **owner, "module_id": "modul-b", "text": "z", "submitted_at": AT,
                 "updated_at": AT, "reviewed_at": None, "feedback": None, "revision_requested_at": AT},
            ],
        )  # fmt: skip
        course = "course:grundlagenkurs@link:1"
        graded = {"scoreGiven": 100.0, "scoreMaximum": 100.0, "gradingProgress": "FullyGraded"}
        pending = {"scoreGiven": None, "scoreMaximum": 100.0, "gradingProgress": "Pending"}
        conn.execute(
            t["grade_outbox"].insert(),
            [
                _grade(1, 1, course, "sent", {**graded, "scoreGiven": 50.0}),
                _grade(2, 1, course, "sent", graded),  # the newest of the target: counts
                _grade(3, 2, course, "failed", pending),  # waiting for a review: no value counts
            ],
        )
    engine.dispose()


def test_summary_migration_fills_the_summary_from_existing_rows(empty_database: str) -> None:  # noqa: F811
    command.upgrade(alembic_config(empty_database), "0017")
    _write_previous_schema_rows(empty_database)
    upgrade(empty_database)
    assert _diff(empty_database) == []
    engine = create_engine(empty_database)
    try:
        with Session(engine) as s:
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
    finally:
        engine.dispose()
    command.downgrade(alembic_config(empty_database), "0017")
    engine = create_engine(empty_database)
    try:
        assert "learner_summary" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert _diff(empty_database) == []

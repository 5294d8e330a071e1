"""Migration 0014 (review rounds) on a database holding practice tasks written under the previous schema: the
schema matches the models; each reviewed task becomes round 1, accepted, with its text, feedback, reviewer and
time; tasks not reviewed have no round and wait for a review; nothing asks for a revision; the learner can be
reviewed again through the service; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.models import PracticeReviewRound, PracticeSubmission

from ..grading.test_migration import _diff, empty_database  # noqa: F401  (the fixture)

SUBMITTED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
CHANGED = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
REVIEWED = dt.datetime(2026, 11, 4, 9, 0, tzinfo=dt.UTC)


def _task(n: int, user_id: int, module_id: str, reviewed: bool, feedback: str | None) -> dict[str, object]:
    return {
        "id": n,
        "user_id": user_id,
        "context_id": 1,
        "course_id": "grundlagenkurs",
        "module_id": module_id,
        "text": f"Text {n} <mit> Zeichen & so",
        "submitted_at": SUBMITTED,
        "updated_at": CHANGED,
        "reviewed_at": REVIEWED if reviewed else None,
        "reviewer_id": 3 if reviewed else None,
        "feedback": feedback,
    }


def _write_previous_schema_rows(url: str) -> None:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    assert "practice_review_round" not in t and "revision_requested_at" not in t["practice_submission"].c
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
                created_at=SUBMITTED,
            )
        )
        conn.execute(
            t["deployment"]
            .insert()
            .values(id=1, platform_id=1, deployment_id="d", active=True, created_at=SUBMITTED)
        )
        conn.execute(
            t["context"]
            .insert()
            .values(
                id=1,
                deployment_id=1,
                context_id="k",
                title="Kurs",
                label="K",
                created_at=SUBMITTED,
                updated_at=SUBMITTED,
            )
        )
        conn.execute(
            t["lti_user"].insert(),
            [{"id": n, "platform_id": 1, "sub": f"u{n}", "created_at": SUBMITTED} for n in (1, 2, 3)],
        )
        conn.execute(
            t["practice_submission"].insert(),
            [
                _task(1, 1, "modul-a", True, "Gut begründet."),
                _task(2, 1, "modul-b", True, None),  # reviewed without written feedback
                _task(3, 2, "modul-a", False, None),
            ],
        )
    engine.dispose()


def test_review_rounds_migration_turns_each_review_into_an_accepted_first_round(
    empty_database: str,  # noqa: F811
) -> None:
    command.upgrade(alembic_config(empty_database), "0013")
    _write_previous_schema_rows(empty_database)
    upgrade(empty_database)
    assert _diff(empty_database) == []
    engine = create_engine(empty_database)
    try:
        with Session(engine) as s:
            rounds = [
                (r.submission_id, r.user_id, r.module_id, r.number, r.decision, r.text, r.feedback)
                for r in s.scalars(select(PracticeReviewRound).order_by(PracticeReviewRound.submission_id))
            ]
            assert rounds == [
                (1, 1, "modul-a", 1, "accepted", "Text 1 <mit> Zeichen & so", "Gut begründet."),
                (2, 1, "modul-b", 1, "accepted", "Text 2 <mit> Zeichen & so", ""),
            ]
            first = s.scalars(select(PracticeReviewRound).where(PracticeReviewRound.submission_id == 1)).one()
            assert (first.reviewer_id, first.reviewed_at, first.text_updated_at) == (3, REVIEWED, CHANGED)
            tasks = {t.id: t for t in s.scalars(select(PracticeSubmission))}
            assert all(t.revision_requested_at is None for t in tasks.values())
            assert (tasks[1].reviewed_at, tasks[3].reviewed_at) == (REVIEWED, None)
            # A later round numbers on from the migrated one.
            s.add(
                PracticeReviewRound(
                    submission_id=1,
                    user_id=1,
                    context_id=1,
                    course_id="grundlagenkurs",
                    module_id="modul-a",
                    number=2,
                    decision="accepted",
                    text=tasks[1].text,
                    text_updated_at=CHANGED,
                    feedback="Ergänzt.",
                    reviewer_id=3,
                )
            )
            s.commit()
    finally:
        engine.dispose()
    command.downgrade(alembic_config(empty_database), "0013")
    engine = create_engine(empty_database)
    try:
        assert "practice_review_round" not in inspect(engine).get_table_names()
        columns = {c["name"] for c in inspect(engine).get_columns("practice_submission")}
        assert "revision_requested_at" not in columns and "feedback" in columns
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert _diff(empty_database) == []

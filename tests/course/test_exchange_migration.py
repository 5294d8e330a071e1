"""Migration 0017 (exchange replies) on a database holding practice answers written under the previous schema:
the schema matches the models; every answer stays visible with no reply read yet; replies and a municipality
can be written; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import MetaData, create_engine, func, inspect, select
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.models import ExchangeProfile, ExchangeReply, PracticeSubmission

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
    assert "exchange_reply" not in t and "hidden_at" not in t["practice_submission"].c
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


def test_exchange_migration_keeps_answers_visible_and_takes_replies(empty_database: str) -> None:  # noqa: F811
    command.upgrade(alembic_config(empty_database), "0016")
    _write_previous_schema_rows(empty_database)
    upgrade(empty_database)
    assert _diff(empty_database) == []
    engine = create_engine(empty_database)
    try:
        with Session(engine) as s:
            answers = s.scalars(select(PracticeSubmission).order_by(PracticeSubmission.id)).all()
            assert [(a.id, a.text, a.hidden_at, a.replies_seen_at) for a in answers] == [
                (n, f"Text {n} <mit> Zeichen & so", None, None) for n in (1, 2, 3)
            ]
            s.add(
                ExchangeReply(
                    submission_id=1,
                    user_id=2,
                    context_id=1,
                    course_id="grundlagenkurs",
                    module_id="modul-a",
                    text="Ein Kommentar.",
                )
            )
            s.add(ExchangeProfile(user_id=2, context_id=1, municipality="Stadt Aachen"))
            s.commit()
            assert s.scalars(select(ExchangeReply.text)).all() == ["Ein Kommentar."]
    finally:
        engine.dispose()
    command.downgrade(alembic_config(empty_database), "0016")
    engine = create_engine(empty_database)
    try:
        assert not {"exchange_reply", "exchange_profile"} & set(inspect(engine).get_table_names())
        columns = {c["name"] for c in inspect(engine).get_columns("practice_submission")}
        assert not {"hidden_at", "hidden_by", "hidden_reason", "replies_seen_at"} & columns
        with Session(engine) as s:
            assert s.execute(select(func.count()).select_from(PracticeSubmission.__table__)).scalar() == 3
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert _diff(empty_database) == []

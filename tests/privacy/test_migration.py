"""Migration 0010 (erasures) on a database holding a learner written under the previous schema: the schema matches
the models, the learner's grades are not held, and an erasure made afterwards holds; down and up again. SQLite
always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.models import Erasure, User

from ..grading.test_migration import _diff, empty_database  # noqa: F401  (the fixture)

JOINED = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)


def _write_previous_schema_rows(url: str) -> None:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    assert "erasure" not in t and "grades_held" not in t["lti_user"].c
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
                created_at=JOINED,
            )
        )
        conn.execute(
            t["lti_user"]
            .insert()
            .values(id=1, platform_id=1, sub="u", name="Lea Schneider", created_at=JOINED)
        )
    engine.dispose()


def test_erasures_migration_keeps_learners_and_holds_no_grades(empty_database: str) -> None:  # noqa: F811
    command.upgrade(alembic_config(empty_database), "0009")
    _write_previous_schema_rows(empty_database)
    upgrade(empty_database)
    assert _diff(empty_database) == []
    engine = create_engine(empty_database)
    try:
        with Session(engine) as s:
            lea = s.scalars(select(User)).one()
            assert (lea.name, lea.grades_held) == ("Lea Schneider", False)
            s.add(Erasure(subject="a" * 64, key_id="k" * 16, erased_at=JOINED, send_grades=False))
            s.commit()
            assert s.scalars(select(Erasure.send_grades)).one() is False
    finally:
        engine.dispose()
    command.downgrade(alembic_config(empty_database), "0009")
    engine = create_engine(empty_database)
    try:
        assert "erasure" not in inspect(engine).get_table_names()
        assert "grades_held" not in {c["name"] for c in inspect(engine).get_columns("lti_user")}
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert _diff(empty_database) == []

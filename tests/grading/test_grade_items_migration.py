"""Migration 0012 (grade items the teacher chose) on a database holding grades written under the previous schema:
the schema matches the models, links ask for no per-module items, known line items are not removed, and a
per-module grade still waiting for its line item to be created is withdrawn (the old default created those for
every activity) while every other row stays as it was; down and up again. SQLite always; PostgreSQL with
TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.models import GradeOutbox, LineItem, ResourceLink

from .test_migration import _diff, empty_database  # noqa: F401  (the fixture)

AT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
ITEM = "https://lms.example/mod/lti/services.php/k/lineitems/7/lineitem?type_id=1"
OWN = "https://lms.example/mod/lti/services.php/k/lineitems/1/lineitem?type_id=1"


def _grade(n: int, target: str, state: str, url: str | None, module_id: str | None) -> dict[str, object]:
    stamp = f"2026-11-30T09:00:0{n}.000000+00:00"
    return {
        "id": n,
        "platform_id": 1,
        "user_id": 1,
        "context_id": 1,
        "resource_link_id": None if target.endswith("@lineitems") else 1,
        "target": target,
        "lineitem_url": url,
        "payload": {"userId": "u", "scoreGiven": 50.0, "timestamp": stamp},
        "score_timestamp": stamp,
        "state": state,
        "attempts": 0,
        "restamps": 0,
        "next_attempt_at": AT,
        "created_at": AT,
        "course_id": "grundlagenkurs",
        "module_id": module_id,
    }


def _write_previous_schema_rows(url: str) -> None:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    assert "module_grade_items" not in t["resource_link"].c
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
            t["resource_link"]
            .insert()
            .values(
                id=1,
                deployment_id=1,
                context_id=1,
                resource_link_id="1",
                title="Grundlagenkurs",
                course_id="grundlagenkurs",
                lineitem_url=OWN,
                created_at=AT,
                updated_at=AT,
            )
        )
        conn.execute(t["lti_user"].insert().values(id=1, platform_id=1, sub="u", created_at=AT))
        conn.execute(
            t["line_item"]
            .insert()
            .values(
                id=1,
                context_id=1,
                url=ITEM,
                resource_id="modul-a",
                label="1. Modul a",
                tag="grundlagenkurs",
                score_maximum=100.0,
                created_at=AT,
            )
        )
        conn.execute(
            t["grade_outbox"].insert(),
            [
                _grade(1, "course:grundlagenkurs@link:1", "sent", OWN, None),
                _grade(2, "module:grundlagenkurs/modul-a@lineitems", "sent", ITEM, "modul-a"),
                _grade(3, "module:grundlagenkurs/modul-a@lineitems", "pending", ITEM, "modul-a"),
                _grade(4, "module:grundlagenkurs/modul-b@lineitems", "pending", None, "modul-b"),
                _grade(5, "course:grundlagenkurs@link:1", "pending", OWN, None),
            ],
        )
    engine.dispose()


def test_grade_items_migration_keeps_grades_and_withdraws_unasked_module_items(
    empty_database: str,  # noqa: F811
) -> None:
    command.upgrade(alembic_config(empty_database), "0011")
    _write_previous_schema_rows(empty_database)
    upgrade(empty_database)
    assert _diff(empty_database) == []
    engine = create_engine(empty_database)
    try:
        with Session(engine) as s:
            assert s.scalars(select(ResourceLink.module_grade_items)).all() == [False]
            assert s.scalars(select(LineItem.removed_at)).all() == [None]
            states = {row.id: row.state for row in s.execute(select(GradeOutbox.id, GradeOutbox.state))}
            assert states == {1: "sent", 2: "sent", 3: "pending", 4: "superseded", 5: "pending"}
    finally:
        engine.dispose()
    command.downgrade(alembic_config(empty_database), "0011")
    engine = create_engine(empty_database)
    try:
        assert "module_grade_items" not in {c["name"] for c in inspect(engine).get_columns("resource_link")}
        assert "removed_at" not in {c["name"] for c in inspect(engine).get_columns("line_item")}
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert _diff(empty_database) == []

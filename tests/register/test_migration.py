"""Migration 0009 (certification register) on a database holding data written by the previous schema: the schema
matches the models, every course completed before is in the register (activity unknown), operators stay
operators, certificates keep their state; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.models import Certificate, Operator, RegisterEntry

from ..grading.test_migration import _diff, empty_database  # noqa: F401  (the fixture)

JOINED = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)
DONE = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def _write_previous_schema_rows(url: str) -> None:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    assert "register_entry" not in t and "role" not in t["operator"].c
    with engine.begin() as conn:
        conn.execute(
            t["platform"].insert(),
            [
                {
                    "issuer": f"https://lms{n}.example",
                    "client_id": "c",
                    "name": f"LMS {n}",
                    "auth_login_url": "https://lms.example/a",
                    "auth_token_url": "https://lms.example/t",
                    "jwks_url": "https://lms.example/j",
                    "registered_via": "cli",
                    "created_at": JOINED,
                }
                for n in (1, 2)
            ],
        )
        platforms = [row[0] for row in conn.execute(select(t["platform"].c.id).order_by(t["platform"].c.id))]
        for platform_id in platforms:
            conn.execute(
                t["deployment"]
                .insert()
                .values(platform_id=platform_id, deployment_id="d", active=True, created_at=JOINED)
            )
        deployments = [
            row[0] for row in conn.execute(select(t["deployment"].c.id).order_by(t["deployment"].c.id))
        ]
        for deployment_id in deployments:
            conn.execute(
                t["context"]
                .insert()
                .values(
                    deployment_id=deployment_id,
                    context_id="k",
                    title="Kurs",
                    label="K",
                    created_at=JOINED,
                    updated_at=JOINED,
                )
            )
        contexts = [row[0] for row in conn.execute(select(t["context"].c.id).order_by(t["context"].c.id))]
        for platform_id in platforms:
            for sub in ("done", "busy"):
                conn.execute(
                    t["lti_user"].insert().values(platform_id=platform_id, sub=sub, created_at=JOINED)
                )
        users = {
            (row[1], row[2]): row[0]
            for row in conn.execute(
                select(t["lti_user"].c.id, t["lti_user"].c.platform_id, t["lti_user"].c.sub)
            )
        }
        for platform_id, context_id in zip(platforms, contexts, strict=True):
            for sub in ("done", "busy"):
                conn.execute(
                    t["course_progress"]
                    .insert()
                    .values(
                        user_id=users[(platform_id, sub)],
                        context_id=context_id,
                        course_id="grundlagenkurs",
                        started_at=JOINED,
                        completed_at=DONE if sub == "done" else None,
                        updated_at=DONE,
                    )
                )
        conn.execute(
            t["certificate"]
            .insert()
            .values(
                code="AAAA-BBBB-CCCC",
                user_id=users[(platforms[0], "done")],
                context_id=contexts[0],
                course_id="grundlagenkurs",
                holder_name="Lea Schneider",
                course_title="Testkurs Nachhaltigkeit",
                issuer_name="Testträger",
                modules=[],
                started_at=JOINED,
                completed_at=DONE,
                issued_at=DONE,
            )
        )
        conn.execute(
            t["operator"].insert().values(username="ops", password_hash="scrypt:x", created_at=JOINED)
        )
    engine.dispose()


def test_register_migration_puts_earlier_completions_into_the_register(empty_database: str) -> None:  # noqa: F811
    command.upgrade(alembic_config(empty_database), "0008")
    _write_previous_schema_rows(empty_database)
    upgrade(empty_database)
    assert _diff(empty_database) == []
    engine = create_engine(empty_database)
    try:
        with Session(engine) as s:
            entries = s.scalars(select(RegisterEntry).order_by(RegisterEntry.platform_id)).all()
            assert len(entries) == 2  # the two completions; the course in progress is not in the register
            assert {e.completed_at for e in entries} == {DONE}
            assert all(e.resource_link_id is None for e in entries)  # the activity is not known
            assert len({e.platform_id for e in entries}) == 2
            assert s.scalars(select(Operator.role)).one() == "operator"
            cert = s.scalars(select(Certificate)).one()
            assert (cert.revoked_at, cert.revoked_by, cert.revoked_reason) == (None, None, None)
    finally:
        engine.dispose()
    command.downgrade(alembic_config(empty_database), "0008")
    engine = create_engine(empty_database)
    try:
        assert "register_entry" not in inspect(engine).get_table_names()
        assert "role" not in {c["name"] for c in inspect(engine).get_columns("operator")}
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert _diff(empty_database) == []

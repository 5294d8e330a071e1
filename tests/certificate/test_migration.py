"""Migration 0008 (certificate details) on a database holding a certificate issued under the previous schema: the
schema matches the models, the old certificate gets its course period from the membership, keeps an unstated
workload, and still prints and verifies; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.models import Certificate

from ..grading.test_migration import _diff, empty_database  # noqa: F401  (the fixture)

JOINED = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)
DONE = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def _write_previous_schema_rows(url: str) -> None:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    assert "started_at" not in t["certificate"].c
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
            t["deployment"]
            .insert()
            .values(id=1, platform_id=1, deployment_id="d", active=True, created_at=JOINED)
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
                created_at=JOINED,
                updated_at=JOINED,
            )
        )
        conn.execute(t["lti_user"].insert().values(id=1, platform_id=1, sub="u", created_at=JOINED))
        conn.execute(
            t["membership"]
            .insert()
            .values(
                id=1,
                user_id=1,
                context_id=1,
                roles=[],
                is_instructor=False,
                created_at=JOINED,
                last_launch_at=JOINED,
            )
        )
        conn.execute(
            t["certificate"]
            .insert()
            .values(
                id=1,
                code="AAAA-BBBB-CCCC",
                user_id=1,
                context_id=1,
                course_id="grundlagenkurs",
                holder_name="Lea Schneider",
                course_title="Testkurs Nachhaltigkeit",
                issuer_name="Testträger",
                modules=[{"position": 1, "title": "Modul a", "completed_at": DONE.isoformat()}],
                completed_at=DONE,
                issued_at=DONE,
            )
        )
    engine.dispose()


def test_certificate_details_migration_keeps_issued_certificates(empty_database: str) -> None:  # noqa: F811
    command.upgrade(alembic_config(empty_database), "0007")
    _write_previous_schema_rows(empty_database)
    upgrade(empty_database)
    assert _diff(empty_database) == []
    engine = create_engine(empty_database)
    try:
        with Session(engine) as s:
            cert = s.scalars(select(Certificate)).one()
            assert cert.started_at == JOINED  # from the membership: the first launch
            assert (cert.workload_hours, cert.teaching_units, cert.issuer_url) == (None, None, None)
            assert cert.holder_name == "Lea Schneider" and cert.completed_at == DONE
    finally:
        engine.dispose()
    command.downgrade(alembic_config(empty_database), "0007")
    engine = create_engine(empty_database)
    try:
        assert "started_at" not in {c["name"] for c in inspect(engine).get_columns("certificate")}
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert _diff(empty_database) == []

"""Migration 0016 (access tokens in the launch store) on a database holding tokens written under the previous
schema: the token still in use moves to the launch store under the key the token cache reads, so no platform is
asked again after the upgrade; an expired one does not; the `access_token` table goes and the schema matches the
models; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt
import json

from alembic import command
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.grading.tokens import scope_key
from lti_tool.models import LaunchCache

from .test_migration import _diff, empty_database  # noqa: F401  (the fixture)

PREVIOUS = "0015"
AT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
SCORE = ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]
NRPS = ["https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"]


def _write_previous_schema_rows(url: str, use_until: dt.datetime) -> None:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
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
            t["access_token"].insert(),
            [
                {"platform_id": 1, "scope_key": scope_key(SCORE), "token": "live", "expires_at": use_until},
                {"platform_id": 1, "scope_key": scope_key(NRPS), "token": "old", "expires_at": AT},
            ],
        )
    engine.dispose()


def test_tokens_in_use_move_to_the_launch_store_and_the_table_goes(
    empty_database: str,  # noqa: F811
) -> None:
    command.upgrade(alembic_config(empty_database), PREVIOUS)
    use_until = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)).replace(microsecond=0)
    _write_previous_schema_rows(empty_database, use_until)
    upgrade(empty_database)
    assert _diff(empty_database) == []
    engine = create_engine(empty_database)
    try:
        assert "access_token" not in inspect(engine).get_table_names()
        with Session(engine) as s:
            rows = {row.key: row for row in s.scalars(select(LaunchCache))}
    finally:
        engine.dispose()
    assert set(rows) == {f"access-token:1:{scope_key(SCORE)}"}  # the expired token stayed behind
    moved = rows[f"access-token:1:{scope_key(SCORE)}"]
    assert json.loads(moved.value) == {"token": "live", "use_until": use_until.timestamp()}
    assert moved.expires_at == use_until

    command.downgrade(alembic_config(empty_database), PREVIOUS)
    engine = create_engine(empty_database)
    try:
        assert "access_token" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert _diff(empty_database) == []

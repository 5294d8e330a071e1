"""Migration 0015 (the destination in a column, the lease in lease_until alone) on a database holding grades
written under the previous revision: the schema matches the models; rows for the tool's per-module line items
say 'module_item', the others 'link'; the lease end the previous code wrote as the "last attempt" of a row in
flight or given back unsent is cleared, every real last attempt stays; down and up again. SQLite always;
PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.models import GradeOutbox

from .test_migration import _diff, empty_database  # noqa: F401  (the fixture)

AT = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
LEASE_END = AT + dt.timedelta(minutes=15)  # claimed at AT + 14 min with a one-minute lease
ITEM = "https://lms.example/mod/lti/services.php/k/lineitems/7/lineitem?type_id=1"
OWN = "https://lms.example/mod/lti/services.php/k/lineitems/1/lineitem?type_id=1"
COURSE = "course:grundlagenkurs@link:1"
MODULE = "module:grundlagenkurs/modul-a@lineitems"


def _grade(n: int, target: str, state: str, **values: object) -> dict[str, object]:
    stamp = f"2026-12-06T09:00:0{n}.000000+00:00"
    row: dict[str, object] = {
        "id": n,
        "platform_id": 1,
        "user_id": 1,
        "context_id": 1,
        "resource_link_id": None if target == MODULE else 1,
        "target": target,
        "lineitem_url": ITEM if target == MODULE else OWN,
        "payload": {"userId": "u", "scoreGiven": 50.0, "timestamp": stamp},
        "score_timestamp": stamp,
        "state": state,
        "attempts": 0,
        "restamps": 0,
        "next_attempt_at": AT,
        "created_at": AT,
        "course_id": "grundlagenkurs",
        "module_id": "modul-a" if target == MODULE else None,
        "last_attempt_at": None,
        "sent_at": None,
        "last_status": None,
        "lease_until": None,
        "claimed_by": None,
    }
    row.update(values)
    return row


def _write_previous_revision_rows(url: str) -> None:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    assert "destination" not in t["grade_outbox"].c
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
        ended = AT + dt.timedelta(minutes=1)
        conn.execute(
            t["grade_outbox"].insert(),
            [
                # delivered: its last attempt is real
                _grade(1, COURSE, "sent", attempts=1, last_attempt_at=ended, sent_at=ended, last_status=200),
                # failed once, waiting for its retry: real
                _grade(
                    2,
                    MODULE,
                    "pending",
                    attempts=1,
                    last_attempt_at=ended,
                    next_attempt_at=AT + dt.timedelta(minutes=5),
                ),
                # in flight: the old claim wrote the lease end everywhere
                _grade(
                    3,
                    COURSE,
                    "sending",
                    attempts=1,
                    claimed_by="w",
                    lease_until=LEASE_END,
                    next_attempt_at=LEASE_END,
                    last_attempt_at=LEASE_END,
                ),
                # given back unsent by a stopping worker, never attempted
                _grade(4, MODULE, "pending", attempts=0, last_attempt_at=LEASE_END, next_attempt_at=AT),
                # given back unsent after an earlier real attempt (the release came before the lease end)
                _grade(
                    5,
                    MODULE,
                    "pending",
                    attempts=1,
                    last_attempt_at=LEASE_END,
                    next_attempt_at=LEASE_END - dt.timedelta(seconds=30),
                ),
            ],
        )
    engine.dispose()


def test_destination_column_and_lease_migration_keeps_real_attempts(
    empty_database: str,  # noqa: F811
) -> None:
    command.upgrade(alembic_config(empty_database), "0014")
    _write_previous_revision_rows(empty_database)
    upgrade(empty_database)
    assert _diff(empty_database) == []
    engine = create_engine(empty_database)
    try:
        with Session(engine) as s:
            rows = {row.id: row for row in s.scalars(select(GradeOutbox))}
            destinations = {n: row.destination for n, row in rows.items()}
            assert destinations == {
                1: "link",
                2: "module_item",
                3: "link",
                4: "module_item",
                5: "module_item",
            }
            ended = AT + dt.timedelta(minutes=1)
            attempts = {n: row.last_attempt_at for n, row in rows.items()}
            assert attempts == {1: ended, 2: ended, 3: None, 4: None, 5: None}
            assert rows[3].lease_until == LEASE_END and rows[3].state == "sending"  # the lease itself stays
            assert {n: row.state for n, row in rows.items()} == {
                1: "sent",
                2: "pending",
                3: "sending",
                4: "pending",
                5: "pending",
            }
    finally:
        engine.dispose()
    command.downgrade(alembic_config(empty_database), "0014")
    engine = create_engine(empty_database)
    try:
        assert "destination" not in {c["name"] for c in inspect(engine).get_columns("grade_outbox")}
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert _diff(empty_database) == []

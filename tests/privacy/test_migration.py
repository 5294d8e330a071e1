"""Migration 0010 (erasures) on a database holding a learner written under the previous schema: the schema matches
the models, the learner's grades are not held, and an erasure made afterwards holds; down and up again. SQLite
always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lti_tool.models import Erasure, User

from ..migrations import downgrade, previous_revision, session, upgrade_to_head

JOINED = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)


def test_erasures_migration_keeps_learners_and_holds_no_grades(empty_database: str) -> None:
    with previous_revision(empty_database, "0009") as old:
        assert "erasure" not in old.tables and "grades_held" not in old.columns("lti_user")
        old.platform(JOINED)
        old.insert(
            "lti_user", {"id": 1, "platform_id": 1, "sub": "u", "name": "Lea Schneider", "created_at": JOINED}
        )
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        lea = s.scalars(select(User)).one()
        assert (lea.name, lea.grades_held) == ("Lea Schneider", False)
        s.add(Erasure(subject="a" * 64, key_id="k" * 16, erased_at=JOINED, send_grades=False))
        s.commit()
        assert s.scalars(select(Erasure.send_grades)).one() is False
    schema = downgrade(empty_database, "0009")
    assert "erasure" not in schema and "grades_held" not in schema["lti_user"]
    upgrade_to_head(empty_database)

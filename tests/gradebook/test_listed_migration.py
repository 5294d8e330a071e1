"""Migration 0020 (listed_learner) on a database holding a participant list and launches written under the
previous schema: the table matches the models and lists whom the gradebook listed (roster learners and people who
launched as learners, never a teacher), with the launch's name before the roster's, as a rebuild from the same rows
does; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lti_tool.gradebook.summary import differences, rebuild
from lti_tool.models import ListedLearner

from ..migrations import downgrade, previous_revision, session, upgrade_to_head

AT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(days=2)


def test_listed_migration_lists_whom_the_gradebook_listed(empty_database: str) -> None:
    with previous_revision(empty_database, "0019") as old:
        assert "listed_learner" not in old.tables
        old.course(AT, users=(1, 2, 3))
        users = old.tables["lti_user"]
        old.conn.execute(users.update().where(users.c.id == 1).values(name="Änne Launch"))
        member = {"context_id": 1, "created_at": AT}
        old.insert(
            "membership",
            {"id": 1, "user_id": 1, "roles": ["Learner"], "is_instructor": False, "last_launch_at": LATER, **member},
            {"id": 2, "user_id": 2, "roles": ["Instructor"], "is_instructor": True, "last_launch_at": AT, **member},
            {"id": 3, "user_id": 3, "roles": ["Learner"], "is_instructor": False, "last_launch_at": AT, **member},
        )  # fmt: skip
        roster = {"context_id": 1, "roles": ["Learner"], "is_learner": True, "fetched_at": AT}
        old.insert(
            "roster_entry",
            {"id": 1, "sub": "u1", "name": "Anne Roster", "email": "anne@example.org", "status": "Active", **roster},
            # launched as a teacher: not listed, although the roster says learner
            {"id": 2, "sub": "u2", "name": "Lehrerin", "email": None, "status": "Active", **roster},
            {"id": 3, "sub": "r9", "name": "Zoë Roster", "email": None, "status": "Inactive", **roster},
            {"id": 4, "sub": "t7", "name": "Tutor", "email": None, "status": "Active",
             **{**roster, "roles": ["Instructor"], "is_learner": False}},
        )  # fmt: skip
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        rows = {
            row.sub: row
            for row in s.scalars(select(ListedLearner).order_by(ListedLearner.sort_key, ListedLearner.sub))
        }
        assert list(rows) == ["u1", "r9", "u3"]  # by name (Ä as A), the nameless last
        one, roster_only, nameless = rows["u1"], rows["r9"], rows["u3"]
        assert (one.user_id, one.name, one.email, one.roster_status) == (
            1,
            "Änne Launch",
            "anne@example.org",
            "Active",
        )
        assert one.last_launch_at == LATER
        assert (roster_only.user_id, roster_only.name, roster_only.roster_status) == (
            None,
            "Zoë Roster",
            "Inactive",
        )
        assert (nameless.user_id, nameless.name, nameless.roster_status) == (3, None, None)
        # What the migration wrote is what the tool's own rebuild computes from the same rows.
        assert differences(s) == []
        rebuild(s)
        assert differences(s) == []
        s.rollback()
    assert "listed_learner" not in downgrade(empty_database, "0019")
    upgrade_to_head(empty_database)

"""Migration 0009 (certification register) on a database holding data written by the previous schema: the schema
matches the models, every course completed before is in the register (activity unknown), operators stay
operators, certificates keep their state; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lti_tool.models import Certificate, Operator, RegisterEntry

from ..migrations import downgrade, previous_revision, session, upgrade_to_head

JOINED = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)
DONE = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
DONE_BY, BUSY = (
    {1: 1, 2: 3},
    {1: 2, 2: 4},
)  # on each platform, one learner completed the course and one did not


def test_register_migration_puts_earlier_completions_into_the_register(empty_database: str) -> None:
    with previous_revision(empty_database, "0008") as old:
        assert "register_entry" not in old.tables and "role" not in old.columns("operator")
        for n in (1, 2):
            old.course(JOINED, n, users=(DONE_BY[n], BUSY[n]))
            old.insert(
                "course_progress",
                *(
                    {"user_id": user, "context_id": n, "course_id": "grundlagenkurs", "started_at": JOINED,
                     "completed_at": DONE if user == DONE_BY[n] else None, "updated_at": DONE}
                    for user in (DONE_BY[n], BUSY[n])
                ),
            )  # fmt: skip
        old.insert(
            "certificate",
            {
                "code": "AAAA-BBBB-CCCC",
                "user_id": DONE_BY[1],
                "context_id": 1,
                "course_id": "grundlagenkurs",
                "holder_name": "Lea Schneider",
                "course_title": "Testkurs Nachhaltigkeit",
                "issuer_name": "Testträger",
                "modules": [],
                "started_at": JOINED,
                "completed_at": DONE,
                "issued_at": DONE,
            },
        )
        old.insert("operator", {"username": "ops", "password_hash": "scrypt:x", "created_at": JOINED})
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        entries = s.scalars(select(RegisterEntry).order_by(RegisterEntry.platform_id)).all()
        assert len(entries) == 2  # the two completions; the course in progress is not in the register
        assert {e.completed_at for e in entries} == {DONE}
        assert all(e.resource_link_id is None for e in entries)  # the activity is not known
        assert len({e.platform_id for e in entries}) == 2
        assert s.scalars(select(Operator.role)).one() == "operator"
        cert = s.scalars(select(Certificate)).one()
        assert (cert.revoked_at, cert.revoked_by, cert.revoked_reason) == (None, None, None)
    schema = downgrade(empty_database, "0008")
    assert "register_entry" not in schema and "role" not in schema["operator"]
    upgrade_to_head(empty_database)

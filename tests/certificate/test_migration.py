"""Migration 0008 (certificate details) on a database holding a certificate issued under the previous schema: the
schema matches the models, the old certificate gets its course period from the membership, keeps an unstated
workload, and still prints and verifies; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lti_tool.models import Certificate

from ..migrations import downgrade, previous_revision, session, upgrade_to_head

JOINED = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)
DONE = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def test_certificate_details_migration_keeps_issued_certificates(empty_database: str) -> None:
    with previous_revision(empty_database, "0007") as old:
        assert "started_at" not in old.columns("certificate")
        old.course(JOINED)
        old.insert(
            "membership",
            {"id": 1, "user_id": 1, "context_id": 1, "roles": [], "is_instructor": False, "created_at": JOINED,
             "last_launch_at": JOINED},
        )  # fmt: skip
        old.insert(
            "certificate",
            {
                "id": 1,
                "code": "AAAA-BBBB-CCCC",
                "user_id": 1,
                "context_id": 1,
                "course_id": "grundlagenkurs",
                "holder_name": "Lea Schneider",
                "course_title": "Testkurs Nachhaltigkeit",
                "issuer_name": "Testträger",
                "modules": [{"position": 1, "title": "Modul a", "completed_at": DONE.isoformat()}],
                "completed_at": DONE,
                "issued_at": DONE,
            },
        )
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        cert = s.scalars(select(Certificate)).one()
        assert cert.started_at == JOINED  # from the membership: the first launch
        assert (cert.workload_hours, cert.teaching_units, cert.issuer_url) == (None, None, None)
        assert cert.holder_name == "Lea Schneider" and cert.completed_at == DONE
    assert "started_at" not in downgrade(empty_database, "0007")["certificate"]
    upgrade_to_head(empty_database)

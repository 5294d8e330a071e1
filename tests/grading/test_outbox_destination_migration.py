"""Migration 0015 (the destination in a column, the lease in lease_until alone) on a database holding grades
written under the previous revision: the schema matches the models; rows for the tool's per-module line items
say 'module_item', the others 'link'; the lease end the previous code wrote as the "last attempt" of a row in
flight or given back unsent is cleared, every real last attempt stays; down and up again. SQLite always;
PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lti_tool.models import GradeOutbox

from ..migrations import LINK_ITEM, downgrade, outbox_row, previous_revision, session, upgrade_to_head

AT = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
LEASE_END = AT + dt.timedelta(minutes=15)  # claimed at AT + 14 min with a one-minute lease
ENDED = AT + dt.timedelta(minutes=1)
COURSE = "course:grundlagenkurs@link:1"
MODULE = "module:grundlagenkurs/modul-a@lineitems"


def test_destination_column_and_lease_migration_keeps_real_attempts(empty_database: str) -> None:
    with previous_revision(empty_database, "0014") as old:
        assert "destination" not in old.columns("grade_outbox")
        old.course(AT)
        old.link(AT, LINK_ITEM)
        old.insert(
            "grade_outbox",
            # delivered: its last attempt is real
            outbox_row(
                1, AT, COURSE, "sent", attempts=1, last_attempt_at=ENDED, sent_at=ENDED, last_status=200
            ),
            # failed once, waiting for its retry: real
            outbox_row(
                2,
                AT,
                MODULE,
                "pending",
                attempts=1,
                last_attempt_at=ENDED,
                next_attempt_at=AT + dt.timedelta(minutes=5),
            ),
            # in flight: the old claim wrote the lease end everywhere
            outbox_row(
                3,
                AT,
                COURSE,
                "sending",
                attempts=1,
                claimed_by="w",
                lease_until=LEASE_END,
                next_attempt_at=LEASE_END,
                last_attempt_at=LEASE_END,
            ),
            # given back unsent by a stopping worker, never attempted
            outbox_row(4, AT, MODULE, "pending", attempts=0, last_attempt_at=LEASE_END, next_attempt_at=AT),
            # given back unsent after an earlier real attempt (the release came before the lease end)
            outbox_row(
                5,
                AT,
                MODULE,
                "pending",
                attempts=1,
                last_attempt_at=LEASE_END,
                next_attempt_at=LEASE_END - dt.timedelta(seconds=30),
            ),
        )
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        rows = {row.id: row for row in s.scalars(select(GradeOutbox))}
        destinations = {n: row.destination for n, row in rows.items()}
        assert destinations == {1: "link", 2: "module_item", 3: "link", 4: "module_item", 5: "module_item"}
        attempts = {n: row.last_attempt_at for n, row in rows.items()}
        assert attempts == {1: ENDED, 2: ENDED, 3: None, 4: None, 5: None}
        assert rows[3].lease_until == LEASE_END and rows[3].state == "sending"  # the lease itself stays
        states = {n: row.state for n, row in rows.items()}
        assert states == {1: "sent", 2: "pending", 3: "sending", 4: "pending", 5: "pending"}
    assert "destination" not in downgrade(empty_database, "0014")["grade_outbox"]
    upgrade_to_head(empty_database)

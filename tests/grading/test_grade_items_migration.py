"""Migration 0012 (grade items the teacher chose) on a database holding grades written under the previous schema:
the schema matches the models, links ask for no per-module items, known line items are not removed, and a
per-module grade still waiting for its line item to be created is withdrawn (the old default created those for
every activity) while every other row stays as it was; down and up again. SQLite always; PostgreSQL with
TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lti_tool.models import GradeOutbox, LineItem, ResourceLink

from ..migrations import (
    LINK_ITEM,
    MODULE_ITEM,
    downgrade,
    outbox_row,
    previous_revision,
    session,
    upgrade_to_head,
)

AT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
COURSE = "course:grundlagenkurs@link:1"


def test_grade_items_migration_keeps_grades_and_withdraws_unasked_module_items(empty_database: str) -> None:
    with previous_revision(empty_database, "0011") as old:
        assert "module_grade_items" not in old.columns("resource_link")
        old.course(AT)
        old.link(AT, LINK_ITEM)
        old.insert(
            "line_item",
            {"id": 1, "context_id": 1, "url": MODULE_ITEM, "resource_id": "modul-a", "label": "1. Modul a",
             "tag": "grundlagenkurs", "score_maximum": 100.0, "created_at": AT},
        )  # fmt: skip
        old.insert(
            "grade_outbox",
            outbox_row(1, AT, COURSE, "sent"),
            outbox_row(2, AT, "module:grundlagenkurs/modul-a@lineitems", "sent"),
            outbox_row(3, AT, "module:grundlagenkurs/modul-a@lineitems", "pending"),
            outbox_row(4, AT, "module:grundlagenkurs/modul-b@lineitems", "pending", lineitem_url=None),
            outbox_row(5, AT, COURSE, "pending"),
        )
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        assert s.scalars(select(ResourceLink.module_grade_items)).all() == [False]
        assert s.scalars(select(LineItem.removed_at)).all() == [None]
        states = {row.id: row.state for row in s.execute(select(GradeOutbox.id, GradeOutbox.state))}
        assert states == {1: "sent", 2: "sent", 3: "pending", 4: "superseded", 5: "pending"}
    schema = downgrade(empty_database, "0011")
    assert "module_grade_items" not in schema["resource_link"] and "removed_at" not in schema["line_item"]
    upgrade_to_head(empty_database)

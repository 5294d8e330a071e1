"""Migration 0003 matches the models, and goes down and up again (SQLite; PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

from ..migrations import downgrade, upgrade_to_head


def test_grades_migration_matches_the_models_and_goes_down_and_up(empty_database: str) -> None:
    upgrade_to_head(empty_database)
    schema = downgrade(empty_database, "0001")
    assert "link_launch" not in schema and "restamps" not in schema["grade_outbox"]
    upgrade_to_head(empty_database)

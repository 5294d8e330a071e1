"""Migration 0003 matches the models, and goes down and up again (SQLite; PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from lti_tool.db import alembic_config, upgrade
from lti_tool.models import Base

from ..conftest import TEST_DATABASE_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    if not TEST_DATABASE_URL:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    # A fresh schema first on the search path is an empty database to Alembic (and cheaper than one).
    schema = f"migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(TEST_DATABASE_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _declared_in_models(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """PostgreSQL's trigram indexes of the register's search (migration register_search_index) live only in the
    migration: they need an extension, and the models also build SQLite databases."""
    return not (type_ == "index" and reflected and compare_to is None and (name or "").endswith("_trgm"))


def _diff(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _declared_in_models})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_grades_migration_matches_the_models_and_goes_down_and_up(empty_database: str) -> None:
    upgrade(empty_database)
    assert _diff(empty_database) == []
    command.downgrade(alembic_config(empty_database), "0001")
    engine = create_engine(empty_database)
    try:
        assert "link_launch" not in inspect(engine).get_table_names()
        assert "restamps" not in {c["name"] for c in inspect(engine).get_columns("grade_outbox")}
    finally:
        engine.dispose()
    upgrade(empty_database)
    assert _diff(empty_database) == []

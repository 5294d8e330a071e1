"""Migrations register_search_index and register_search_scan: on PostgreSQL trigram indexes that the register's own
search query uses (the index expression must be the query's expression, or PostgreSQL ignores it); down and up
again; a database role that may not create the extension gets the migrations done without them. SQLite: an index
that the search scans instead of the certificates, found by SQLite's planner for the search the register runs."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.models import Certificate, User
from lti_tool.register import entries, search

from ..conftest import TEST_DATABASE_URL
from ..migrations import downgrade, previous_revision, schema_diff, session, upgrade_to_head

INDEXES = {
    "ix_lti_user_name_trgm",
    "ix_lti_user_email_trgm",
    "ix_certificate_holder_name_trgm",
    "ix_certificate_code_trgm",  # migration register_search_scan
}
BEFORE = "0012"
BEFORE_SCAN = "0018"
SCAN = "ix_certificate_search_scan"


def _trigram_indexes(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        names = {
            ix["name"] for table in ("lti_user", "certificate") for ix in inspect(engine).get_indexes(table)
        }
    finally:
        engine.dispose()
    return {name for name in names if name and name.endswith("_trgm")}


def _index_names(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {ix["name"] or "" for ix in inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def _plans(url: str, q: str) -> str:
    """PostgreSQL's plans for the register's learner and certificate searches for `q`, with sequential scans
    priced out (a test database is too small for the planner to prefer an index on its own)."""
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            plans = []
            for query in (
                select(User.id).where(search.learner_matches(s, q)),
                select(Certificate.id).where(search.certificate_matches(s, q)),
            ):
                sql = str(query.compile(dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True}))
                plans += [row[0] for row in s.execute(text("EXPLAIN " + sql))]
            return "\n".join(plans)
    finally:
        engine.dispose()


def test_trigram_indexes_serve_the_register_search_and_go_down_and_up(empty_database: str) -> None:
    with previous_revision(empty_database, BEFORE) as old:
        old.platform(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
        old.insert(
            "lti_user",
            {"platform_id": 1, "sub": "s1", "name": "Jürgen Krüger", "email": "j.krueger@kreis-unna.example",
             "created_at": dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)},
        )  # fmt: skip
        if old.conn.dialect.name == "postgresql":  # enough learners for the planner to weigh an index at all
            old.conn.execute(
                text(
                    "INSERT INTO lti_user (platform_id, sub, name, email, created_at) SELECT p.id, 'n' || n, "
                    "'Person ' || n, 'p' || n || '@example.org', CURRENT_TIMESTAMP FROM platform p, "
                    "generate_series(1, 20000) AS n"
                )
            )
    upgrade_to_head(empty_database)
    if make_url(empty_database).get_backend_name() != "postgresql":
        assert _trigram_indexes(empty_database) == set()
        return
    assert _trigram_indexes(empty_database) == INDEXES
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    by_name = _plans(empty_database, "krüger")
    assert "ix_lti_user_name_trgm" in by_name and "ix_lti_user_email_trgm" in by_name, by_name
    assert "ix_certificate_holder_name_trgm" in by_name, by_name
    command.downgrade(alembic_config(empty_database), BEFORE)
    assert _trigram_indexes(empty_database) == set()
    upgrade(empty_database)
    assert _trigram_indexes(empty_database) == INDEXES


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_without_the_right_to_create_the_extension_the_migration_goes_on_without_the_indexes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin_url = make_url(TEST_DATABASE_URL)
    database, role = f"nama_noext_{uuid.uuid4().hex[:8]}", f"nama_noext_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        owner = create_engine(admin_url.set(database=database), isolation_level="AUTOCOMMIT")
        with owner.connect() as conn:  # the role may make tables in its schema, and nothing else
            conn.execute(text(f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"'))
            conn.execute(text(f'REVOKE CREATE ON DATABASE "{database}" FROM PUBLIC'))
        owner.dispose()
        url = admin_url.set(database=database, username=role, password=None).render_as_string(
            hide_password=False
        )
        with caplog.at_level("WARNING"):
            upgrade(url)
        assert "pg_trgm could not be created" in caplog.text
        assert _trigram_indexes(url) == set()
        assert schema_diff(url) == []
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_the_search_reads_certificates_through_an_index_after_the_upgrade(empty_database: str) -> None:
    """Data written by revision 0018 (a learner whose LMS name changed after the certificate, and a learner
    without a certificate); after the upgrade the register's search finds the first by the certificate's name and
    by part of its code, the certificates read through the new index; down and up again."""
    at = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
    with previous_revision(empty_database, BEFORE_SCAN) as old:
        old.course(at, users=(1, 2))
        old.conn.execute(old.tables["lti_user"].update().values(name="Lea Müller"))
        old.insert(
            "register_entry",
            *({"user_id": u, "platform_id": 1, "context_id": 1, "course_id": "grundlagenkurs",
               "completed_at": at, "created_at": at} for u in (1, 2)),
        )  # fmt: skip
        old.insert(
            "certificate",
            {"code": "7KQ2-XM4P-9RBT", "user_id": 1, "context_id": 1, "course_id": "grundlagenkurs",
             "holder_name": "Lea Schneider", "course_title": "Grundlagenkurs", "issuer_name": "NaMa NRW",
             "modules": [], "completed_at": at, "issued_at": at},
        )  # fmt: skip
    upgrade_to_head(empty_database)
    postgres = make_url(empty_database).get_backend_name() == "postgresql"
    assert (SCAN in _index_names(empty_database, "certificate")) is not postgres
    with session(empty_database) as s:
        for q in ("schneider", "xm4p", "7KQ2-XM"):
            found = entries.page(s, search.Filters(q=q), {})
            assert [row.code for row in found.rows] == ["7KQ2-XM4P-9RBT"] and found.total == 1, q
        if not postgres:
            sql = search.filtered_entries(s, search.Filters(q="7KQ2-XM")).compile(
                compile_kwargs={"literal_binds": True}
            )
            plan = " ".join(str(row[-1]) for row in s.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert f"SCAN certificate USING COVERING INDEX {SCAN}" in plan, plan
    downgrade(empty_database, BEFORE_SCAN)
    assert SCAN not in _index_names(empty_database, "certificate")
    assert "ix_certificate_code_trgm" not in _index_names(empty_database, "certificate")
    upgrade_to_head(empty_database)

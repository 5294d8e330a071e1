"""How a request's transaction ends: a request that only read keeps PostgreSQL's prepared statements (it ends with
COMMIT, psycopg forgets them on ROLLBACK); anything that may have written and was not committed is rolled back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask, abort
from sqlalchemy import select, text

from lti_tool import db
from lti_tool.models import LaunchCache

MARKER = "SELECT 'nama-test-prepared' AS marker, count(*) FROM launch_cache WHERE key = :key"


def _routes(app: Flask) -> None:
    @app.get("/_test/read")
    def read() -> str:
        db.session().execute(text(MARKER), {"key": "k"}).one()
        return "read"

    @app.get("/_test/prepared")
    def prepared() -> str:
        found = db.session().execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%nama-test-prepared%'")
        )
        return str(found.scalar_one())

    @app.get("/_test/read-then-404")
    def read_then_404() -> str:
        db.session().execute(text(MARKER), {"key": "k"}).one()
        abort(404)

    @app.get("/_test/write/<how>")
    def write(how: str) -> str:
        s = db.session()
        s.execute(text(MARKER), {"key": "k"}).one()  # a read first: the transaction is begun as a reader
        values = {"key": how, "value": "1", "expires_at": dt.datetime(2099, 1, 1, tzinfo=dt.UTC)}
        if how == "insert":
            s.execute(
                text("INSERT INTO launch_cache (key, value, expires_at) VALUES (:key, :value, :expires_at)"),
                values,
            )
        elif how == "cte":
            # a SELECT with a data-modifying part, as the launch's one statement on PostgreSQL
            s.execute(
                text(
                    "WITH written AS (INSERT INTO launch_cache (key, value, expires_at) "
                    "VALUES (:key, :value, :expires_at) RETURNING key) SELECT count(*) FROM written"
                ),
                values,
            ).one()
        else:  # an ORM object added, never flushed
            s.add(LaunchCache(**values))
        return "not committed"


def _stored(app: Flask) -> list[str]:
    with db.session_scope(app) as s:
        return list(s.scalars(select(LaunchCache.key)))


@pytest.mark.parametrize("how", ["insert", "cte", "orm"])
def test_writes_a_request_did_not_commit_are_rolled_back(app: Flask, database_url: str, how: str) -> None:
    if how == "cte" and not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no data-modifying CTEs")
    _routes(app)
    client = app.test_client()
    resp = client.get(f"/_test/write/{how}")
    assert resp.status_code == 200
    assert client.get("/_test/read").status_code == 200
    assert _stored(app) == []


def test_read_only_requests_keep_prepared_statements(app: Flask, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: psycopg's prepared statements")
    _routes(app)
    client = app.test_client()
    assert client.get("/_test/prepared").get_data(as_text=True) == "0"
    for _ in range(3):
        assert client.get("/_test/read").status_code == 200
    # a read ended by an error page (nothing written) keeps them too
    assert client.get("/_test/read-then-404").status_code == 404
    for _ in range(3):
        assert client.get("/_test/read").status_code == 200
    # psycopg prepares a statement on its sixth run on a connection; the app has one connection in its pool here.
    assert app.extensions["nama_db"].engine.pool.checkedin() == 1
    assert client.get("/_test/prepared").get_data(as_text=True) == "1"


def test_statements_that_may_write() -> None:
    may_write: Any = db._may_write
    assert not may_write("SELECT a FROM t WHERE b = %(b)s")
    assert not may_write("  with x AS (SELECT 1) SELECT * FROM x")
    assert not may_write("SELECT updated_at, deleted FROM t")
    for statement in (
        "INSERT INTO t VALUES (1)",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "WITH w AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM w",
        "WITH w AS (UPDATE t SET a = 1 RETURNING id) SELECT id FROM w",
        "SELECT a FROM t FOR UPDATE",
        "SELECT a INTO u FROM t",
        "TRUNCATE t",
        "SELECT 1; DELETE FROM t",
        "BEGIN",
    ):
        assert may_write(statement), statement

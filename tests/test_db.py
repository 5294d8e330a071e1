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


def _cache_row(key: str) -> dict[str, Any]:
    return {"key": key, "value": "1", "expires_at": dt.datetime(2099, 1, 1, tzinfo=dt.UTC)}


_INSERT = text("INSERT INTO launch_cache (key, value, expires_at) VALUES (:key, :value, :expires_at)")


def test_write_transaction_commits_only_when_told(app: Flask) -> None:
    """The launch POST's transaction (db.write_transaction): what `commit()` ends is kept; a block left by an
    error, or without `commit()` (a refusal), leaves nothing; its connection goes back to the pool."""
    with app.app_context():
        with db.write_transaction() as tx:
            tx.conn.execute(_INSERT, _cache_row("kept"))
            tx.commit()
        with db.write_transaction() as tx:
            tx.conn.execute(_INSERT, _cache_row("not committed"))
        with pytest.raises(RuntimeError), db.write_transaction() as tx:
            tx.conn.execute(_INSERT, _cache_row("failed"))
            raise RuntimeError("refused")
    assert _stored(app) == ["kept"]
    pool = app.extensions["nama_db"].engine.pool
    assert pool.checkedout() == 0


def test_write_transaction_is_a_writer_from_its_start_on_sqlite(app: Flask, database_url: str) -> None:
    """SQLite: BEGIN IMMEDIATE, so a second writer waits at its BEGIN (busy_timeout) instead of failing mid-way."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    import sqlite3

    path = database_url.removeprefix("sqlite:///")
    with app.app_context(), db.write_transaction():
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


def test_write_transaction_session_commits_it_and_wakes_after_the_commit(app: Flask) -> None:
    """A service's ORM Session over the transaction (a returning learner's grade reconcile): its changes are
    flushed and committed with the connection's statements, and its `after_commit` hooks (the grade worker's
    wake-up) run once the rows are committed, when another connection sees them."""
    from sqlalchemy import event

    seen: list[list[str]] = []
    with app.app_context():
        with db.write_transaction() as tx:
            tx.conn.execute(_INSERT, _cache_row("statement"))
            s = tx.session()
            assert tx.session() is s
            s.add(LaunchCache(**_cache_row("orm")))
            event.listen(s, "after_commit", lambda _s: seen.append(sorted(_stored(app))), once=True)
            tx.commit()
        assert seen == [["orm", "statement"]]
        with db.write_transaction() as tx:
            tx.session().add(LaunchCache(**_cache_row("orm, rolled back")))
            tx.conn.execute(_INSERT, _cache_row("statement, rolled back"))
        with db.write_transaction() as tx:  # a session asked for that ran nothing: the statements commit
            tx.conn.execute(_INSERT, _cache_row("statement, session unused"))
            tx.session()
            tx.commit()
    assert sorted(_stored(app)) == ["orm", "statement", "statement, session unused"]
    assert app.extensions["nama_db"].engine.pool.checkedout() == 0


def test_write_transaction_on_a_lost_connection_fails_once_and_the_next_one_works(
    app: Flask, database_url: str
) -> None:
    """PostgreSQL: a backend terminated under the launch's transaction (a server restart, an operator's
    pg_terminate_backend) fails that launch with the connection invalidated, not given back to the pool; the
    next transaction gets a live connection."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: a terminated backend")
    from sqlalchemy import exc, func
    from sqlalchemy.dialects import postgresql

    from lti_tool.cursorsql import CursorStatement

    insert = CursorStatement(
        postgresql.insert(LaunchCache).values(key="lost", value="1", expires_at=func.now())
    )
    engine = app.extensions["nama_db"].engine
    with app.app_context():
        with pytest.raises(exc.DBAPIError) as raised, db.write_transaction() as tx:
            pid = tx.conn.execute(select(func.pg_backend_pid())).scalar_one()
            with engine.connect() as other:
                other.execute(select(func.pg_terminate_backend(pid)))
            insert.execute(tx.conn, {})
        assert raised.value.connection_invalidated
        with db.write_transaction() as tx:
            insert.execute(tx.conn, {})
            tx.commit()
    assert _stored(app) == ["lost"]


def test_read_alone_joins_an_open_transaction_and_else_runs_outside_one(
    app: Flask, database_url: str
) -> None:
    """db.read_alone: in the request session's transaction when it has one open (it sees that transaction's own
    writes), else on a pooled connection outside any transaction, handed back out of autocommit; on PostgreSQL a
    pooled connection found inside a transaction reads in it, and is handed back rolled back."""
    from sqlalchemy import event, func
    from sqlalchemy.dialects import postgresql, sqlite

    from lti_tool.cursorsql import CursorStatement

    count = CursorStatement(select(func.count()).select_from(LaunchCache).where(LaunchCache.key == "alone"))
    values = {"key": "alone", "value": "1", "expires_at": dt.datetime(2099, 1, 1, tzinfo=dt.UTC)}
    engine = app.extensions["nama_db"].engine
    postgres = database_url.startswith("postgresql")
    with app.test_request_context():
        assert db.read_alone(count, {}) == [(0,)]
        s = db.write_session()
        s.execute((postgresql.insert if postgres else sqlite.insert)(LaunchCache).values(**values))
        assert db.read_alone(count, {}) == [(1,)]  # in the session's transaction: its own write
        assert db.read_alone(count, {}, s) == [(1,)]
        s.rollback()
        assert db.read_alone(count, {}) == [(0,)]
    if not postgres:
        return

    def begin(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.execute("SELECT 1")  # psycopg begins a transaction of its own

    event.listen(engine, "checkout", begin)
    try:
        with app.test_request_context():
            assert db.read_alone(count, {}) == [(0,)]
    finally:
        event.remove(engine, "checkout", begin)
    from psycopg import pq

    pooled = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    try:
        assert all(
            not c.dbapi_connection.autocommit
            and c.dbapi_connection.info.transaction_status == pq.TransactionStatus.IDLE
            for c in pooled
        )
    finally:
        for c in pooled:
            c.close()

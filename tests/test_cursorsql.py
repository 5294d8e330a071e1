"""A statement run on the DBAPI cursor (lti_tool/cursorsql.py) writes and returns what SQLAlchemy's execution of the
same statement writes and returns, is seen by the engine's statement listeners, and fails as SQLAlchemy fails."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    exc,
    exists,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from lti_tool import create_app
from lti_tool.cursorsql import CursorStatement
from lti_tool.db import make_engine
from lti_tool.models.base import UTCDateTime

from .conftest import TEST_DATABASE_URL
from .peer import Launcher

metadata = MetaData()
probe = Table(
    "probe",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False, unique=True),
    Column("flag", Boolean, nullable=False),
    Column("doc", JSON),
    Column("at", UTCDateTime, nullable=False),
)
held = Table("held", metadata, Column("subject", String(50), primary_key=True))

_ins = sqlite.insert(probe).values(
    name=bindparam("name"),
    flag=exists().where(held.c.subject.in_(bindparam("subjects", expanding=True))),
    doc=bindparam("doc", type_=JSON),
    at=bindparam("at", type_=UTCDateTime),
)
UPSERT = _ins.on_conflict_do_update(
    index_elements=[probe.c.name], set_={"doc": _ins.excluded.doc, "at": _ins.excluded.at}
).returning(probe.c.id, probe.c.flag, probe.c.doc, probe.c.at)
AT = dt.datetime(2026, 12, 7, 3, 4, 5, 678901, tzinfo=dt.UTC)
stamped = Table(
    "stamped",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False, unique=True),
    Column("n", Integer, default=7),
    Column("at", UTCDateTime, default=lambda: AT),
    Column("doc", JSON, default=dict),
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'probe.db'}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(held.insert(), [{"subject": "erased"}])
    yield engine
    engine.dispose()


def _rows(engine: Engine) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        return {r.name: tuple(r)[2:] for r in conn.execute(select(probe))}


@pytest.mark.parametrize(
    "subjects", [[], ["someone"], ["someone", "erased"], ["a", "b", "c", "erased"]], ids=len
)
@pytest.mark.parametrize("doc", [None, {"roles": ["Learner"], "n": 1.5}, [], "text"])
def test_writes_and_returns_what_sqlalchemy_does(engine: Engine, subjects: list[str], doc: Any) -> None:
    on_cursor = CursorStatement(UPSERT)
    returned = {}
    with engine.begin() as conn:
        runs: list[tuple[str, Callable[[dict[str, Any]], Sequence[Any]]]] = [
            ("sqlalchemy", lambda p: list(conn.execute(UPSERT, p))),
            ("cursor", lambda p: on_cursor.execute(conn, p)),
        ]
        for name, run in runs:
            params = {"name": name, "subjects": subjects, "doc": doc, "at": AT}
            first = run(params)
            again = run({**params, "at": AT + dt.timedelta(seconds=1)})  # the conflict's update
            returned[name] = [tuple(r)[1:] for r in (*first, *again)]
    assert returned["cursor"] == returned["sqlalchemy"]
    assert returned["cursor"][0] == ("erased" in subjects, doc, AT)
    rows = _rows(engine)
    assert rows["cursor"] == rows["sqlalchemy"]
    assert rows["cursor"][2] == AT + dt.timedelta(seconds=1)
    assert rows["cursor"][2].tzinfo is dt.UTC


def test_listeners_see_each_statement_as_sqlite_runs_it(engine: Engine) -> None:
    seen: list[tuple[str, Any]] = []
    ran: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    on_cursor = CursorStatement(UPSERT)
    with engine.begin() as conn:  # (its BEGIN is not counted here)
        sqlite3_conn: Any = conn.connection.driver_connection
        sqlite3_conn.set_trace_callback(ran.append)
        event.listen(engine, "before_cursor_execute", listener)
        try:
            for n in range(2):
                on_cursor.execute(conn, {"name": f"n{n}", "subjects": ["x"], "doc": {}, "at": AT})
        finally:
            event.remove(engine, "before_cursor_execute", listener)
            sqlite3_conn.set_trace_callback(None)
    assert len(seen) == len(ran) == 2
    assert all(statement.startswith("INSERT INTO probe") for statement, _ in seen)
    assert seen[0][1] == ["n0", "x", "{}", "2026-12-07 03:04:05.678901"]


def test_fails_as_sqlalchemy_fails(engine: Engine) -> None:
    plain = CursorStatement(probe.insert().values(name=bindparam("name"), flag=True, at=AT))
    with engine.begin() as conn:
        plain.execute(conn, {"name": "once"})
        with pytest.raises(exc.IntegrityError):
            plain.execute(conn, {"name": "once"})
    with engine.connect() as conn, pytest.raises(RuntimeError):
        plain.execute(conn, {"name": "outside a transaction"})  # would commit on its own (autocommit)
    assert list(_rows(engine)) == ["once"]


@pytest.fixture
def app(test_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app({**test_config, "BENCH_COUNT_QUERIES": True, "ENV": "development"})
    yield application
    application.extensions["nama_db"].dispose()


def test_launch_post_statements_are_counted(app: Flask, launcher: Launcher) -> None:
    """The benchmark's counter sees the launch's writes: on SQLite BEGIN IMMEDIATE, the nonce's marker, user,
    context, link, link launch, membership, session and the gradebook's two rows; on PostgreSQL one statement
    (with Redis the nonce's marker is not a statement)."""
    first = launcher.launch()  # (the first also reads the registration into the process's cache)
    assert first.status_code == 303, first.text[:500]
    resp = launcher.launch(sub="user-2")
    assert resp.status_code == 303, resp.text[:500]
    redis = bool(app.config.get("REDIS_URL"))
    if app.extensions["nama_db"].dialect == "sqlite":
        assert int(resp.headers["X-Query-Count"]) == (9 if redis else 10)
    else:
        assert int(resp.headers["X-Query-Count"]) == 1


class _CountingTime(UTCDateTime):
    calls = 0
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        _CountingTime.calls += 1
        return super().process_bind_param(value, dialect)


def test_a_value_bound_to_one_type_is_processed_once_per_unit_of_work(engine: Engine) -> None:
    shared, other = _CountingTime(), _CountingTime()
    one = CursorStatement(
        probe.insert().values(name="one", flag=True, at=bindparam("a", type_=shared), doc=None)
    )
    two = CursorStatement(probe.update().where(probe.c.name == "one").values(at=bindparam("b", type_=shared)))
    three = CursorStatement(
        probe.update().where(probe.c.name == "one").values(at=bindparam("c", type_=other))
    )
    later = AT + dt.timedelta(hours=1)
    _CountingTime.calls = 0
    with engine.begin() as conn:
        done: dict[tuple[int, int], Any] = {}
        params = {"a": AT, "b": AT, "c": later}
        for stmt in (one, two, three):
            stmt.execute(conn, params, done)
    assert _CountingTime.calls == 2  # AT once for `shared`, `later` once for `other`
    assert _rows(engine)["one"][2] == later


# --- PostgreSQL (psycopg: the statement compiled with $1 placeholders and run on a raw cursor) ---------------------

_pg_ins = postgresql.insert(probe).values(
    name=bindparam("name"),
    flag=exists().where(held.c.subject.in_(bindparam("subjects", expanding=True))),
    doc=bindparam("doc", type_=JSON),
    at=bindparam("at", type_=UTCDateTime),
)
PG_UPSERT = _pg_ins.on_conflict_do_update(
    index_elements=[probe.c.name], set_={"doc": _pg_ins.excluded.doc, "at": _pg_ins.excluded.at}
).returning(
    probe.c.id,
    probe.c.flag,
    probe.c.doc,
    probe.c.at,
    (probe.c.id > 0).label("positive"),  # a value of the statement's own (an anonymous bind parameter)
    (literal_column("'100%'") == bindparam("percent")).label("percent"),  # a % in the SQL text
)


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """The probe tables in a schema of their own in TEST_DATABASE_URL's database."""
    if not TEST_DATABASE_URL:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    schema = f"cursorsql_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(held.insert(), [{"subject": "erased"}])
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.parametrize(
    "subjects", [[], ["someone"], ["someone", "erased"], ["a", "b", "c", "erased"]], ids=len
)
@pytest.mark.parametrize("doc", [None, {"roles": ["Learner"], "n": 1.5}, [], "text"])
def test_postgresql_writes_and_returns_what_sqlalchemy_does(
    pg_engine: Engine, subjects: list[str], doc: Any
) -> None:
    on_cursor = CursorStatement(PG_UPSERT)
    returned = {}
    with pg_engine.begin() as conn:
        runs: list[tuple[str, Callable[[dict[str, Any]], Sequence[Any]]]] = [
            ("sqlalchemy", lambda p: list(conn.execute(PG_UPSERT, p))),
            ("cursor", lambda p: on_cursor.execute(conn, p)),
        ]
        for name, run in runs:
            params = {"name": name, "subjects": subjects, "doc": doc, "at": AT, "percent": "100%"}
            first = run(params)
            again = run(
                {**params, "at": AT + dt.timedelta(seconds=1), "percent": "x"}
            )  # the conflict's update
            returned[name] = [tuple(r)[1:] for r in (*first, *again)]
    assert returned["cursor"] == returned["sqlalchemy"]
    assert returned["cursor"][0] == ("erased" in subjects, doc, AT, True, True)
    assert returned["cursor"][1][-1] is False
    rows = _rows(pg_engine)
    assert rows["cursor"] == rows["sqlalchemy"]
    assert rows["cursor"][2] == AT + dt.timedelta(seconds=1)
    assert rows["cursor"][2].tzinfo is dt.UTC


def test_postgresql_listeners_see_the_statement_and_psycopg_prepares_it(pg_engine: Engine) -> None:
    seen: list[tuple[str, Any]] = []

    def listener(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    on_cursor = CursorStatement(PG_UPSERT)
    with pg_engine.begin() as conn:
        event.listen(pg_engine, "before_cursor_execute", listener)
        try:
            for n in range(7):
                params = {"name": f"n{n}", "subjects": ["x"], "doc": {}, "at": AT, "percent": "100%"}
                on_cursor.execute(conn, params)
        finally:
            event.remove(pg_engine, "before_cursor_execute", listener)
        # psycopg prepares a statement on its sixth run on a connection, as it does with SQLAlchemy's execution
        prepared = conn.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert len(seen) == 7
    assert all(statement.startswith("INSERT INTO probe") and "$1" in statement for statement, _ in seen)
    assert seen[0][1][0] == "n0"
    assert [statement for statement in prepared if statement.startswith("INSERT INTO probe")] == [seen[0][0]]


def test_postgresql_fails_as_sqlalchemy_fails(pg_engine: Engine) -> None:
    plain = CursorStatement(postgresql.insert(probe).values(name=bindparam("name"), flag=True, at=AT))
    with pg_engine.begin() as conn:
        plain.execute(conn, {"name": "once"})
    with pg_engine.begin() as conn, pytest.raises(exc.IntegrityError):
        plain.execute(conn, {"name": "once"})
    assert list(_rows(pg_engine)) == ["once"]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """SQLite's engine, and with TEST_DATABASE_URL PostgreSQL's."""
    found: Engine = request.getfixturevalue("engine" if request.param == "sqlite" else "pg_engine")
    return found


def test_reads_what_sqlalchemy_reads(any_engine: Engine) -> None:
    """A SELECT of a join, its columns' results processed (dates, JSON, booleans), by an expanding parameter and
    others (the session's read, auth.py)."""
    query = (
        select(probe.c.name, probe.c.flag, probe.c.doc, probe.c.at, held.c.subject)
        .join(held, held.c.subject == probe.c.name, isouter=True)
        .where(probe.c.at >= bindparam("since", type_=UTCDateTime), probe.c.name.in_(bindparam("names")))
        .order_by(probe.c.name)
    )
    on_cursor = CursorStatement(query)
    with any_engine.begin() as conn:
        conn.execute(held.insert(), [{"subject": "b"}])
        for name, doc in [("a", {"x": [1, "ü"]}), ("b", None), ("c", "text")]:
            conn.execute(probe.insert().values(name=name, flag=name == "b", doc=doc, at=AT))
        for names in (["a"], ["a", "b", "c"], ["b", "c", "d"], []):
            for since in (AT, AT + dt.timedelta(microseconds=1)):
                params = {"since": since, "names": names}
                expected = [tuple(row) for row in conn.execute(query, params)]
                assert [tuple(row) for row in on_cursor.execute(conn, params)] == expected
                assert len(expected) == (0 if since > AT else len(set(names) - {"d"}))


def test_columns_left_out_get_the_defaults_sqlalchemy_gives_them(any_engine: Engine) -> None:
    """Python-side defaults (a scalar, a function, a type) of the columns an upsert leaves out (db.upsert's
    statements); the conflict's update leaves them as they are."""
    insert = postgresql.insert if any_engine.dialect.name == "postgresql" else sqlite.insert
    ins = insert(stamped).values(name=bindparam("name"))
    upsert = ins.on_conflict_do_update(
        index_elements=[stamped.c.name], set_={"n": bindparam("new_n")}
    ).returning(stamped.c.name, stamped.c.n, stamped.c.at, stamped.c.doc)
    on_cursor = CursorStatement(upsert)
    with any_engine.begin() as conn:
        conn.execute(stamped.insert().values(name="by sqlalchemy"))
        assert on_cursor.execute(conn, {"name": "by cursor", "new_n": 1}) == [("by cursor", 7, AT, {})]
        assert on_cursor.execute(conn, {"name": "by cursor", "new_n": 2}) == [("by cursor", 2, AT, {})]
        rows = [tuple(row)[2:] for row in conn.execute(select(stamped).order_by(stamped.c.id))]
    assert rows == [(7, AT, {}), (2, AT, {})]


def test_a_lost_connection_is_invalidated_as_sqlalchemy_does(pg_engine: Engine) -> None:
    """A backend ended under the connection: SQLAlchemy's error for it, the connection and the pool's older ones
    invalidated, and the pool gives a live one after."""
    on_cursor = CursorStatement(select(probe.c.id).where(probe.c.name == bindparam("name")))
    with pg_engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with pg_engine.connect() as other:
            other.execute(select(func.pg_terminate_backend(pid)))
            other.commit()
        with pytest.raises(exc.DBAPIError) as raised:
            on_cursor.execute(conn, {"name": "x"})
        assert raised.value.connection_invalidated and conn.invalidated
    with pg_engine.begin() as conn:
        assert on_cursor.execute(conn, {"name": "x"}) == []

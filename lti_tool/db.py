"""Engine, sessions and schema migrations.

One SQLAlchemy session per request (`db.session()`), closed on teardown; services take a session and never
commit, the edge (view, CLI command, worker loop) commits. `session_scope()` is that edge outside requests.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import functools
import hashlib
import importlib
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask.globals import _cv_app
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    exc,
    func,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy.orm import Session, sessionmaker

from .cursorsql import CursorStatement
from .models import Base

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


def _create_private_file(url: str) -> None:
    """A new SQLite database file is created readable by the tool's user only (0600); SQLite gives its WAL and
    shared-memory files the same mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:  # another process made it first
        return
    path.chmod(0o600)


def _fold(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        _create_private_file(url)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # isolation_level=None hands transaction control to us (BEGIN below), as SQLAlchemy documents
            # for pysqlite, so that writers take the lock at BEGIN IMMEDIATE instead of failing mid-way.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten with zeros, not left in free pages (a learner's deletion is a
            # deletion in the file too; `checkpoint` then empties the WAL).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()
            # SQLite's lower() folds ASCII letters only: searches with umlauts use this (lti_tool/register).
            dbapi_conn.create_function("nama_fold", 1, _fold, deterministic=True)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("sqlite_immediate")
            # On the DBAPI cursor with the engine's statement listeners and error handling (SQLAlchemy's own
            # way for its few statements outside a compiled one): `exec_driver_sql` set up an execution context
            # and a result for it, ~140,000 instructions of every request on SQLite.
            cursor = conn.connection.cursor()
            try:
                conn._cursor_execute(cursor, "BEGIN IMMEDIATE" if immediate else "BEGIN", ())
            finally:
                cursor.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_recycle", RECYCLE_SECONDS)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    _note_writes(engine)
    return engine


# Whether the connection's open transaction ran a statement that may write (`_note_writes`), in its `info`.
_WROTE = "nama_wrote"
_READS = re.compile(r"\s*(?:SELECT|WITH)\b", re.IGNORECASE)
_MAY_WRITE = re.compile(r"\b(?:INSERT|UPDATE|DELETE|MERGE|INTO)\b", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def _may_write(statement: str) -> bool:
    """False only for a statement that reads: a SELECT (or WITH … SELECT) without a data-modifying part. Errs
    towards True (`SELECT … FOR UPDATE` counts as a write)."""
    return _READS.match(statement) is None or _MAY_WRITE.search(statement) is not None


def _note_writes(engine: Engine) -> None:
    """Mark a transaction that ran a statement that may write, for `_commit_reads`."""

    @event.listens_for(engine, "begin")
    def _began(conn: Connection) -> None:
        conn.info.pop(_WROTE, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _executing(
        conn: Connection, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        if _may_write(statement):
            conn.info[_WROTE] = True


# A pooled connection is pinged (SELECT 1) before use only when it sat unused for longer than this; pool_pre_ping
# pinged on every checkout, a round trip per request (two per launch) that a busy server spends on connections it
# used milliseconds ago. What the ping guards against (the server restarted, an idle connection cut by a firewall
# or idle_session_timeout, a backend terminated by an operator) strikes connections that sat idle, or strikes
# while they are in use, where no ping helps. A connection killed in the few seconds since its last use fails its
# request once (the learner sees the error page, nothing half-written: the transaction is rolled back); SQLAlchemy
# then recognises the disconnect and replaces every pooled connection older than it, so the next requests get
# fresh ones. pool_recycle bounds a connection's age besides.
PING_AFTER_IDLE_SECONDS = 5.0
RECYCLE_SECONDS = 3600


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["nama_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("nama_idle_since")
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE_SECONDS:
            return  # new (just connected) or used a moment ago
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_conn, None):
                # The pool drops this connection and checks out another (a fresh one if need be).
                raise exc.DisconnectionError(str(error)) from error
            raise


class Database:
    """Holds the engine and session factory of one app."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # `write_transaction`'s connections: on SQLite each transaction begins as a writer (BEGIN IMMEDIATE, the
        # `begin` event above); the options set once here, not per connection.
        self.write_engine = (
            self.engine.execution_options(sqlite_immediate=True) if self.dialect == "sqlite" else self.engine
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def get_db(app: Flask | None = None) -> Database:
    app = app or current_app
    db: Database = app.extensions["nama_db"]
    return db


def session() -> Session:
    """The request's session (created on first use)."""
    ctx = _cv_app.get()  # the app context itself: `g` and `current_app` would each look it up again
    here = ctx.g.__dict__
    s: Session | None = here.get("db_session")
    if s is None:
        s = here["db_session"] = get_db(ctx.app).sessionmaker()
    return s


@contextlib.contextmanager
def session_scope(app: Flask | None = None, *, write: bool = False) -> Iterator[Session]:
    """A unit of work outside a request: commit on success, roll back on error."""
    s = get_db(app).sessionmaker()
    if write:
        begin_write(s)
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()


class WriteTransaction:
    """A write transaction on a Connection of its own (`write_transaction`), for a hot path whose statements run
    on the connection (cursorsql.py): the launch POST. The ORM Session's set-up, `connection()` with execution
    options and commit cost ~150,000 instructions of SQLite's ~5.2M per launch POST (bench/FINDINGS.md step 17a),
    so one is made only when a service asks for it (`session()`, the rare paths: a returning learner's grade
    reconcile, a launch without a name). That Session takes the transaction over
    (`join_transaction_mode="control_fully"`): `commit()` then commits through it, so its flush and its
    `after_commit` hooks (the grade worker's wake-up) run as with a request's session. Never commits itself
    before `commit()`; services take it and never commit."""

    __slots__ = ("_session", "alone", "conn")

    def __init__(self, conn: Connection, session: Session | None = None) -> None:
        self.conn = conn
        self._session = session
        self.alone = False  # `on_its_own` ran its statement committed on its own (or failed: nothing written)

    @classmethod
    def of(cls, s: Session) -> WriteTransaction:
        """The transaction of a Session (begun as a writer), whose owner commits it (tests, CLI)."""
        return cls(begin_write(s).connection(), s)

    def session(self) -> Session:
        s = self._session
        if s is None:
            s = self._session = Session(
                bind=self.conn, expire_on_commit=False, join_transaction_mode="control_fully"
            )
            # Joined now: a Session that ran nothing yet would commit nothing (it joins on first use).
            s.connection()
        return s

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()
        else:
            self.conn.commit()

    def on_its_own(self, statement: CursorStatement, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Run one statement that is a whole transaction by itself (atomic as any statement), as the first of
        this transaction: on PostgreSQL it commits on its own, without BEGIN and COMMIT (two round trips, ~0.3 ms
        of the client's and the server's CPU: bench/FINDINGS.md step 21); what runs after it begins a transaction
        of its own, committed by `commit()`. Elsewhere (SQLite, or after another statement) in this transaction."""
        self.alone = self._session is None and _can_autocommit(self.conn)
        return (
            _autocommitted(self.conn, statement, params)
            if self.alone
            else statement.execute(self.conn, params)
        )


@contextlib.contextmanager
def write_transaction(app: Flask | None = None) -> Iterator[WriteTransaction]:
    """A write transaction on a connection of its own, begun as a writer (SQLite: BEGIN IMMEDIATE); commit with
    `commit()`, else it is rolled back when the block ends (an error, a refusal). A lost PostgreSQL connection
    is invalidated by the statement that found it lost (cursorsql.py, SQLAlchemy's handling)."""
    conn = get_db(app).write_engine.connect()
    tx = WriteTransaction(conn)
    try:
        conn.begin()
        yield tx
    finally:
        if tx._session is not None:
            tx._session.close()
        conn.close()


def begin_write(s: Session) -> Session:
    """Start the session's transaction as a writer: the edge's call (a view, CLI command or worker loop).

    On SQLite this is BEGIN IMMEDIATE: a deferred transaction that reads and then writes fails with
    SQLITE_BUSY when another writer got in between (busy_timeout cannot help there). Elsewhere a no-op.
    Call it before the transaction's first statement; a read-only transaction already open is committed first,
    which only the edge may do (services take the lock with `advisory_lock`, which never commits).
    """
    if s.get_bind().dialect.name != "sqlite":
        return s
    if s.in_transaction():
        if s.connection().get_execution_options().get("sqlite_immediate"):
            return s
        if s.new or s.dirty or s.deleted:
            raise RuntimeError("begin_write() after unflushed changes")
        s.commit()
    s.connection(execution_options={"sqlite_immediate": True})
    return s


def write_session() -> Session:
    """The request's session, its transaction begun as a writer."""
    return begin_write(session())


# Every progress write takes it first (progress/writes.py lock_learner): on the DBAPI cursor (cursorsql.py).
_ADVISORY_LOCK = CursorStatement(select(func.pg_advisory_xact_lock(bindparam("k", type_=BigInteger))))


def advisory_lock(s: Session, name: str) -> None:
    """Serialise a critical section across processes for the rest of the transaction; never commits.

    PostgreSQL: a transaction-level advisory lock. SQLite: the write transaction (BEGIN IMMEDIATE) already
    excludes every other writer, so the session must be a writer (the edge began it with `begin_write`) or have
    no transaction open yet (it is begun as a writer here). Inside a read transaction SQLite cannot take the
    lock without ending that transaction, which would commit the caller's work: RuntimeError.
    """
    if s.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
        _ADVISORY_LOCK.execute(s.connection(), {"k": key})
        return
    if s.in_transaction() and not s.connection().get_execution_options().get("sqlite_immediate"):
        raise RuntimeError(
            f"advisory_lock({name!r}) in a read transaction: begin the write at the edge "
            "(db.write_session(), session_scope(write=True) or db.begin_write) before the first read"
        )
    begin_write(s)


def dialect_insert(dialect: str) -> Any:
    """The dialect's `insert` with ON CONFLICT support (SQLite and PostgreSQL both have it). Its module is imported
    with the first call: a process loads only its own database's dialect (SQLite's costs a PostgreSQL process
    ~0.7 MB)."""
    name = "postgresql" if dialect == "postgresql" else "sqlite"
    return importlib.import_module(f"sqlalchemy.dialects.{name}").insert


def insert_for(s: Session) -> Any:
    """`dialect_insert` for the session's database."""
    return dialect_insert(s.get_bind().dialect.name)


@functools.cache
def _upsert_statement(
    dialect: str,
    table: Any,
    keys: tuple[str, ...],
    values: tuple[str, ...],
    inserted: tuple[str, ...],
    returning: tuple[str, ...],
) -> CursorStatement:
    insert = dialect_insert(dialect)
    names = (*keys, *values, *inserted)
    ins = insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in names})
    stmt = ins.on_conflict_do_update(
        index_elements=list(keys), set_={name: ins.excluded[name] for name in values}
    )
    return CursorStatement(stmt.returning(*(table.c[name] for name in returning)) if returning else stmt)


def upsert(
    s: Session,
    model: Any,
    keys: dict[str, Any],
    values: dict[str, Any],
    *,
    inserted: dict[str, Any] | None = None,
    returning: str | tuple[str, ...] | None = None,
) -> list[Sequence[Any]]:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET values into a model's table (or a Table), on the session's
    connection (its transaction).

    `inserted`: columns written only when the row is new (a row that exists keeps its value). The statement is
    built once per table, column set and dialect, with a bind parameter per column, and run on the DBAPI cursor
    (cursorsql.py): hot paths (launches, learner pages) run it often, and building a statement and its cache key,
    or SQLAlchemy's execution of it, costs more than running it. Returns the rows (with `returning`: those
    columns of the row written).
    """
    table = getattr(model, "__table__", model)
    inserted = inserted or {}
    names = (returning,) if isinstance(returning, str) else tuple(returning or ())
    stmt = _upsert_statement(
        s.get_bind().dialect.name, table, tuple(keys), tuple(values), tuple(inserted), names
    )
    return stmt.execute(s.connection(), {**keys, **values, **inserted})


def read_alone(
    statement: CursorStatement, params: Mapping[str, Any], s: Session | None = None
) -> list[Sequence[Any]]:
    """Run a read that needs no transaction around it (one statement sees one snapshot on its own): the session's
    read of a page, the progress read of a page that only reads.

    In the transaction of `s` (default: the request's session, if the request made one) when it has one open.
    Else on a pooled connection of its own, outside any transaction, handed back at once: no ORM Session set up
    for it, no BEGIN before it and no COMMIT or ROLLBACK after it (on SQLite the `begin` event's BEGIN and the
    session's closing ROLLBACK, two statements; on PostgreSQL psycopg's BEGIN and the request's COMMIT, two round
    trips). A later statement of the request begins the request's transaction as before (its reads then see more
    than one snapshot). PostgreSQL: psycopg in autocommit for the one statement and out of it at once; a
    connection that cannot leave autocommit is invalidated, never pooled as it is."""
    if s is None:
        ctx = _cv_app.get()
        s = ctx.g.__dict__.get("db_session")
        engine = get_db(ctx.app).engine
    if s is not None:
        if s.in_transaction():
            return statement.execute(s.connection(), params)
        bind = s.get_bind()
        if not isinstance(bind, Engine):  # a session bound to a connection: its transaction
            return statement.execute(s.connection(), params)
        engine = bind
    with engine.connect() as conn:
        if _can_autocommit(conn):
            return _autocommitted(conn, statement, params)
        # SQLite: the driver sends no BEGIN of its own (isolation_level None, make_engine). A psycopg connection
        # that came from the pool inside a transaction (never seen: the pool rolls back on check-in) reads in it,
        # and check-in rolls it back.
        return statement.execute(conn, params, alone=True)


def _can_autocommit(conn: Connection) -> bool:
    """A psycopg connection in no transaction."""
    dbapi = conn.connection.dbapi_connection
    return conn.dialect.driver == "psycopg" and dbapi is not None and dbapi.info.transaction_status == _idle()


def _autocommitted(
    conn: Connection, statement: CursorStatement, params: Mapping[str, Any]
) -> list[Sequence[Any]]:
    """psycopg (`_can_autocommit`): the statement run in autocommit (a transaction of its own, no BEGIN or COMMIT
    round trip) and the connection out of autocommit at once. A connection that cannot leave autocommit is
    invalidated, never pooled as it is."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    dbapi.autocommit = True
    try:
        rows = statement.execute(conn, params, alone=True)
    except BaseException:
        with contextlib.suppress(Exception):
            _leave_autocommit(conn, dbapi)
        raise
    _leave_autocommit(conn, dbapi)
    return rows


@functools.cache
def _idle() -> Any:
    from psycopg import pq  # imported when PostgreSQL is used only

    return pq.TransactionStatus.IDLE


def _leave_autocommit(conn: Connection, dbapi: Any) -> None:
    try:
        dbapi.autocommit = False
    except Exception:
        conn.invalidate()
        raise


def _teardown(exc: BaseException | None) -> None:
    s: Session | None = _cv_app.get().g.__dict__.pop("db_session", None)
    if s is not None:
        if exc is None:
            _commit_reads(s)
        s.close()


def _commit_reads(s: Session) -> None:
    """PostgreSQL: end a request's transaction that only read with COMMIT instead of the ROLLBACK of `close()`.

    To the server both end a transaction that wrote nothing alike; but psycopg forgets the connection's prepared
    statements on every ROLLBACK, and learner pages mostly only read: their statements were never prepared
    (psycopg prepares a statement on its sixth run on a connection), so PostgreSQL parsed and planned every
    statement of every request afresh, most of its CPU per request (bench/FINDINGS.md, "CPU per launch, step 8").
    A transaction that ran a statement that may write (`_note_writes`), holds unflushed changes or is in error
    is rolled back as before.
    """
    if s.bind is None or s.bind.dialect.name != "postgresql":
        return
    transaction = s.get_transaction()
    if transaction is None or not transaction.is_active or s.new or s.dirty or s.deleted:
        return
    conn = s.connection()
    if conn.info.get(_WROTE):
        return
    from psycopg.pq import TransactionStatus

    dbapi = conn.connection.dbapi_connection
    if dbapi is None or dbapi.info.transaction_status != TransactionStatus.INTRANS:
        return
    try:
        s.commit()
    except (
        exc.SQLAlchemyError
    ):  # the answer is out already; `close()` cleans up (a lost connection is dropped)
        log.warning("ending a read-only transaction failed", exc_info=True)


def alembic_config(url: str, key_secrets: Sequence[str] = ()) -> Any:
    """Alembic's configuration; `key_secrets` (lti/keystore.py) for migrations that encrypt or decrypt keys."""
    from alembic.config import Config

    cfg = Config(str(ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    cfg.attributes["key_secrets"] = tuple(key_secrets)
    return cfg


def upgrade(url: str, revision: str = "head", key_secrets: Sequence[str] = ()) -> None:
    from alembic import command

    command.upgrade(alembic_config(url, key_secrets), revision)


_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.+?)\s*$", re.MULTILINE)


@functools.cache
def head_revision() -> str | None:
    """The newest migration this code brings, read once per process from the `revision` and `down_revision` lines
    of migrations/versions/*.py (as Alembic's ScriptDirectory.get_current_head() finds it, which
    tests/test_startup_imports.py checks): web processes check the schema without importing Alembic (~11 MB)."""
    revisions: set[str] = set()
    replaced: set[str] = set()
    for path in (ROOT / "migrations" / "versions").glob("*.py"):
        found = dict((m[1], ast.literal_eval(m[2])) for m in _REVISION_LINE.finditer(path.read_text("utf-8")))
        if not isinstance(found.get("revision"), str):
            continue
        revisions.add(found["revision"])
        down = found.get("down_revision")
        replaced.update([down] if isinstance(down, str) else down or ())
    heads = revisions - replaced
    if len(heads) > 1:
        raise RuntimeError(f"migrations/versions has several heads: {sorted(heads)}")
    return next(iter(heads), None)


def _version_of(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:
        raise RuntimeError(f"the database is at several migrations: {sorted(versions)}")
    return versions[0] if versions else None


def current_revision(s: Session) -> str | None:
    """The migration the database is at (None before the first one)."""
    return _version_of(s.connection())


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as conn:
        return _version_of(conn) == head_revision()


def auto_upgrade_sqlite(app: Flask) -> None:
    """SQLite only: bring the schema to head on start (a file lock keeps parallel processes in line)."""
    db = get_db(app)
    if db.dialect != "sqlite" or schema_is_current(db.engine):
        return
    lock_path = Path(app.instance_path) / "migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not schema_is_current(db.engine):
                from .lti.keystore import configured_secrets

                log.debug("creating/upgrading the SQLite schema")
                upgrade(db.url, key_secrets=configured_secrets(app.config))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    complete: bool  # the whole WAL is in the database file and the WAL is empty
    frames: int  # WAL frames there were (-1: SQLite could not say)


def checkpoint(app: Flask | None = None) -> Checkpoint | None:
    """SQLite: copy the WAL into the database file and truncate the WAL to nothing (PRAGMA wal_checkpoint
    (TRUNCATE)), so that rows a deletion overwrote are gone from both files. Waits for readers up to the busy
    timeout; `complete` is False when one still held an older snapshot. None on other databases (PostgreSQL
    keeps dead rows until VACUUM: README "Backups and restore")."""
    db = get_db(app)
    if db.dialect != "sqlite":
        return None
    # The DBAPI connection itself: SQLAlchemy's would open a transaction first, and a checkpoint cannot run
    # inside one.
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        busy, frames, _copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        raw.close()
    return Checkpoint(complete=not busy, frames=int(frames))


def ping(s: Session) -> bool:
    s.execute(text("SELECT 1"))
    return True


def init_app(app: Flask) -> None:
    app.extensions["nama_db"] = Database(app.config["DATABASE_URL"])
    app.teardown_appcontext(_teardown)
    if app.config.get("AUTO_MIGRATE", True):
        auto_upgrade_sqlite(app)


__all__ = ["Base", "Database", "get_db", "insert_for", "session", "session_scope", "upgrade", "upsert"]

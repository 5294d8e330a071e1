"""SQL statements per learner page stay a small constant (the X-Query-Count header of the benchmark counter)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from lti_tool import create_app
from lti_tool.cache import DbLaunchStore, get_store

from ..peer import Launcher
from .learner import Learner, attempt_id, module_claim, quiz_answers


@pytest.fixture
def app(test_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app({**test_config, "BENCH_COUNT_QUERIES": True, "ENV": "development"})
    yield application
    application.extensions["nama_db"].dispose()


def queries(resp: Any, status: int = 200) -> int:
    """Statements of a request that did what it was asked to (a refused one may need fewer)."""
    assert resp.status_code == status, (resp.status_code, resp.url, resp.text[:500])
    return int(resp.headers["X-Query-Count"])


def test_statements_per_page_are_bounded(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    counts: dict[str, int] = {}
    counts["lesson, first visit"] = queries(learner.get("m/modul-a/01-einstieg"))
    counts["lesson, again"] = queries(learner.get("m/modul-a/01-einstieg"))
    counts["quiz, new attempt"] = queries(learner.get("m/modul-a/quiz"))
    public_id = attempt_id(learner.page.text)
    counts["quiz, open attempt"] = queries(learner.get("m/modul-a/quiz"))
    submit = learner.http.post(
        learner.url("m/modul-a/quiz"),
        data=[*quiz_answers(app, "modul-a", public_id), ("csrf_token", learner.csrf)],
        allow_redirects=False,
    )
    counts["quiz submit"] = queries(submit, 303)
    assert (
        "/m/modul-a/ergebnis?" in submit.headers["Location"] and "doppelt" not in submit.headers["Location"]
    )
    counts["quiz result"] = queries(learner.get("m/modul-a/ergebnis"))
    save = learner.http.post(
        learner.url("m/modul-a/praxis"),
        data={"text": "Eine ausreichend lange Antwort.", "csrf_token": learner.csrf},
        allow_redirects=False,
    )
    counts["practice submit"] = queries(save, 303)
    assert save.headers["Location"].endswith("/m/modul-a/praxis?gespeichert=neu")
    for name, path in [
        ("overview", ""),
        ("module", "m/modul-a/"),
        ("practice", "m/modul-a/praxis"),
        ("exchange", "m/modul-a/austausch"),
    ]:
        counts[name] = queries(learner.get(path))
    # Constants, whatever the number of modules, lessons, questions or attempts (SQLite counts BEGIN IMMEDIATE).
    sqlite = app.extensions["nama_db"].dialect == "sqlite"
    # The launch store in the database's table (no Redis): its reads and writes are SQL.
    with app.app_context():
        table_store = isinstance(get_store(), DbLaunchStore)
    limits = {
        # Where progress changes, the gradebook's learner summary is rewritten in the same transaction in one
        # statement (gradebook/summary.refresh_learner; the grade outbox leaves it the failed flag and the course
        # grade). What a progress write recomputes from (the module's visits, quiz totals, practice dates and
        # progress row, the course's standing) is read in one statement (progress REFRESH_SOURCES), and the
        # learner's place goes into the same write of the course's row (13 -> 8, 18 -> 13, 20 -> 15). A page
        # that only moves the learner's place touches the summary's last activity (+1: "lesson, again" and
        # "quiz, new attempt" were 5 and 9 before it).
        # On PostgreSQL the module's row and the course's are written in one statement (progress.statements
        # progress_rows_statement): -1 for every write that recomputes progress (first visit 7 -> 6, quiz
        # submit 10 -> 9, practice submit 10 -> 9).
        # The lesson page reads the session in its write transaction (auth.writes_progress): on SQLite one BEGIN
        # fewer (first visit 8 -> 7, again 6 -> 5).
        "lesson, first visit": 7 if sqlite else 6,
        # On PostgreSQL the visit's INSERT also writes the place and the last activity (progress.statements
        # lesson_visit_statement): the session, the lock, that statement (was 5).
        "lesson, again": 5 if sqlite else 3,
        "quiz, new attempt": 10,
        "quiz, open attempt": 4,
        # 9 + 2: the grade outbox looks for where scores go (no AGS in this launch); the attempt read once under
        # the learner's lock, the closed attempt not read back
        "quiz submit": 11 if sqlite else 9,
        "quiz result": 4,
        # the same, + forgetting a kept text of an ended session (DELETE, in the save's transaction: was + BEGIN of
        # its own); the text saved and the row returned in one statement (was: + SELECT by id + refresh). With
        # Redis as the launch store (as CI runs PostgreSQL) that DELETE is not SQL.
        "practice submit": 12 if sqlite else 9 + table_store,
        "overview": 6,
        "module": 3,  # the module's visits, progress and practice dates in one (progress MODULE_STATE)
        "practice": 4,  # 3 + the text kept from an ended session, if any (launch store: SELECT, in the page's
        # transaction: was + BEGIN of its own)
        "exchange": 6,  # 5 + the replies to the answers shown (one query, whatever their number)
    }
    over = {name: counts[name] for name, limit in limits.items() if counts[name] > limit}
    assert not over, (over, counts)


def test_a_new_learners_first_page_reads_nothing_but_the_session(app: Flask, launcher: Launcher) -> None:
    """A learner the launch just created has no progress: the session's read says so (progress.ANY_PROGRESS), and
    the launch's first page (the overview; a one-module activity's module page) reads nothing more. Once they have
    read a lesson, both pages read their progress again and show it, in the course and in a one-module activity."""
    session_only = 1  # read alone (db.read_alone): on SQLite no BEGIN either
    for sub, activity in (("user-1", {}), ("user-2", module_claim("modul-a"))):
        learner = Learner.launch(launcher, sub, **activity)
        assert queries(learner.page) == session_only, activity
        assert ("/m/modul-a/" in learner.page.url) == bool(activity)
        assert "module-list__item--started" not in learner.page.text
        module = learner.get("m/modul-a/")
        assert queries(module) == session_only and "(gelesen)" not in module.text
        assert queries(learner.get("m/modul-a/01-einstieg")) > session_only
        module = learner.get("m/modul-a/")
        assert queries(module) == session_only + 1 and "(gelesen)" in module.text, activity
        if not activity:
            overview = learner.get("")
            assert queries(overview) == session_only + 1 and "module-list__item--started" in overview.text


class SentSql:
    """What the driver sends on the pool's connections while listening: PostgreSQL's protocol (libpq's trace:
    statements and round trips), SQLite's statements (its trace callback: the driver's own BEGIN and ROLLBACK too)."""

    def __init__(self, engine: Any, folder: Path) -> None:
        self.engine = engine
        self.path = folder / "trace.txt"
        self.file = self.path.open("w")
        self.sqlite: list[str] = []

    def __enter__(self) -> SentSql:
        event.listen(self.engine, "checkout", self._traced)
        event.listen(self.engine, "checkin", self._untraced)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "checkout", self._traced)
        event.remove(self.engine, "checkin", self._untraced)
        self.file.close()

    def _traced(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if self.engine.dialect.name == "sqlite":
            dbapi_conn.set_trace_callback(self.sqlite.append)
            return
        from psycopg import pq

        dbapi_conn.pgconn.trace(self.file.fileno())
        dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    def _untraced(self, dbapi_conn: Any, _record: Any) -> None:
        if self.engine.dialect.name == "sqlite":
            dbapi_conn.set_trace_callback(None)
        else:
            dbapi_conn.pgconn.untrace()

    def take(self) -> tuple[set[str], int]:
        """Which of BEGIN, COMMIT and ROLLBACK were sent since the last call, and the statements (SQLite) or round
        trips (PostgreSQL: ReadyForQuery) sent."""
        ends = ("BEGIN", "COMMIT", "ROLLBACK")
        if self.engine.dialect.name == "sqlite":
            sent, self.sqlite[:] = list(self.sqlite), []
            return {s.split()[0].upper() for s in sent} & set(ends), len(sent)
        self.file.flush()
        text = self.path.read_text()
        self.file.truncate(0)
        self.file.seek(0)
        return {end for end in ends if f'"{end}' in text}, text.count("\tReadyForQuery\t")


def none_pooled_in_autocommit(engine: Any) -> bool:
    """PostgreSQL: no connection waiting in the engine's pool is left in autocommit (db.read_alone,
    WriteTransaction.on_its_own switch it on for one statement)."""
    pooled = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
    try:
        return not any(conn.dbapi_connection.autocommit for conn in pooled)
    finally:
        for conn in pooled:
            conn.close()


def test_a_page_that_only_reads_runs_its_reads_alone(app: Flask, launcher: Launcher, tmp_path: Path) -> None:
    """A page that only reads runs its statements without a transaction around them (db.read_alone): a new
    learner's first page sends the session's read and nothing else (PostgreSQL: one round trip instead of BEGIN,
    the read and COMMIT; SQLite: no BEGIN and ROLLBACK), a returning learner's overview and module page the
    session's and the progress's read. A page that writes begins its transaction as before, and no connection goes
    back to the pool in autocommit."""
    engine = app.extensions["nama_db"].engine
    learner = Learner.launch(launcher)
    with SentSql(engine, tmp_path) as sent:
        sent.take()
        first = learner.get("")
        assert queries(first) == 1 and "module-list__item--started" not in first.text
        assert sent.take() == (set(), 1)
        lesson = learner.get("m/modul-a/01-einstieg")  # a write: in its transaction
        assert queries(lesson) > 1
        assert "BEGIN" in sent.take()[0]
        for path, shown in (("", "module-list__item--started"), ("m/modul-a/", "(gelesen)")):
            page = learner.get(path)
            assert queries(page) == 2 and shown in page.text, path
            assert sent.take() == (set(), 2), path
    if engine.dialect.name == "postgresql":
        assert engine.pool.checkedin() and none_pooled_in_autocommit(engine)


def test_a_session_read_on_a_lost_connection_leaves_no_connection_in_autocommit(
    app: Flask, launcher: Launcher
) -> None:
    """PostgreSQL: when the backend of the connection the session's read runs on alone (in autocommit) is gone,
    the request fails, the connection is dropped (never pooled in autocommit), and the next request reads and
    writes in transactions on a live one."""
    engine = app.extensions["nama_db"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's autocommit")
    learner = Learner.launch(launcher)
    pids = []
    for _ in range(engine.pool.checkedin()):
        conn = engine.raw_connection()
        pids.append(conn.dbapi_connection.info.backend_pid)
        conn.close()  # back to the pool, alive as far as it knows
    import psycopg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as other:  # not one of the pool's
        for pid in pids:
            other.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert learner.get("").status_code == 500
    assert none_pooled_in_autocommit(engine)
    assert queries(learner.get("")) == 1
    assert queries(learner.get("m/modul-a/01-einstieg")) > 1
    overview = learner.get("")
    assert queries(overview) == 2 and "module-list__item--started" in overview.text


def test_a_returning_learners_launch_looks_for_missing_grades_only_with_a_result(
    app: Flask, launcher: Launcher
) -> None:
    """A returning learner's launch looks for what its activity's grade item lacks (grading.reconcile: two
    statements and an ORM Session) only when the learner has a module result in the course (grading.any_result:
    a quiz attempt, a submitted practice task, a completed module); whether they have one comes with the launch's
    own statement (PostgreSQL) or one more (SQLite). Read lessons are no result."""
    sqlite = app.extensions["nama_db"].dialect == "sqlite"
    learner = Learner.launch(launcher)
    new = queries(launcher.launch(), 303)  # the same learner again, before anything else: no result
    assert queries(learner.get("m/modul-a/01-einstieg")) > 1
    read_only = queries(launcher.launch(), 303)
    assert read_only == new == (11 if sqlite else 1), (new, read_only)
    learner.get("m/modul-a/quiz")
    submit = learner.http.post(
        learner.url("m/modul-a/quiz"),
        data=[*quiz_answers(app, "modul-a", attempt_id(learner.page.text)), ("csrf_token", learner.csrf)],
        allow_redirects=False,
    )
    queries(submit, 303)
    # reconcile's reads (no grade item in this launch: nothing queued)
    assert queries(launcher.launch(), 303) == read_only + 2


@pytest.mark.parametrize("attempts", [0, 2])
@pytest.mark.parametrize("practice_submitted", [False, True])
@pytest.mark.parametrize("completed", [False, True])
def test_the_launchs_result_check_is_has_results_rule(
    app: Flask, launcher: Launcher, attempts: int, practice_submitted: bool, completed: bool
) -> None:
    """grading.any_result (SQL, asked by the launch) answers as grading.payloads.has_result (Python, asked by
    reconcile and the gradebook) for every mix of quiz attempts, a submitted practice task and a completion."""
    import datetime as dt

    from sqlalchemy import select, update

    from lti_tool.db import session_scope
    from lti_tool.grading import any_result
    from lti_tool.grading.payloads import has_result
    from lti_tool.models import ModuleProgress

    learner = Learner.launch(launcher)
    assert learner.get("m/modul-a/01-einstieg").ok  # a lesson read: a module_progress row, no result
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    with session_scope(app, write=True) as s:
        row = s.scalars(select(ModuleProgress)).one()
        s.execute(
            update(ModuleProgress)
            .where(ModuleProgress.id == row.id)
            .values(
                attempts=attempts,
                practice_submitted_at=at if practice_submitted else None,
                completed_at=at if completed else None,
            )
        )
        found = s.scalar(select(any_result(row.user_id, row.context_id, row.course_id)))
    expected = has_result(attempts=attempts, practice_submitted=practice_submitted, completed=completed)
    assert bool(found) == expected

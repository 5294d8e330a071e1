"""Services take the caller's session and never commit it, on SQLite and PostgreSQL alike: the edge (a view, a CLI
command, the worker loop) commits, so a refused request leaves nothing half-written.

A guard wraps every function of `lti_tool` that takes a session as its first argument `s` (or a write transaction,
`tx`: the launch's, db.WriteTransaction), outside the edges, in every module that imported it, and records any
commit of that session (of that transaction's connection, or of the session made over it) while the function runs. The whole way
through the tool then runs under it over HTTP: launches, lessons, a quiz, a practice task, the worker delivering
grades, the teacher's gradebook, review and participant list.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from flask import Flask
from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.orm import Session

from lti_tool.db import WriteTransaction, advisory_lock, get_db, session_scope, write_transaction
from lti_tool.models import Platform

from ..forms import csrf_token, field
from ..grading.conftest import Lms, deliver_all
from ..grading.test_end_to_end import launch_page
from .test_end_to_end import learner_works, lms, test_config  # noqa: F401  (the fixtures)

# Modules that are edges (they commit), and helpers that belong to the edge.
EDGES = re.compile(r"\.(views|[a-z_]+_views|cli|worker|__main__)$|^lti_tool\.demo_lms(\.|$)")
# `_commit_reads` is the request's teardown (the edge): on PostgreSQL it ends a transaction that only read with COMMIT.
EDGE_FUNCTIONS = {("lti_tool.db", "begin_write"), ("lti_tool.db", "_commit_reads")}


class CommitGuard:
    def __init__(self) -> None:
        self.running: list[tuple[Session | Connection, str]] = []
        self.commits: list[str] = []
        self.called: set[str] = set()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            s = args[0] if args else kwargs.get("s", kwargs.get("tx"))
            if isinstance(s, WriteTransaction):
                s = s.conn  # its commit, or its session's, commits the connection's transaction
            elif not isinstance(s, Session):
                return fn(*args, **kwargs)
            self.called.add(fn.__name__)
            # The tool serves requests on other threads while the worker runs here: remove this very entry.
            entry = (s, f"{fn.__module__}.{fn.__qualname__}")
            self.running.append(entry)
            try:
                return fn(*args, **kwargs)
            finally:
                self.running.remove(entry)

        return guarded

    def before_commit(self, session: Session | Connection) -> None:
        for s, name in self.running:
            if s is session:
                self.commits.append(f"{name} committed its caller's session")

    def listen(self) -> None:
        event.listen(Session, "before_commit", self.before_commit)
        event.listen(Engine, "commit", self.before_commit)

    def remove(self) -> None:
        event.remove(Session, "before_commit", self.before_commit)
        event.remove(Engine, "commit", self.before_commit)


def services() -> dict[int, Callable[..., Any]]:
    found: dict[int, Callable[..., Any]] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("lti_tool.") or EDGES.search(name):
            continue
        for attr, value in vars(module).items():
            if not inspect.isfunction(value) or value.__module__ != name or (name, attr) in EDGE_FUNCTIONS:
                continue
            params = list(inspect.signature(value).parameters)
            if params and params[0] in ("s", "tx"):
                found[id(value)] = value
    return found


@pytest.fixture
def guard(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[CommitGuard]:
    watching = CommitGuard()
    originals = services()
    wrapped = {key: watching.wrap(fn) for key, fn in originals.items()}
    for name, module in list(sys.modules.items()):
        if name == "lti_tool" or name.startswith("lti_tool."):
            for attr, value in list(vars(module).items()):
                if id(value) in wrapped and value is originals[id(value)]:
                    monkeypatch.setattr(module, attr, wrapped[id(value)])
    watching.listen()
    try:
        yield watching
    finally:
        watching.remove()


def test_the_guard_sees_a_service_that_commits(app: Flask) -> None:
    watching = CommitGuard()
    watching.listen()
    try:

        def careless(s: Session) -> None:
            s.commit()

        def careless_with_the_connection(tx: WriteTransaction) -> None:
            tx.conn.commit()

        def careless_with_its_session(tx: WriteTransaction) -> None:
            tx.session().commit()

        with session_scope(app) as s:
            s.scalar(select(Platform.id))
            watching.wrap(careless)(s)
        with app.app_context():
            for careless_tx in (careless_with_the_connection, careless_with_its_session):
                with write_transaction() as tx:
                    tx.conn.execute(select(Platform.id))
                    watching.wrap(careless_tx)(tx)
    finally:
        watching.remove()
    assert watching.commits == [
        f"{__name__}.{fn.__qualname__} committed its caller's session"
        for fn in (careless, careless_with_the_connection, careless_with_its_session)
    ]


def test_the_lock_never_ends_the_callers_transaction(app: Flask) -> None:
    """On SQLite the lock is the write transaction: taking it inside an open read transaction would mean ending
    that transaction (committing whatever the caller did), so it refuses; on PostgreSQL it is an advisory lock."""
    with session_scope(app, write=True) as s:
        advisory_lock(s, "test")  # the edge began a writer: the lock is held, nothing is committed
        assert s.in_transaction()
    with session_scope(app) as s:
        advisory_lock(s, "test")  # nothing read yet: the lock begins the transaction as a writer
        s.scalar(select(Platform.id))
    commits: list[Session] = []

    def committed(session: Session) -> None:
        commits.append(session)

    event.listen(Session, "before_commit", committed)
    try:
        with get_db(app).sessionmaker() as s:
            s.scalar(select(Platform.id))
            if s.get_bind().dialect.name == "sqlite":
                with pytest.raises(RuntimeError, match="read transaction"):
                    advisory_lock(s, "test")
            else:
                advisory_lock(s, "test")
            assert commits == []
            s.rollback()
    finally:
        event.remove(Session, "before_commit", committed)


def test_the_way_through_the_tool_commits_only_at_the_edges(
    app: Flask,
    lms: Lms,  # noqa: F811
    guard: CommitGuard,
) -> None:
    lea, lea_base = learner_works(app, lms, "4", practice=True)
    deliver_all(app)

    teacher = requests.Session()
    gradebook = launch_page(teacher, lms.url + "/launch/1", {"user": "3"})
    assert gradebook.status_code == 200 and gradebook.url.endswith("/lehrende/"), gradebook.text[:500]
    lea_row = gradebook.text.split("Lea Schneider</a>")[1].split("</tr>")[0]
    review_link = re.search(r'href="([^"]+/praxis/modul-a)"', lea_row)
    assert review_link, lea_row
    review = teacher.get(urljoin(gradebook.url, review_link.group(1)))
    assert review.status_code == 200, review.text[:500]
    csrf, stand = csrf_token(review.text), field(review.text, "stand")
    saved = teacher.post(
        review.url,
        data={
            "feedback": "Danke, sehr anschaulich.",
            "stand": stand,
            "entscheidung": "annehmen",
            "csrf_token": csrf,
        },
    )
    assert saved.status_code == 200 and "Ihre Prüfung wurde gespeichert." in saved.text
    refreshed = teacher.post(urljoin(gradebook.url, "teilnehmerliste"), data={"csrf_token": csrf})
    assert refreshed.status_code == 200 and "Die Teilnehmendenliste wurde aktualisiert" in refreshed.text
    deliver_all(app)
    assert lea.get(f"{lea_base}m/modul-a/praxis").status_code == 200

    assert guard.commits == []
    # The guard watched the services that write (it is no guard if it wrapped nothing).
    assert {
        "provision",
        "record_lesson_view",
        "start_quiz_attempt",
        "submit_quiz_attempt",
        "save_practice",
        "review_practice",
        "enqueue_grades",
        "store_roster_refresh",
        "advisory_lock",
    } <= guard.called

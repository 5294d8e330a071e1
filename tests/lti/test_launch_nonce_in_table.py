"""The launch with its nonce's marker in the database's launch store (no Redis configured: one process, or several
on one database), on SQLite and PostgreSQL: a replayed launch writes nothing, two posts of one launch at once are
taken once, and on PostgreSQL the launch's writes are one statement committed on its own (no BEGIN or COMMIT
round trips; provision.py `_all_at_once`, db.py `WriteTransaction.on_its_own`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool import create_app
from lti_tool.cache import DbLaunchStore, get_store
from lti_tool.db import session_scope
from lti_tool.models import (
    Context,
    LinkLaunch,
    ListedLearner,
    Membership,
    ResourceLink,
    ToolSession,
    User,
)

from ..course.learner import Learner, attempt_id, quiz_answers
from ..course.test_queries import SentSql
from ..peer import INSTRUCTOR, LTI, Launcher


@pytest.fixture
def app(test_config: dict[str, Any]) -> Iterator[Flask]:
    config = {k: v for k, v in test_config.items() if k not in ("REDIS_URL", "REDIS_PREFIX")}
    application = create_app({**config, "BENCH_COUNT_QUERIES": True, "ENV": "development"})
    with application.app_context():
        assert isinstance(get_store(), DbLaunchStore)
    yield application
    application.extensions["nama_db"].dispose()


def everything(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a launch writes or updates, with the columns a launch changes (its times included)."""
    tables: dict[str, Any] = {
        "user": select(User.id, User.sub, User.name, User.email, User.last_launch_at),
        "context": select(Context.id, Context.title, Context.updated_at),
        "link": select(ResourceLink.id, ResourceLink.title, ResourceLink.updated_at),
        "link_launch": select(LinkLaunch.resource_link_id, LinkLaunch.user_id, LinkLaunch.last_launch_at),
        "membership": select(Membership.user_id, Membership.roles, Membership.last_launch_at),
        "session": select(ToolSession.id, ToolSession.token_hash),
        "listed": select(
            ListedLearner.context_id, ListedLearner.sub, ListedLearner.name, ListedLearner.updated_at
        ),
    }
    with session_scope(app) as s:
        return {name: sorted(tuple(row) for row in s.execute(query)) for name, query in tables.items()}


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {LTI + "roles": INSTRUCTOR},
        {"name": None, "given_name": None, "family_name": None},
    ],
    ids=["learner", "teacher", "nameless"],
)
def test_a_replayed_launch_writes_nothing(app: Flask, launcher: Launcher, claims: dict[str, Any]) -> None:
    """The same id_token and state posted again, later (with another name, so that an upsert would show): refused,
    and no row written or changed, whatever kind of launch it replays."""
    dropped = {k for k, v in claims.items() if v is None}
    overrides = {k: v for k, v in claims.items() if v is not None}
    login = launcher.login()
    token_claims = launcher.claims(login.nonce, **overrides)
    for name in dropped:
        token_claims.pop(name)
    first = launcher.post_launch(launcher.peer.sign(token_claims), login.state)
    assert first.status_code == 303, first.text[:500]
    before = everything(app)
    assert before["session"] and before["user"]
    renamed = {**token_claims, "name": "Someone Else", "email": "else@example.org"}
    replay = launcher.post_launch(launcher.peer.sign(renamed), login.state)
    assert replay.status_code == 400 and "nonce_replayed" in replay.text
    assert everything(app) == before


def test_one_launch_posted_twice_at_once_is_taken_once(app: Flask, launcher: Launcher) -> None:
    """Two posts of one launch racing (a double submit): one goes through, the other is refused as a replay, and
    one session exists."""
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    statuses: list[int] = []
    start = threading.Barrier(2)

    def post() -> None:
        start.wait()
        statuses.append(launcher.post_launch(token, login.state).status_code)

    posts = [threading.Thread(target=post) for _ in range(2)]
    for thread in posts:
        thread.start()
    for thread in posts:
        thread.join()
    assert sorted(statuses) == [303, 400]
    assert len(everything(app)["session"]) == 1


def test_the_launch_writes_in_one_statement_committed_on_its_own(
    app: Flask, launcher: Launcher, tmp_path: Path
) -> None:
    """PostgreSQL: the launch POST sends its one statement and nothing else, no BEGIN or COMMIT (one round trip);
    a returning learner with a quiz result then looks for missing grades in a transaction of its own after it.
    SQLite: the launch's statements in one write transaction, as before. Nothing stays in autocommit."""
    db = app.extensions["nama_db"]
    postgres = db.dialect == "postgresql"
    learner = Learner.launch(launcher)
    with SentSql(db.write_engine, tmp_path) as sent:
        sent.take()
        assert launcher.launch().status_code == 303
        ends, sent_count = sent.take()
        if postgres:
            assert (ends, sent_count) == (set(), 1)
        else:
            assert ends == {"BEGIN", "COMMIT"}
        learner.get("m/modul-a/quiz")
        submit = learner.http.post(
            learner.url("m/modul-a/quiz"),
            data=[*quiz_answers(app, "modul-a", attempt_id(learner.page.text)), ("csrf_token", learner.csrf)],
            allow_redirects=False,
        )
        assert submit.status_code == 303
        sent.take()
        assert launcher.launch().status_code == 303
        ends, sent_count = sent.take()
        assert ends == {"BEGIN", "COMMIT"}
        if postgres:  # the statement alone, then BEGIN, the reconcile's reads and COMMIT
            assert sent_count > 3
    if postgres:
        for engine in (db.engine, db.write_engine):
            pooled = [engine.raw_connection() for _ in range(engine.pool.checkedin())]
            try:
                assert not any(conn.dbapi_connection.autocommit for conn in pooled)
            finally:
                for conn in pooled:
                    conn.close()

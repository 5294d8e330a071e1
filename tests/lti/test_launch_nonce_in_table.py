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
from sqlalchemy import select, text

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
from ..course.test_queries import SentSql, none_pooled_in_autocommit
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
        assert none_pooled_in_autocommit(db.engine) and none_pooled_in_autocommit(db.write_engine)


def versions(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """The context and resource link rows with their row version (PostgreSQL's xmin: a new one per write)."""
    with session_scope(app) as s:
        return {
            "context": [
                tuple(r) for r in s.execute(text("SELECT id, xmin::text, title FROM context ORDER BY id"))
            ],
            "link": [
                tuple(r)
                for r in s.execute(text("SELECT id, xmin::text, title FROM resource_link ORDER BY id"))
            ],
        }


def test_launches_of_a_course_leave_its_unchanged_rows_alone(app: Flask, launcher: Launcher) -> None:
    """PostgreSQL: after a launch wrote the course's context and resource link rows, the next launches into them
    (other learners, the same one again) write them only when the platform sends something new for them (a new
    title): no new row version per launch, no row lock that launches of one course wait for. The launches'
    own rows are written as always."""
    if app.extensions["nama_db"].dialect != "postgresql":
        pytest.skip("PostgreSQL's launch statement")
    assert launcher.launch(sub="user-1").status_code == 303
    first = versions(app)
    for sub in ("user-2", "user-3", "user-1"):
        assert launcher.launch(sub=sub).status_code == 303
        assert versions(app) == first, sub
    assert len(everything(app)["session"]) == 4 and len(everything(app)["membership"]) == 3
    context = {"id": "course-1", "label": "NaMa", "title": "NaMa NRW 2027"}
    new_title: dict[str, Any] = {LTI + "context": context}
    renamed = launcher.launch(sub="user-2", **new_title)
    assert renamed.status_code == 303
    after = versions(app)
    assert after["context"][0][2] == "NaMa NRW 2027" and after["context"][0][1] != first["context"][0][1]
    assert after["link"] == first["link"]
    claims: dict[str, Any] = {LTI + "context": context, LTI + "resource_link": {"id": "rl-1", "title": "Neu"}}
    relinked = launcher.launch(sub="user-3", **claims)
    assert relinked.status_code == 303
    assert versions(app)["link"][0][2] == "Neu"
    assert versions(app)["context"] == after["context"]


def test_a_course_removed_behind_the_process_is_written_again(app: Flask, launcher: Launcher) -> None:
    """The process keeps the context's and link's row ids for a while; when those rows went meanwhile (here:
    deleted directly in the database, as removing their deployment does with them), the next launch writes them
    anew instead of failing."""
    assert launcher.launch(sub="user-1").status_code == 303
    with session_scope(app, write=True) as s:
        s.execute(text("DELETE FROM context"))
        s.commit()
    again = launcher.launch_and_follow(sub="user-2")
    assert again.status_code == 200, again.text[:500]
    rows = everything(app)
    assert len(rows["context"]) == 1 and len(rows["link"]) == 1 and len(rows["session"]) == 1

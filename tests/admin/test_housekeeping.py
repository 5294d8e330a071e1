"""Expired launch data and tool sessions are purged on their own (no scheduler needed): by every grade worker
now and then, and on demand with `scripts/flask launch-store purge`; never in a learner's request."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.cache import get_store
from lti_tool.db import session_scope
from lti_tool.grading.worker import Worker
from lti_tool.lti.provision import token_hash
from lti_tool.models import LaunchCache, ToolSession, utcnow

from ..conftest import CLIENT_ID, DEPLOYMENT_ID
from ..peer import PeerPlatform
from . import seed


def test_an_lti_login_purges_nothing(
    app: Flask, registered: PeerPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A learner's login does no housekeeping (one in 200 did, drawn with secrets.randbelow: three write
    transactions the learner waited for); an ended session stays until a grade worker's purge."""
    monkeypatch.setattr(secrets, "randbelow", lambda n: 0)  # every draw is the one that would purge
    deployment = seed.platform(app, "https://moodle.example.org")
    old = seed.learner(app, deployment, "old")
    with session_scope(app, write=True) as s:  # her session ended two hours ago
        s.scalars(
            select(ToolSession).where(ToolSession.token_hash == token_hash(old.session_token))
        ).one().expires_at = utcnow() - dt.timedelta(hours=2)
    client = app.test_client()
    for _ in range(3):
        resp = client.get(
            "/lti/login",
            query_string={
                "iss": registered.issuer,
                "login_hint": "user-1",
                "target_link_uri": "http://localhost/lti/launch",
                "client_id": CLIENT_ID,
                "lti_deployment_id": DEPLOYMENT_ID,
            },
        )
        assert resp.status_code == 302, resp.text
    with session_scope(app) as s:
        assert token_hash(old.session_token) in set(s.scalars(select(ToolSession.token_hash)))


def test_a_grade_worker_purges_expired_entries_without_any_login(app: Flask) -> None:
    old = seed.learner(app, seed.platform(app, "https://moodle.example.org"), "old")
    with session_scope(app, write=True) as s:  # her session ended two hours ago
        s.scalars(
            select(ToolSession).where(ToolSession.token_hash == token_hash(old.session_token))
        ).one().expires_at = utcnow() - dt.timedelta(hours=2)
    store = get_store(app)
    store.set("expired-entry", {"x": 1}, 60)
    store.set("live-entry", {"x": 2}, 600)
    if not app.config.get("REDIS_URL"):  # Redis expires its keys itself
        with session_scope(app, write=True) as s:
            s.get(LaunchCache, "expired-entry").expires_at = utcnow() - dt.timedelta(seconds=1)  # type: ignore[union-attr]

    worker = Worker(app, label="housekeeping")
    try:
        worker.housekeep()  # not yet: the first purge comes one interval after the start
        with session_scope(app) as s:
            before = set(s.scalars(select(ToolSession.token_hash)))
            assert token_hash(old.session_token) in before
        worker._last_housekeeping -= app.config["HOUSEKEEPING_SECONDS"]  # an interval has passed
        worker.housekeep()
        with session_scope(app) as s:  # the sessions still running (her earlier launch's, her teacher's) stay
            assert set(s.scalars(select(ToolSession.token_hash))) == before - {token_hash(old.session_token)}
            if not app.config.get("REDIS_URL"):
                assert s.get(LaunchCache, "expired-entry") is None
        assert store.get("live-entry") == {"x": 2}
    finally:
        worker.http.close()

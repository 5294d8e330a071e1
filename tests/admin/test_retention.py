"""Retention: the housekeeping purge deletes what has ended and keeps everything still needed.

Kept: a used-nonce marker while its id_token could still be replayed, cached platform key sets until they
expire, live learner sessions and those that ended less than an hour ago (their learner still gets told why),
live operator sign-ins. Deleted: launch-store entries past their expiry, sessions that ended longer ago,
operator sign-ins that ended for inactivity.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select, update

from lti_tool import housekeeping
from lti_tool.cache import get_store
from lti_tool.db import session_scope
from lti_tool.lti.provision import token_hash
from lti_tool.models import LaunchCache, ToolSession, utcnow

from ..course.learner import Learner
from ..peer import Launcher
from .conftest import AdminClient


def _age_session(app: Flask, learner: Learner, **values: dt.datetime) -> None:
    with session_scope(app, write=True) as s:
        s.execute(
            update(ToolSession).where(ToolSession.token_hash == token_hash(learner.sid)).values(**values)
        )


def _session_hashes(app: Flask) -> set[str]:
    with session_scope(app) as s:
        return set(s.scalars(select(ToolSession.token_hash)))


def test_sessions_are_kept_until_an_hour_after_they_ended(app: Flask, launcher: Launcher) -> None:
    now = utcnow()
    live = Learner.launch(launcher, sub="live")
    idle_recent = Learner.launch(launcher, sub="idle-recent")  # idle end (90 min) 30 min ago
    idle_old = Learner.launch(launcher, sub="idle-old")  # idle end 2 h ago
    ended_recent = Learner.launch(launcher, sub="ended-recent")  # absolute end 30 min ago
    ended_old = Learner.launch(launcher, sub="ended-old")  # absolute end 2 h ago
    never_seen_old = Learner.launch(launcher, sub="never-seen")  # no request after the launch, 4 h ago
    _age_session(app, idle_recent, last_seen_at=now - dt.timedelta(minutes=120))
    _age_session(app, idle_old, last_seen_at=now - dt.timedelta(minutes=210))
    _age_session(app, ended_recent, expires_at=now - dt.timedelta(minutes=30))
    _age_session(app, ended_old, expires_at=now - dt.timedelta(hours=2))
    _age_session(
        app,
        never_seen_old,
        created_at=now - dt.timedelta(hours=4),
        last_seen_at=None,  # type: ignore[arg-type]
    )

    purged = housekeeping.purge(app)

    assert purged.sessions == 3
    assert _session_hashes(app) == {token_hash(x.sid) for x in (live, idle_recent, ended_recent)}
    assert live.get("").status_code == 200
    told = idle_recent.get("")  # the learner who comes back to the old tab is told why
    assert told.status_code == 401 and "session_idle" in told.text and "90 Minuten" in told.text


def test_a_used_nonce_survives_the_purge_so_a_replay_is_still_refused(app: Flask, launcher: Launcher) -> None:
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    assert launcher.post_launch(token, login.state).status_code == 303
    store = get_store(app)
    store.set("expired-entry", {"x": 1}, 60)
    if not app.config.get("REDIS_URL"):  # Redis expires its keys itself
        with session_scope(app, write=True) as s:
            s.execute(
                update(LaunchCache)
                .where(LaunchCache.key == "expired-entry")
                .values(expires_at=utcnow() - dt.timedelta(seconds=1))
            )

    purged = housekeeping.purge(app)

    again = launcher.post_launch(token, login.state)
    assert again.status_code == 400 and "nonce_replayed" in again.text
    if not app.config.get("REDIS_URL"):
        assert purged.launch_store == 1
        with session_scope(app) as s:
            keys = set(s.scalars(select(LaunchCache.key)))
        assert "expired-entry" not in keys
        assert any(k.startswith("nonce-used:") for k in keys)
        assert any(k.startswith("jwks:") for k in keys)  # the cached platform key set stays


def test_an_operator_sign_in_is_purged_when_it_ends_for_inactivity(app: Flask, operator: str) -> None:
    idle_limit = int(app.config["ADMIN_IDLE_SECONDS"])
    assert idle_limit < int(app.config["ADMIN_SESSION_SECONDS"])
    went_away = AdminClient(app)
    assert went_away.login().status_code == 303
    store = get_store(app)
    if app.config.get("REDIS_URL"):  # Redis drops the record itself at the idle end
        ttls = [store.redis.ttl(k) for k in store.redis.scan_iter(store.prefix + "admin-session:*")]  # type: ignore[attr-defined]
        assert len(ttls) == 1 and 0 < ttls[0] <= idle_limit + 1
        return
    with session_scope(app, write=True) as s:
        record = s.scalars(select(LaunchCache).where(LaunchCache.key.startswith("admin-session:"))).one()
        # kept until the idle end, not until the absolute end of the sign-in
        assert record.expires_at <= utcnow() + dt.timedelta(seconds=idle_limit + 2)
        record.expires_at = utcnow() - dt.timedelta(seconds=1)  # that end has come
    working = AdminClient(app)
    assert working.login().status_code == 303

    assert housekeeping.purge(app).launch_store == 1

    with session_scope(app) as s:
        assert (
            len(s.scalars(select(LaunchCache).where(LaunchCache.key.startswith("admin-session:"))).all()) == 1
        )
    assert working.get("/admin/").status_code == 200
    assert went_away.get("/admin/").status_code in (302, 303)

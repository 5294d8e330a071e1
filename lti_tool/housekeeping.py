"""Deleting what has expired: launch-store entries (OIDC nonce markers, cached key sets, operator sign-ins),
learner sessions, and register entries past REGISTER_RETENTION_DAYS (lti_tool/register/retention.py).

Runs on its own, with no scheduler to set up: in every grade worker each HOUSEKEEPING_SECONDS (the embedded
worker included), and from `scripts/flask launch-store purge`. Not in a learner's request: a login that purged
(one in 200 did, until December 2026) made that learner wait for three write transactions.
The grade workers prune the grade outbox's old rows at the same time (lti_tool/grading/outbox/retention.py).

What stays: a launch-store entry until its own expiry (a used-nonce marker outlives the id_token it guards, so
a replay is still refused after a purge), and a learner session until SESSION_KEPT_AFTER_END after it ended
(absolute end or SESSION_IDLE_SECONDS without a request), so a learner coming back to an old tab in that
time is told why the session ended instead of "link not valid".
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import delete, func, or_

from .cache import get_store
from .db import session_scope
from .models import ToolSession, utcnow
from .register.retention import purge_expired

log = logging.getLogger(__name__)
SESSION_KEPT_AFTER_END = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Purged:
    launch_store: int
    sessions: int
    register: int = 0
    register_audit: int = 0


def purge_sessions(app: Flask, now: dt.datetime | None = None) -> int:
    """Delete learner sessions that ended (absolutely or for inactivity) more than SESSION_KEPT_AFTER_END ago."""
    cutoff = (now or utcnow()) - SESSION_KEPT_AFTER_END
    idle = dt.timedelta(seconds=int(app.config["SESSION_IDLE_SECONDS"]))
    with session_scope(app, write=True) as s:
        deleted = s.execute(
            delete(ToolSession).where(
                or_(
                    ToolSession.expires_at < cutoff,
                    # last_seen_at is written at most once a minute: far less than the hour kept
                    func.coalesce(ToolSession.last_seen_at, ToolSession.created_at) < cutoff - idle,
                )
            )
        ).rowcount  # type: ignore[attr-defined]
    return int(deleted)


def purge(app: Flask) -> Purged:
    launch_store = int(get_store(app).purge_expired())
    sessions = purge_sessions(app)
    with session_scope(app, write=True) as s:
        register, audit = purge_expired(s, int(app.config["REGISTER_RETENTION_DAYS"]))
    result = Purged(launch_store=launch_store, sessions=sessions, register=register, register_audit=audit)
    if result.launch_store or result.sessions:
        log.info("purged %d launch-store entries and %d ended sessions", result.launch_store, result.sessions)
    if register or audit:
        log.info("register retention: %d entries and %d audit-trail lines deleted", register, audit)
    return result

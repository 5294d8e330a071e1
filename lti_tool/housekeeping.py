"""Deleting what has expired: launch-store entries, tool sessions, and register entries past
REGISTER_RETENTION_DAYS (lti_tool/register/retention.py).

Runs on its own, with no scheduler to set up: in every grade worker each HOUSEKEEPING_SECONDS (the embedded
worker included), roughly one login in PURGE_EVERY, and from `scripts/flask launch-store purge`.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from flask import Flask
from sqlalchemy import delete

from .cache import get_store
from .db import session_scope
from .models import ToolSession, utcnow
from .register.retention import purge_expired

log = logging.getLogger(__name__)
PURGE_EVERY = 200


def purge(app: Flask) -> tuple[int, int]:
    entries = get_store(app).purge_expired()
    with session_scope(app, write=True) as s:
        sessions = s.execute(
            delete(ToolSession).where(ToolSession.expires_at < utcnow() - dt.timedelta(hours=1))
        ).rowcount  # type: ignore[attr-defined]
        register, audit = purge_expired(s, int(app.config["REGISTER_RETENTION_DAYS"]))
    if entries or sessions:
        log.info("purged %d launch-store entries and %d expired sessions", entries, sessions)
    if register or audit:
        log.info("register retention: %d entries and %d audit-trail lines deleted", register, audit)
    return int(entries), int(sessions)


def maybe_purge(app: Flask) -> None:
    if secrets.randbelow(PURGE_EVERY) == 0:
        purge(app)

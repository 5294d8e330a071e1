"""Deleting what has expired: launch-store entries and tool sessions.

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

log = logging.getLogger(__name__)
PURGE_EVERY = 200


def purge(app: Flask) -> tuple[int, int]:
    entries = get_store(app).purge_expired()
    with session_scope(app, write=True) as s:
        sessions = s.execute(
            delete(ToolSession).where(ToolSession.expires_at < utcnow() - dt.timedelta(hours=1))
        ).rowcount  # type: ignore[attr-defined]
    if entries or sessions:
        log.info("purged %d launch-store entries and %d expired sessions", entries, sessions)
    return int(entries), int(sessions)


def maybe_purge(app: Flask) -> None:
    if secrets.randbelow(PURGE_EVERY) == 0:
        purge(app)

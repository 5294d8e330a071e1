"""REGISTER_RETENTION_DAYS: register entries whose completion is older than that leave the register, and so do
audit-trail lines older than that. 0 (the default) keeps entries until the learner's data is deleted
(`scripts/flask learner delete`). The learner's own certificate and learning data are not touched: the
retention is the office's, for its register. Runs with the housekeeping (lti_tool/housekeeping.py).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..models import RegisterAudit, RegisterEntry, utcnow


def purge_expired(s: Session, days: int, now: dt.datetime | None = None) -> tuple[int, int]:
    """Delete entries and audit lines older than `days` (0: nothing); (entries, audit lines) deleted."""
    if days <= 0:
        return 0, 0
    limit = (now or utcnow()) - dt.timedelta(days=days)
    expired = select(RegisterEntry.id).where(RegisterEntry.completed_at < limit)
    # Audit lines that stay no longer name a record that is gone.
    s.execute(
        update(RegisterAudit)
        .where(RegisterAudit.entry_id.in_(expired))
        .values(subject="", entry_id=None)
        .execution_options(synchronize_session=False)
    )
    entries = s.execute(
        delete(RegisterEntry)
        .where(RegisterEntry.completed_at < limit)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    audit = s.execute(
        delete(RegisterAudit).where(RegisterAudit.at < limit).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return int(entries), int(audit)

"""The outbox's history, pruned: sent, applied and superseded rows that nothing reads any more.

Kept, whatever their age:
- the newest row of every target (`rows.is_newest`): a platform takes a score only with a timestamp later than
  the one it holds (AGS; Moodle answers an equal whole second with 409), and the next score's timestamp is
  made from that row's (`payloads.next_timestamp`); it is also each grade's state in the gradebook and what
  "send again" picks up;
- rows waiting or in flight (pending, sending), failed rows (why a grade did not arrive; "send again") and
  removed rows (the grade item was deleted in the LMS: nothing is sent there until a teacher asks);
- sent and applied rows delivered within GRADE_HISTORY_DAYS: the gradebook's page of a learner lists each
  delivery in its timeline;
- superseded rows queued within SUPERSEDED_KEPT: they were never sent and no page shows them; the hour covers
  the 409 check (`record.own_conflict` looks one second back, and at timestamps in the row's own second) and
  any lease still running.
The grade workers prune with their housekeeping (every HOUSEKEEPING_SECONDS, `worker.Worker.housekeep`), at most
PRUNE_BATCH rows per transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from ...models import GradeOutbox, utcnow
from .rows import DELIVERED, RowState, is_newest

SUPERSEDED_KEPT = dt.timedelta(hours=1)
PRUNE_BATCH = 1000


def prunable(
    s: Session, *, history_days: int, now: dt.datetime | None = None, limit: int = PRUNE_BATCH
) -> list[int]:
    """Ids of up to `limit` rows that the rules above no longer keep. A read: on SQLite run it outside the write
    transaction that deletes them (`delete_rows`), so that learners' writes never wait for the search. A row once
    prunable stays so (sent, applied and superseded rows never change, and a row with a newer one keeps it).
    `history_days` 0 keeps sent and applied rows (superseded ones are pruned all the same)."""
    now = now or utcnow()
    row = GradeOutbox
    superseded_before = now - SUPERSEDED_KEPT
    superseded = and_(
        row.state == RowState.SUPERSEDED,
        row.created_at < superseded_before,
        or_(row.last_attempt_at.is_(None), row.last_attempt_at < superseded_before),
    )
    old = superseded
    if history_days > 0:
        delivered_before = now - dt.timedelta(days=history_days)
        delivered = and_(
            row.state.in_(DELIVERED),
            or_(
                row.sent_at < delivered_before, and_(row.sent_at.is_(None), row.created_at < delivered_before)
            ),
        )
        old = or_(superseded, delivered)
    # No ORDER BY: the search stops at `limit` rows found (by state through ix_grade_outbox_due, old rows first).
    return sorted(s.scalars(select(row.id).where(old, ~is_newest(row)).limit(limit)))


def delete_rows(s: Session, ids: Collection[int]) -> int:
    """Delete these rows (ids from `prunable`); returns how many were still there. Never commits."""
    if not ids:
        return 0
    result = s.execute(
        delete(GradeOutbox).where(GradeOutbox.id.in_(list(ids))).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def prune(s: Session, *, history_days: int, now: dt.datetime | None = None, limit: int = PRUNE_BATCH) -> int:
    """`prunable` and `delete_rows` in the caller's transaction; returns the rows deleted. Never commits."""
    return delete_rows(s, prunable(s, history_days=history_days, now=now, limit=limit))

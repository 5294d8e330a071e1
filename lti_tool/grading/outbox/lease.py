"""The worker's lease on outbox rows: claim due rows, renew the lease while sending, give rows back unsent.

A claimed row is `sending`, held by one worker (claimed_by) until lease_until; a worker that dies leaves it
leased, and another worker claims it again when the lease has run out (the platform answers the repeat with
409, recorded as applied). The lease lives in lease_until alone: next_attempt_at says when a pending row is
due, last_attempt_at when the last attempt ended (record.py writes it), so a row in flight never shows a
"last attempt" in the future. Each function runs in the caller's short write transaction; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from ...models import GradeOutbox, utcnow
from .rows import Destination, RowState, is_newest


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row leased to one worker: everything needed to send it without the session."""

    id: int
    platform_id: int
    user_id: int
    context_id: int
    target: str
    lineitem_url: str | None
    payload: dict[str, Any]
    score_timestamp: str
    attempts: int
    restamps: int
    course_id: str | None
    module_id: str | None
    destination: str
    request_id: str | None  # of the request that queued the row (for the worker's log lines)

    @property
    def to_module_item(self) -> bool:
        """Goes to the tool's per-module line item (found or created through the container)."""
        return self.destination == Destination.MODULE_ITEM


_OLDER = aliased(GradeOutbox, name="older")  # built once: see rows._NEWER


def claim(
    s: Session, worker_id: str, *, limit: int, lease_seconds: float, now: dt.datetime | None = None
) -> list[Claimed]:
    """Lease up to `limit` due rows to `worker_id` (one short transaction; the caller commits).

    Due: pending with next_attempt_at reached, or sending with lease_until passed (its worker died). A row
    waits while an older row of its target is in flight; a row with a newer sibling is superseded here.
    PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint rows. SQLite: the
    transaction is BEGIN IMMEDIATE (the caller's `begin_write`), so claims are serialised.
    """
    now = now or utcnow()
    row = GradeOutbox
    older = _OLDER
    older_in_flight = exists().where(
        older.user_id == row.user_id,
        older.context_id == row.context_id,
        older.target == row.target,
        older.id < row.id,
        older.state == RowState.SENDING,
        older.lease_until > now,
    )
    query = (
        select(row.id)
        .where(
            or_(
                and_(row.state == RowState.PENDING, row.next_attempt_at <= now),
                and_(row.state == RowState.SENDING, row.lease_until <= now),
            ),
            ~older_in_flight,
        )
        .order_by(row.next_attempt_at, row.id)
        .limit(limit)
    )
    if s.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=row)
    ids = list(s.scalars(query))
    if not ids:
        return []
    stale = set(s.scalars(select(row.id).where(row.id.in_(ids), ~is_newest(row))))
    if stale:
        s.execute(
            update(row)
            .where(row.id.in_(stale))
            .values(state=RowState.SUPERSEDED, claimed_by=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
    fresh = [i for i in ids if i not in stale]
    if not fresh:
        return []
    lease = now + dt.timedelta(seconds=lease_seconds)
    result = s.execute(
        update(row)
        .where(row.id.in_(fresh))
        .values(
            state=RowState.SENDING,
            claimed_by=worker_id,
            lease_until=lease,
            attempts=row.attempts + 1,
        )
        .returning(
            row.id,
            row.platform_id,
            row.user_id,
            row.context_id,
            row.target,
            row.lineitem_url,
            row.payload,
            row.score_timestamp,
            row.attempts,
            row.restamps,
            row.course_id,
            row.module_id,
            row.destination,
            row.request_id,
        )
        .execution_options(synchronize_session=False)
    ).all()
    claimed = [Claimed(*r) for r in result]
    claimed.sort(key=lambda c: fresh.index(c.id))
    return claimed


def extend_lease(
    s: Session, worker_id: str, ids: Sequence[int], *, lease_seconds: float, now: dt.datetime | None = None
) -> set[int]:
    """Renew the lease of rows this worker still holds; returns the ids it still holds."""
    if not ids:
        return set()
    lease = (now or utcnow()) + dt.timedelta(seconds=lease_seconds)
    held = s.scalars(
        update(GradeOutbox)
        .where(
            GradeOutbox.id.in_(list(ids)),
            GradeOutbox.state == RowState.SENDING,
            GradeOutbox.claimed_by == worker_id,
        )
        .values(lease_until=lease)
        .returning(GradeOutbox.id)
        .execution_options(synchronize_session=False)
    ).all()
    return set(held)


def release(s: Session, worker_id: str, ids: Sequence[int], *, due: dt.datetime | None = None) -> int:
    """Give claimed rows back unsent (stopping, or the platform is being given a rest)."""
    if not ids:
        return 0
    result = s.execute(
        update(GradeOutbox)
        .where(
            GradeOutbox.id.in_(list(ids)),
            GradeOutbox.state == RowState.SENDING,
            GradeOutbox.claimed_by == worker_id,
        )
        .values(
            state=RowState.PENDING,
            claimed_by=None,
            lease_until=None,
            next_attempt_at=due or utcnow(),
            attempts=GradeOutbox.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

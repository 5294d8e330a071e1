"""Watching the outbox: workers' heartbeats, rows per state, the oldest waiting row, failed rows.

Read by the operator pages (/admin grades and health), `scripts/flask grades status` and the metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from ...db import insert_for
from ...models import GradeOutbox, WorkerHeartbeat, utcnow
from .rows import STATES, RowState, is_newest, newest_rows


def heartbeat(
    s: Session, worker_id: str, *, hostname: str, pid: int, started_at: dt.datetime, delivered: int
) -> None:
    now = utcnow()
    ins = insert_for(s)(WorkerHeartbeat).values(
        worker_id=worker_id,
        hostname=hostname[:255],
        pid=pid,
        started_at=started_at,
        last_seen_at=now,
        delivered=delivered,
    )
    s.execute(
        ins.on_conflict_do_update(
            index_elements=[WorkerHeartbeat.worker_id],
            set_={"last_seen_at": now, "delivered": delivered},
        )
    )


def forget_worker(s: Session, worker_id: str) -> None:
    s.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id))


@dataclass(frozen=True, slots=True)
class Summary:
    counts: dict[str, int]
    oldest_pending_seconds: float | None
    workers_alive: int
    workers: list[WorkerHeartbeat]


def counted() -> Any:
    """SQL condition: the rows a count of states includes. A failed or removed row counts only while it is the
    newest of its target (what the gradebook shows and "send again" picks up); one sent again since then is
    history. The operator pages, `grades status` and the gradebook count the same way."""
    return or_(GradeOutbox.state.not_in([RowState.FAILED, RowState.REMOVED]), is_newest())


def summary(
    s: Session, *, alive_within: float, states: Collection[str] = STATES, now: dt.datetime | None = None
) -> Summary:
    """Rows per state (only `states` are counted: sent and superseded rows pile up, the others stay few; failed
    and removed ones as `counted` says), the age of the oldest waiting row, and the workers' heartbeats."""
    now = now or utcnow()
    counts = dict.fromkeys(states, 0)
    for state, n in s.execute(
        select(GradeOutbox.state, func.count())
        .where(GradeOutbox.state.in_(list(states)), counted())
        .group_by(GradeOutbox.state)
    ):
        counts[state] = int(n)
    oldest = s.scalar(
        select(func.min(GradeOutbox.created_at)).where(
            GradeOutbox.state.in_([RowState.PENDING, RowState.SENDING])
        )
    )
    if isinstance(oldest, dt.datetime) and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)  # func.min bypasses the column type on SQLite
    elif isinstance(oldest, str):
        oldest = dt.datetime.fromisoformat(oldest).replace(tzinfo=dt.UTC)
    workers = list(s.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.worker_id)))
    cutoff = now - dt.timedelta(seconds=alive_within)
    return Summary(
        counts=counts,
        oldest_pending_seconds=(now - oldest).total_seconds() if oldest is not None else None,
        workers_alive=sum(1 for w in workers if w.last_seen_at >= cutoff),
        workers=workers,
    )


def failed_rows(
    s: Session, *, context_id: int | None = None, limit: int = 50, state: str = RowState.FAILED
) -> list[GradeOutbox]:
    """Failed (or removed) rows that are still the newest of their target (what "send again", or the teacher's
    "create again", would pick up)."""
    query = newest_rows(context_id=context_id, states=[state])
    return list(s.scalars(query.order_by(GradeOutbox.id.desc()).limit(limit)))

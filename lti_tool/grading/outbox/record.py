"""What became of a delivery attempt, written to its row: sent, applied (409), removed (404), failed, or to be
tried again (later, or at once with a newer timestamp after a 409 our own previous score caused).

Each function writes only if this worker still holds the row (its lease was not lost meanwhile), in the
caller's transaction; the caller commits. `record_outcome` maps the platform's answer (`ags.OutcomeKind`) to a
row state (`RowState`): the two vocabularies meet only here.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ...models import GradeOutbox, LineItem, utcnow
from ..ags import Outcome, OutcomeKind
from ..payloads import format_timestamp, next_timestamp, parse_timestamp
from .lease import Claimed
from .rows import Destination, RowState, is_newest

log = logging.getLogger(__name__)


def _held(row_id: int, worker_id: str) -> Any:
    return and_(
        GradeOutbox.id == row_id, GradeOutbox.state == RowState.SENDING, GradeOutbox.claimed_by == worker_id
    )


def _has_newer(s: Session, row_id: int) -> bool:
    """A newer score for the row's target was queued (so this one is superseded rather than retried)."""
    return s.scalar(select(GradeOutbox.id).where(GradeOutbox.id == row_id, ~is_newest())) is not None


def _finish(
    s: Session,
    row_id: int,
    worker_id: str,
    values: dict[str, Any],
    *,
    now: dt.datetime,
    duration_ms: int | None = None,
) -> bool:
    values = {
        "claimed_by": None,
        "lease_until": None,
        "last_attempt_at": now,
        "last_duration_ms": duration_ms,
        **values,
    }
    result = s.execute(
        update(GradeOutbox)
        .where(_held(row_id, worker_id))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    done = bool(result.rowcount)  # type: ignore[attr-defined]
    if not done:
        log.warning("grade %s: lease lost before the outcome was recorded", row_id)
    return done


def record_delivered(
    s: Session,
    row_id: int,
    worker_id: str,
    *,
    applied: bool,
    status: int,
    lineitem_url: str,
    now: dt.datetime | None = None,
    duration_ms: int | None = None,
) -> bool:
    """2xx: sent. 409: applied (the platform already holds this score or a newer one)."""
    now = now or utcnow()
    values: dict[str, Any] = {
        "state": RowState.APPLIED if applied else RowState.SENT,
        "sent_at": now,
        "last_status": status,
        "lineitem_url": lineitem_url,
        "last_error": "the platform already had this or a newer score (409)" if applied else None,
    }
    return _finish(s, row_id, worker_id, values, now=now, duration_ms=duration_ms)


def _answer(state: RowState, status: int | None, reason: str, lineitem_url: str | None) -> dict[str, Any]:
    """What an answer other than success records on the row: its new state, the platform's status and reason,
    and the line item it went to (when known)."""
    values: dict[str, Any] = {"state": state, "last_status": status, "last_error": reason[:2000]}
    if lineitem_url is not None:
        values["lineitem_url"] = lineitem_url
    return values


def record_failed(
    s: Session,
    row_id: int,
    worker_id: str,
    *,
    status: int | None,
    reason: str,
    lineitem_url: str | None = None,
    now: dt.datetime | None = None,
    duration_ms: int | None = None,
) -> bool:
    now = now or utcnow()
    values = _answer(RowState.FAILED, status, reason, lineitem_url)
    done = _finish(s, row_id, worker_id, values, now=now, duration_ms=duration_ms)
    if done:
        from ...gradebook.summary import refresh_delivery  # the gradebook imports this package

        owner = s.execute(
            select(GradeOutbox.user_id, GradeOutbox.context_id).where(GradeOutbox.id == row_id)
        ).one()
        refresh_delivery(s, user_ids=[owner.user_id], context_id=owner.context_id)
    return done


def record_removed(
    s: Session,
    row_id: int,
    worker_id: str,
    *,
    status: int | None,
    reason: str,
    lineitem_url: str | None,
    now: dt.datetime | None = None,
    duration_ms: int | None = None,
) -> bool:
    """The platform says the line item does not exist (404: the teacher deleted the grade item). The row is
    removed, and a per-module line item is marked removed, so no score goes there and it is never created
    again unless a teacher asks for it (`resend(..., removed=True)`)."""
    now = now or utcnow()
    values = _answer(RowState.REMOVED, status, reason, lineitem_url)
    if lineitem_url is not None:
        row = s.get(GradeOutbox, row_id)
        if row is not None and row.destination == Destination.MODULE_ITEM:
            s.execute(
                update(LineItem)
                .where(LineItem.context_id == row.context_id, LineItem.url == lineitem_url)
                .values(removed_at=func.coalesce(LineItem.removed_at, now))
                .execution_options(synchronize_session=False)
            )
    return _finish(s, row_id, worker_id, values, now=now, duration_ms=duration_ms)


def record_retry(
    s: Session,
    row_id: int,
    worker_id: str,
    *,
    delay: float,
    status: int | None,
    reason: str,
    lineitem_url: str | None = None,
    now: dt.datetime | None = None,
    duration_ms: int | None = None,
) -> bool:
    """Try again after `delay` seconds, unless a newer score for the target arrived meanwhile."""
    now = now or utcnow()
    state = RowState.SUPERSEDED if _has_newer(s, row_id) else RowState.PENDING
    values = _answer(state, status, reason, lineitem_url)
    values["next_attempt_at"] = now + dt.timedelta(seconds=delay)
    return _finish(s, row_id, worker_id, values, now=now, duration_ms=duration_ms)


def record_restamp(
    s: Session,
    row: Claimed,
    worker_id: str,
    *,
    timestamp: str,
    send_at: dt.datetime,
    lineitem_url: str,
    now: dt.datetime | None = None,
    duration_ms: int | None = None,
) -> bool:
    """409 caused by our own earlier delivery (see `own_conflict`): send once more with a newer timestamp."""
    now = now or utcnow()
    payload = dict(row.payload)
    payload["timestamp"] = timestamp
    values: dict[str, Any] = {
        "state": RowState.SUPERSEDED if _has_newer(s, row.id) else RowState.PENDING,
        "payload": payload,
        "score_timestamp": timestamp,
        "restamps": row.restamps + 1,
        "next_attempt_at": send_at,
        "last_status": 409,
        "last_error": "409 right after our previous score for this line item; sending again with a newer timestamp",
        "lineitem_url": lineitem_url,
    }
    return _finish(s, row.id, worker_id, values, now=now, duration_ms=duration_ms)


def own_conflict(s: Session, row: Claimed, lineitem_url: str) -> dt.datetime | None:
    """Could a 409 for `row` come from our own previous score for the same user and line item? Then the
    latest score timestamp of ours that may stand at the platform (at least the row's own); else None.

    Moodle refuses a score whose timestamp is not after the grade's `timemodified` in whole seconds: the moment
    it *saved* the previous grade (the activity's own grade item), or the previous score's own timestamp (a
    line item made through the container). So a score queued while our previous one was on its way or in the
    same second is refused although it is newer, and so is one whose timestamp shares its whole second with a
    previous score of ours that carried a later-than-clock timestamp (a restamped score's successor:
    `payloads.next_timestamp`). That is the case when another row of ours for this user and line item finished
    (or was still in flight) less than a second before this row's timestamp, or later, or carried a timestamp
    in this row's second or later. Only once per row (`restamps`): a second 409 is the platform's answer.
    """
    if row.restamps > 0:
        return None
    stamp = parse_timestamp(row.score_timestamp)
    since = stamp - dt.timedelta(seconds=1)
    second = format_timestamp(stamp.replace(microsecond=0))  # timestamps are stored in this one format
    other = GradeOutbox
    ours = (
        other.id != row.id,
        other.user_id == row.user_id,
        other.context_id == row.context_id,
        or_(other.target == row.target, other.lineitem_url == lineitem_url),
        other.attempts > 0,
        or_(
            other.last_attempt_at >= since,
            and_(other.state == RowState.SENDING, other.lease_until >= since),  # in flight
            other.score_timestamp >= second,
        ),
    )
    found, latest = s.execute(select(func.count(), func.max(other.score_timestamp)).where(*ours)).one()
    if not found:
        return None
    return max(stamp, parse_timestamp(latest)) if latest else stamp


def restamp_second(latest: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When a restamped score is sent, and its new timestamp: 1 ms into the first whole second after both the
    clock and every timestamp of ours that may stand at the platform (`own_conflict`), so that neither the
    moment the platform saved our previous score nor that score's own timestamp shares its second."""
    return max(now, latest).replace(microsecond=0) + dt.timedelta(seconds=1, milliseconds=1)


def record_outcome(
    s: Session,
    row: Claimed,
    worker_id: str,
    outcome: Outcome,
    url: str | None,
    *,
    at: dt.datetime,
    delay: float | None = None,
    duration_ms: int | None = None,
) -> bool:
    """Store what the platform answered for a claimed row; True when the row now counts as delivered (sent or
    applied). A 409 that our own previous score explains (`own_conflict`) is sent again instead."""
    if outcome.kind in (OutcomeKind.SENT, OutcomeKind.APPLIED) and url is not None:
        applied = outcome.kind == OutcomeKind.APPLIED
        latest = own_conflict(s, row, url) if applied else None
        if latest is not None:
            send_at = restamp_second(latest, utcnow())
            stamp = next_timestamp(row.score_timestamp, send_at)
            log.debug("grade %s: 409 after our own previous score; resending at %s", row.id, stamp)
            record_restamp(
                s,
                row,
                worker_id,
                timestamp=stamp,
                send_at=send_at,
                lineitem_url=url,
                now=at,
                duration_ms=duration_ms,
            )
            return False
        return record_delivered(
            s,
            row.id,
            worker_id,
            applied=applied,
            status=409 if applied else outcome.status or 200,
            lineitem_url=url,
            now=at,
            duration_ms=duration_ms,
        )
    if outcome.kind == OutcomeKind.RETRY:
        record_retry(
            s,
            row.id,
            worker_id,
            delay=delay or 0.0,
            status=outcome.status,
            reason=outcome.reason,
            lineitem_url=url,
            now=at,
            duration_ms=duration_ms,
        )
        return False
    record_final = record_removed if outcome.kind == OutcomeKind.REMOVED else record_failed
    record_final(
        s,
        row.id,
        worker_id,
        status=outcome.status,
        reason=outcome.reason,
        lineitem_url=url,
        now=at,
        duration_ms=duration_ms,
    )
    return False

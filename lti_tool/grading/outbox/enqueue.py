"""Queueing grades: in the transaction that changed a learner's progress (`enqueue_grades`), at a launch and on
the teacher's "send" (`reconcile`), and "send again" (`resend`). Never commits; the caller's edge does.

Per learner and context one enqueuer at a time (`db.advisory_lock`), so a target's row ids and score
timestamps grow together. Workers are woken when the transaction commits (`_announce`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import Exists, event, exists, insert, or_, select, text, update
from sqlalchemy.orm import Session

from ...course.model import Course
from ...db import advisory_lock
from ...logconfig import current_request_id
from ...models import (
    Context,
    CourseProgress,
    Deployment,
    GradeOutbox,
    Membership,
    ModuleProgress,
    PracticeSubmission,
    User,
    utcnow,
)
from ..payloads import course_result, has_result, module_result, next_timestamp, same_score
from .rows import Destination, RowState, newest_rows
from .targets import Target, forget_lineitem, targets_for

_wake_listeners: list[Callable[[], None]] = []


def add_wake_listener(listener: Callable[[], None]) -> None:
    """Called after a transaction that enqueued grades commits (in-process workers wake up at once)."""
    _wake_listeners.append(listener)


def remove_wake_listener(listener: Callable[[], None]) -> None:
    if listener in _wake_listeners:
        _wake_listeners.remove(listener)


def _wake(_session: Session) -> None:
    for listener in list(_wake_listeners):
        listener()


WAKE_CHANNEL = "nama_grades"


def _announce(s: Session) -> None:
    """Wake workers when this transaction commits: in this process at once, elsewhere through PostgreSQL's
    NOTIFY (sent at commit, never for a rolled-back transaction; see processes.PgWakeup)."""
    if not event.contains(s, "after_commit", _wake):
        event.listen(s, "after_commit", _wake, once=True)
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text(f"NOTIFY {WAKE_CHANNEL}"))


def _lock_learner(s: Session, user_id: int, context_id: int) -> None:
    """One enqueuer per learner and context at a time, so ids and timestamps grow together per target."""
    advisory_lock(s, f"grades:{user_id}:{context_id}")


def _newest(s: Session, user_id: int, context_id: int, targets: Collection[str]) -> dict[str, GradeOutbox]:
    """The newest row of each of these targets of the learner."""
    query = newest_rows(context_id=context_id, user_ids=[user_id], targets=targets)
    return {row.target: row for row in s.scalars(query)}


def _supersede_pending(s: Session, user_id: int, context_id: int, targets: Collection[str]) -> None:
    s.execute(
        update(GradeOutbox)
        .where(
            GradeOutbox.user_id == user_id,
            GradeOutbox.context_id == context_id,
            GradeOutbox.target.in_(list(targets)),
            GradeOutbox.state == RowState.PENDING,
        )
        .values(state=RowState.SUPERSEDED)
        .execution_options(synchronize_session=False)
    )


def _row(
    *,
    platform_id: int,
    user_id: int,
    context_id: int,
    target: str,
    lineitem_url: str | None,
    resource_link_id: int | None,
    course_id: str | None,
    module_id: str | None,
    destination: str,
    payload: dict[str, Any],
    now: dt.datetime,
) -> dict[str, Any]:
    return {
        "platform_id": platform_id,
        "user_id": user_id,
        "context_id": context_id,
        "resource_link_id": resource_link_id,
        "target": target,
        "lineitem_url": lineitem_url,
        "payload": payload,
        "score_timestamp": payload["timestamp"],
        "state": RowState.PENDING,
        "attempts": 0,
        "restamps": 0,
        "next_attempt_at": now,
        "created_at": now,
        "course_id": course_id,
        "module_id": module_id,
        "destination": destination,
        "request_id": current_request_id(),
    }


def _insert(s: Session, rows: list[dict[str, Any]], *, note_in_gradebook: bool = True) -> list[GradeOutbox]:
    """Insert the rows and return them in id order. SQLAlchemy sends them as one multi-row INSERT … VALUES …
    RETURNING (its "insertmanyvalues", on PostgreSQL and on SQLite ≥ 3.35 alike, up to 1000 rows a statement),
    which does not promise the order of the returned rows: hence the sort (ids follow the order of `rows`)."""
    if not rows:
        return []
    inserted = s.scalars(insert(GradeOutbox).returning(GradeOutbox), rows).all()
    if note_in_gradebook:
        _note_in_gradebook(s, inserted)
    return sorted(inserted, key=lambda row: row.id)


def _note_in_gradebook(s: Session, rows: Sequence[GradeOutbox]) -> None:
    """A new row is the newest of its target: the gradebook's summary learns whether a grade still fails, and
    the course grade when a course result was queued."""
    from ...gradebook.summary import (
        Keep,
        course_grade,
        refresh_delivery,
    )  # the gradebook imports this package

    by_context: dict[int, dict[int, list[GradeOutbox]]] = {}
    for row in rows:
        by_context.setdefault(row.context_id, {}).setdefault(row.user_id, []).append(row)
    for context_id, users in by_context.items():
        grades = {
            user: grade for user, added in users.items() if not isinstance(grade := course_grade(added), Keep)
        }
        refresh_delivery(s, user_ids=users, context_id=context_id, grades=grades)


def enqueue_grades(
    s: Session,
    *,
    user_id: int,
    context_id: int,
    course: Course,
    changed_module_ids: Collection[str],
    note_in_gradebook: bool = True,
) -> list[GradeOutbox]:
    """Queue the learner's current course result and the results of the changed modules; never commits.

    Call it in the transaction that recorded the progress (after the progress rows are updated). Returns the
    rows added: none for instructors, none for a target whose newest row already carries the same score.
    `note_in_gradebook=False`: the caller rewrites the learner's gradebook summary afterwards in this
    transaction (`progress.refresh_progress`), so the failed flag and the course grade need no statement here.
    """
    return _queue(
        s,
        user_id,
        context_id,
        course,
        set(changed_module_ids),
        missing_only=False,
        note_in_gradebook=note_in_gradebook,
    )


def reconcile(
    s: Session,
    *,
    user_id: int,
    context_id: int,
    course: Course,
    link_ids: Collection[int] | None = None,
    unlaunched: bool = False,
) -> list[GradeOutbox]:
    """Queue what the platform should hold but was not sent (or not the current value); never commits.

    Called by a learner's launch for the launched link (an activity added after the learner's results
    exist gets them now) and by the teacher's "send" action for every activity (`unlaunched`). Only for a
    learner who has a result (a quiz taken, a practice task submitted or a module completed): an empty
    launch sends nothing, as "receive a grade" completion in Moodle would count even a 0. A target whose
    newest row failed or was removed in the LMS is left to the teacher. A bounded number of statements
    whatever the course (no platform call).
    """
    modules = {m.id for m in course.modules}
    return _queue(
        s, user_id, context_id, course, modules, missing_only=True, link_ids=link_ids, unlaunched=unlaunched
    )


def any_result(user_id: Any, context_id: Any, course_id: Any) -> Exists:
    """Whether the learner has a module result in the course (`has_result` in SQL): without one `reconcile` queues
    nothing whatever the targets, so a launch asks this (in its own statement on PostgreSQL) before it."""
    return exists().where(
        ModuleProgress.user_id == user_id,
        ModuleProgress.context_id == context_id,
        ModuleProgress.course_id == course_id,
        or_(
            ModuleProgress.attempts > 0,
            ModuleProgress.practice_submitted_at.is_not(None),
            ModuleProgress.completed_at.is_not(None),
        ),
    )


def _has_result(progress: ModuleProgress | None) -> bool:
    return progress is not None and has_result(
        attempts=progress.attempts,
        practice_submitted=progress.practice_submitted_at is not None,
        completed=progress.completed_at is not None,
    )


def _queue(
    s: Session,
    user_id: int,
    context_id: int,
    course: Course,
    modules: set[str],
    *,
    missing_only: bool,
    link_ids: Collection[int] | None = None,
    unlaunched: bool = False,
    note_in_gradebook: bool = True,
) -> list[GradeOutbox]:
    found = s.execute(
        select(Context, Deployment.platform_id, User.sub, User.grades_held, Membership.is_instructor)
        .join(Deployment, Context.deployment_id == Deployment.id)
        .join(User, User.id == user_id)
        .outerjoin(Membership, (Membership.user_id == user_id) & (Membership.context_id == Context.id))
        .where(Context.id == context_id)
    ).one_or_none()
    if found is None:
        raise ValueError(f"no context {context_id} or user {user_id}")
    context, platform_id, sub, grades_held, instructor = found
    if instructor or grades_held:  # held: came back after an erasure (lti_tool/privacy/erasure.py)
        return []
    targets = targets_for(s, context, user_id, course, modules, link_ids=link_ids, unlaunched=unlaunched)
    if not targets:
        return []
    _lock_learner(s, user_id, context_id)

    owner = (
        (ModuleProgress.user_id == user_id)
        & (ModuleProgress.context_id == context_id)
        & (ModuleProgress.course_id == course.id)
    )
    progress = {p.module_id: p for p in s.scalars(select(ModuleProgress).where(owner))}
    if missing_only:
        targets = [
            t
            for t in targets
            if (t.module_id is None and any(_has_result(p) for p in progress.values()))
            or (t.module_id is not None and _has_result(progress.get(t.module_id)))
        ]
        if not targets:
            return []
    course_progress = s.scalars(
        select(CourseProgress).where(
            CourseProgress.user_id == user_id,
            CourseProgress.context_id == context_id,
            CourseProgress.course_id == course.id,
        )
    ).first()
    unaccepted = s.execute(
        select(PracticeSubmission.module_id, PracticeSubmission.revision_requested_at).where(
            PracticeSubmission.user_id == user_id,
            PracticeSubmission.context_id == context_id,
            PracticeSubmission.course_id == course.id,
            PracticeSubmission.reviewed_at.is_(None),
        )
    ).all()
    awaiting_review = {module_id for module_id, _ in unaccepted}
    revision_requested = {module_id for module_id, asked in unaccepted if asked is not None}

    now = utcnow()
    newest = _newest(s, user_id, context_id, [t.key for t in targets])
    rows: list[tuple[Target, dict[str, Any]]] = []
    for target in targets:
        if target.module_id is None:
            result = course_result(course, progress, course_progress, awaiting_review, revision_requested)
        else:
            module = course.module(target.module_id)
            assert module is not None
            result = module_result(
                course, module, progress.get(module.id), awaiting_review, revision_requested
            )
        last = newest.get(target.key)
        payload = result.payload(sub, next_timestamp(last.score_timestamp if last else None, now))
        if last is not None:
            moved = target.resource_link_id is not None and last.lineitem_url not in (
                None,
                target.lineitem_url,
            )
            if last.state == RowState.REMOVED and not moved:
                continue  # deleted in the LMS: only the teacher brings it back
            if missing_only and last.state == RowState.FAILED and not moved:
                continue  # the teacher sends failed grades again, seeing why they failed
            if same_score(last.payload, payload) and not moved:
                continue
        rows.append((target, payload))
    if not rows:
        return []
    _supersede_pending(s, user_id, context_id, [target.key for target, _ in rows])
    added = _insert(
        s,
        [
            _row(
                platform_id=platform_id,
                user_id=user_id,
                context_id=context_id,
                target=target.key,
                lineitem_url=target.lineitem_url,
                resource_link_id=target.resource_link_id,
                course_id=course.id,
                module_id=target.module_id,
                destination=target.destination,
                payload=payload,
                now=now,
            )
            for target, payload in rows
        ],
        note_in_gradebook=note_in_gradebook,
    )
    _announce(s)
    return added


def resend(
    s: Session,
    ids: Collection[int] | None = None,
    *,
    context_id: int | None = None,
    user_id: int | None = None,
    platform_id: int | None = None,
    removed: bool = False,
) -> list[GradeOutbox]:
    """Send again: failed rows (the newest of their target) are queued anew; waiting rows become due now.

    A failed row stays as it was (history, with its reason); a new pending row carries the same score with a
    fresh timestamp (a platform keeps only a newer one), and a per-module line item is looked up again. Rows
    already sent, applied or superseded are left alone. Without ids or filters: every failed row.

    With `removed` (the teacher's explicit "create the grade item again"): rows whose line item was deleted
    in the LMS instead; the tool forgets the deleted per-module line items, so the worker creates them anew.
    Never commits.
    """
    states = [RowState.REMOVED] if removed else [RowState.FAILED, RowState.PENDING]
    query = newest_rows(context_id=context_id, user_ids=None if user_id is None else [user_id], states=states)
    if ids is not None:
        query = query.where(GradeOutbox.id.in_(list(ids)))
    if platform_id is not None:
        query = query.where(GradeOutbox.platform_id == platform_id)
    now = utcnow()
    values: list[dict[str, Any]] = []
    for row in s.scalars(query.order_by(GradeOutbox.id)).all():
        if row.state == RowState.PENDING:
            row.next_attempt_at = now
            continue
        auto = row.destination == Destination.MODULE_ITEM
        if removed and auto and row.lineitem_url is not None:
            forget_lineitem(s, context_id=row.context_id, url=row.lineitem_url)
        _lock_learner(s, row.user_id, row.context_id)
        payload = dict(row.payload)
        payload["timestamp"] = next_timestamp(row.score_timestamp, now)
        values.append(
            _row(
                platform_id=row.platform_id,
                user_id=row.user_id,
                context_id=row.context_id,
                target=row.target,
                lineitem_url=None if auto else row.lineitem_url,
                resource_link_id=row.resource_link_id,
                course_id=row.course_id,
                module_id=row.module_id,
                destination=row.destination,
                payload=payload,
                now=now,
            )
        )
    s.flush()
    added = _insert(s, values)
    _announce(s)
    return added

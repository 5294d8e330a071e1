"""The grade outbox: enqueue (in the caller's transaction), claim, record outcomes, send again, report.

Services here take a session and never commit; the edge (progress.py's request, the worker loop, the CLI)
commits. See lti_tool/grading/__init__.py for the states and rules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, delete, event, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from ..course.model import Course
from ..db import insert_for
from ..logconfig import current_request_id
from ..models import (
    Context,
    CourseProgress,
    Deployment,
    GradeOutbox,
    LineItem,
    LinkLaunch,
    Membership,
    ModuleProgress,
    PracticeSubmission,
    ResourceLink,
    User,
    WorkerHeartbeat,
    utcnow,
)
from .payloads import course_result, module_result, next_timestamp, parse_timestamp, same_score

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, APPLIED, FAILED, REMOVED, SUPERSEDED = (
    "pending",
    "sending",
    "sent",
    "applied",
    "failed",
    "removed",
    "superseded",
)
STATES = (PENDING, SENDING, SENT, APPLIED, FAILED, REMOVED, SUPERSEDED)

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"

# Where a grade goes, as stored in GradeOutbox.target (per user and context):
#   course:<course>@link:<resource_link pk>        the launched whole-course link's own line item
#   module:<course>/<module>@link:<resource_link pk>   a single-module link's own line item
#   module:<course>/<module>@lineitems             the tool's per-module line item (found or created)
AUTO = "@lineitems"


@dataclass(frozen=True, slots=True)
class Target:
    key: str
    module_id: str | None
    lineitem_url: str | None
    resource_link_id: int | None


# --- enqueue ----------------------------------------------------------------------------------------

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
    NOTIFY (sent at commit, never for a rolled-back transaction; see worker.PgWakeup)."""
    if not event.contains(s, "after_commit", _wake):
        event.listen(s, "after_commit", _wake, once=True)
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text(f"NOTIFY {WAKE_CHANNEL}"))


def _serialize_per_learner(s: Session, user_id: int, context_id: int) -> None:
    """One enqueuer per learner and context at a time, so ids and timestamps grow together per target.

    PostgreSQL: a transaction advisory lock. SQLite: the caller's write transaction already excludes every
    other writer (and a deferred one that wrote in between cannot commit), so nothing to do.
    """
    if s.get_bind().dialect.name == "postgresql":
        name = f"grades:{user_id}:{context_id}".encode()
        key = int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _targets(
    s: Session,
    context: Context,
    user_id: int,
    course: Course,
    modules: Collection[str],
    *,
    link_ids: Collection[int] | None = None,
    unlaunched: bool = False,
) -> list[Target]:
    """Where the learner's grades go: the activities (resource links) of this course that accept grades.

    A link accepts grades when its launch carried a `lineitem` (Moodle: "Accept grades from the tool" on). The
    course result goes to the whole-course links the learner launched (all of them with `unlaunched`, the
    teacher's "send" action), a module's result to the links that deliver just that module. Per-module line
    items through the container only for a whole-course link whose teacher asked for them
    (`module_grade_items`), never for a module that has its own link, and never again once removed.
    `link_ids` keeps only the targets of those links.
    """
    scopes = context.ags_scopes
    if scopes is not None and SCORE_SCOPE not in scopes:
        return []  # the platform does not accept scores from us here
    launched = (
        select(LinkLaunch.id)
        .where(LinkLaunch.resource_link_id == ResourceLink.id, LinkLaunch.user_id == user_id)
        .exists()
    )
    links = s.execute(
        select(
            ResourceLink.id,
            ResourceLink.module_id,
            ResourceLink.lineitem_url,
            ResourceLink.module_grade_items,
            launched,
        )
        .where(
            ResourceLink.context_id == context.id,
            ResourceLink.course_id == course.id,
            ResourceLink.lineitem_url.is_not(None),
        )
        .order_by(ResourceLink.id)
    ).all()
    chosen = [link for link in links if link_ids is None or link.id in link_ids]
    targets: list[Target] = []
    wants_module_items = False
    for link_id, module_id, url, module_items, learner_launched in chosen:
        if module_id is None and (learner_launched or unlaunched):
            targets.append(Target(f"course:{course.id}@link:{link_id}", None, url, link_id))
            wants_module_items = wants_module_items or module_items
    with_own_link = {link.module_id for link in links if link.module_id is not None}
    for module in course.modules:
        if module.id in modules:
            for link_id, module_id, url, _, _ in chosen:
                if module_id == module.id:
                    targets.append(
                        Target(f"module:{course.id}/{module.id}@link:{link_id}", module.id, url, link_id)
                    )
    if not (wants_module_items and context.lineitems_url and scopes and LINEITEM_SCOPE in scopes):
        return targets
    auto = [m.id for m in course.modules if m.id in modules and m.id not in with_own_link]
    known = known_lineitems(s, context.id, course.id, auto) if auto else {}
    for module_id in auto:
        url, removed = known.get(module_id, (None, False))
        if not removed:
            targets.append(Target(f"module:{course.id}/{module_id}{AUTO}", module_id, url, None))
    return targets


def known_lineitems(
    s: Session, context_id: int, course_id: str, module_ids: Collection[str]
) -> dict[str, tuple[str, bool]]:
    """The tool's per-module line items of a context: module id -> (URL, removed in the LMS)."""
    found: dict[str, tuple[str, bool]] = {}
    for module_id, url, removed_at in s.execute(
        select(LineItem.resource_id, LineItem.url, LineItem.removed_at)
        .where(
            LineItem.context_id == context_id,
            LineItem.resource_id.in_(list(module_ids)),
            LineItem.tag == course_id,
            LineItem.resource_link_id.is_(None),
        )
        .order_by(LineItem.id.desc())
    ):
        found[str(module_id)] = (url, removed_at is not None)  # the oldest wins
    return found


def known_lineitem(s: Session, context_id: int, course_id: str, module_id: str) -> tuple[str, bool] | None:
    """The per-module line item of a context (URL, removed in the LMS); None: find or create it."""
    found = s.execute(
        select(LineItem.url, LineItem.removed_at)
        .where(
            LineItem.context_id == context_id,
            LineItem.resource_id == module_id,
            LineItem.tag == course_id,
            LineItem.resource_link_id.is_(None),
        )
        .order_by(LineItem.id)
        .limit(1)
    ).first()
    return (found.url, found.removed_at is not None) if found else None


@dataclass(frozen=True, slots=True)
class Columns:
    """The grade items of one course context that take results: the course's and each module's targets."""

    course: frozenset[str]
    modules: dict[str, frozenset[str]]

    def expected(self, modules_with_result: Collection[str]) -> set[str]:
        """The target keys that should hold a value for a learner with results in these modules."""
        if not modules_with_result:
            return set()
        keys = set(self.course)
        for module_id in modules_with_result:
            keys |= self.modules.get(module_id, frozenset())
        return keys


def grade_columns(s: Session, context_id: int, course: Course) -> Columns | None:
    """Every grade target of the context's activities, launched by the learner or not (two statements)."""
    context = s.get(Context, context_id)
    if context is None:
        return None
    modules: dict[str, set[str]] = {}
    course_keys: set[str] = set()
    for target in _targets(s, context, 0, course, {m.id for m in course.modules}, unlaunched=True):
        if target.module_id is None:
            course_keys.add(target.key)
        else:
            modules.setdefault(target.module_id, set()).add(target.key)
    return Columns(frozenset(course_keys), {m: frozenset(keys) for m, keys in modules.items()})


def _newest(s: Session, user_id: int, context_id: int, targets: Collection[str]) -> dict[str, GradeOutbox]:
    """The newest row of each target (one query)."""
    newest_ids = (
        select(func.max(GradeOutbox.id))
        .where(
            GradeOutbox.user_id == user_id,
            GradeOutbox.context_id == context_id,
            GradeOutbox.target.in_(list(targets)),
        )
        .group_by(GradeOutbox.target)
    )
    return {row.target: row for row in s.scalars(select(GradeOutbox).where(GradeOutbox.id.in_(newest_ids)))}


def _supersede_pending(s: Session, user_id: int, context_id: int, targets: Collection[str]) -> None:
    s.execute(
        update(GradeOutbox)
        .where(
            GradeOutbox.user_id == user_id,
            GradeOutbox.context_id == context_id,
            GradeOutbox.target.in_(list(targets)),
            GradeOutbox.state == PENDING,
        )
        .values(state=SUPERSEDED)
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
        "state": PENDING,
        "attempts": 0,
        "restamps": 0,
        "next_attempt_at": now,
        "created_at": now,
        "course_id": course_id,
        "module_id": module_id,
        "request_id": current_request_id(),
    }


def _insert(s: Session, rows: list[dict[str, Any]]) -> list[GradeOutbox]:
    """One INSERT … RETURNING for all rows (not one statement per row)."""
    if not rows:
        return []
    inserted = s.scalars(insert(GradeOutbox).returning(GradeOutbox), rows).all()
    return sorted(inserted, key=lambda row: row.id)  # ids follow the order given


def enqueue_grades(
    s: Session, *, user_id: int, context_id: int, course: Course, changed_module_ids: Collection[str]
) -> list[GradeOutbox]:
    """Queue the learner's current course result and the results of the changed modules; never commits.

    Call it in the transaction that recorded the progress (after the progress rows are updated). Returns the
    rows added: none for instructors, none for a target whose newest row already carries the same score.
    """
    return _queue(s, user_id, context_id, course, set(changed_module_ids), missing_only=False)


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


def _has_result(progress: ModuleProgress | None) -> bool:
    return progress is not None and bool(
        progress.attempts or progress.practice_submitted_at is not None or progress.completed_at is not None
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
    targets = _targets(s, context, user_id, course, modules, link_ids=link_ids, unlaunched=unlaunched)
    if not targets:
        return []
    _serialize_per_learner(s, user_id, context_id)

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
    awaiting_review = set(
        s.scalars(
            select(PracticeSubmission.module_id).where(
                PracticeSubmission.user_id == user_id,
                PracticeSubmission.context_id == context_id,
                PracticeSubmission.course_id == course.id,
                PracticeSubmission.reviewed_at.is_(None),
            )
        )
    )

    now = utcnow()
    newest = _newest(s, user_id, context_id, [t.key for t in targets])
    rows: list[tuple[Target, dict[str, Any]]] = []
    for target in targets:
        if target.module_id is None:
            result = course_result(course, progress, course_progress, awaiting_review)
        else:
            module = course.module(target.module_id)
            assert module is not None
            result = module_result(course, module, progress.get(module.id), awaiting_review)
        last = newest.get(target.key)
        payload = result.payload(sub, next_timestamp(last.score_timestamp if last else None, now))
        if last is not None:
            moved = target.resource_link_id is not None and last.lineitem_url not in (
                None,
                target.lineitem_url,
            )
            if last.state == REMOVED and not moved:
                continue  # deleted in the LMS: only the teacher brings it back
            if missing_only and last.state == FAILED and not moved:
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
                payload=payload,
                now=now,
            )
            for target, payload in rows
        ],
    )
    _announce(s)
    return added


# --- send again ---------------------------------------------------------------------------------------


def _is_newest(alias: Any = None) -> Any:
    """SQL condition: no newer row exists for the same user, context and target."""
    row = alias if alias is not None else GradeOutbox
    newer = aliased(GradeOutbox)
    return ~exists().where(
        newer.user_id == row.user_id,
        newer.context_id == row.context_id,
        newer.target == row.target,
        newer.id > row.id,
    )


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
    states = [REMOVED] if removed else [FAILED, PENDING]
    query: Select[GradeOutbox] = select(GradeOutbox).where(GradeOutbox.state.in_(states), _is_newest())
    if ids is not None:
        query = query.where(GradeOutbox.id.in_(list(ids)))
    if context_id is not None:
        query = query.where(GradeOutbox.context_id == context_id)
    if user_id is not None:
        query = query.where(GradeOutbox.user_id == user_id)
    if platform_id is not None:
        query = query.where(GradeOutbox.platform_id == platform_id)
    now = utcnow()
    values: list[dict[str, Any]] = []
    for row in s.scalars(query.order_by(GradeOutbox.id)).all():
        if row.state == PENDING:
            row.next_attempt_at = now
            continue
        auto = row.target.endswith(AUTO)
        if removed and auto and row.lineitem_url is not None:
            forget_lineitem(s, context_id=row.context_id, url=row.lineitem_url)
        _serialize_per_learner(s, row.user_id, row.context_id)
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
                payload=payload,
                now=now,
            )
        )
    s.flush()
    added = _insert(s, values)
    _announce(s)
    return added


# --- claim and record (the worker's side) ---------------------------------------------------------------


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
    request_id: str | None = None  # of the request that queued the row (for the worker's log lines)

    @property
    def is_auto(self) -> bool:
        return self.target.endswith(AUTO)


def claim(
    s: Session, worker_id: str, *, limit: int, lease_seconds: float, now: dt.datetime | None = None
) -> list[Claimed]:
    """Lease up to `limit` due rows to `worker_id` (one short transaction; the caller commits).

    Due: pending with next_attempt_at reached, or sending with an expired lease (its worker died). A row
    waits while an older row of its target is in flight; a row with a newer sibling is superseded here.
    PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint rows. SQLite: the
    transaction is BEGIN IMMEDIATE (the caller's `begin_write`), so claims are serialised.
    """
    now = now or utcnow()
    row = GradeOutbox
    older = aliased(GradeOutbox)
    older_in_flight = exists().where(
        older.user_id == row.user_id,
        older.context_id == row.context_id,
        older.target == row.target,
        older.id < row.id,
        older.state == SENDING,
        older.lease_until > now,
    )
    query = (
        select(row.id)
        .where(row.state.in_([PENDING, SENDING]), row.next_attempt_at <= now, ~older_in_flight)
        .order_by(row.next_attempt_at, row.id)
        .limit(limit)
    )
    if s.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=row)
    ids = list(s.scalars(query))
    if not ids:
        return []
    newer = aliased(GradeOutbox)
    stale = set(
        s.scalars(
            select(row.id).where(
                row.id.in_(ids),
                exists().where(
                    newer.user_id == row.user_id,
                    newer.context_id == row.context_id,
                    newer.target == row.target,
                    newer.id > row.id,
                    newer.state != SUPERSEDED,
                ),
            )
        )
    )
    if stale:
        s.execute(
            update(row)
            .where(row.id.in_(stale))
            .values(state=SUPERSEDED, claimed_by=None, lease_until=None)
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
            state=SENDING,
            claimed_by=worker_id,
            lease_until=lease,
            next_attempt_at=lease,
            last_attempt_at=lease,
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
            GradeOutbox.id.in_(list(ids)), GradeOutbox.state == SENDING, GradeOutbox.claimed_by == worker_id
        )
        .values(lease_until=lease, next_attempt_at=lease, last_attempt_at=lease)
        .returning(GradeOutbox.id)
        .execution_options(synchronize_session=False)
    ).all()
    return set(held)


def _held(row_id: int, worker_id: str) -> Any:
    return and_(GradeOutbox.id == row_id, GradeOutbox.state == SENDING, GradeOutbox.claimed_by == worker_id)


def _has_newer(s: Session, row_id: int) -> bool:
    me = GradeOutbox
    newer = aliased(GradeOutbox)
    return bool(
        s.scalar(
            select(
                exists().where(
                    me.id == row_id,
                    newer.user_id == me.user_id,
                    newer.context_id == me.context_id,
                    newer.target == me.target,
                    newer.id > me.id,
                    newer.state != SUPERSEDED,
                )
            )
        )
    )


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
        "state": APPLIED if applied else SENT,
        "sent_at": now,
        "last_status": status,
        "lineitem_url": lineitem_url,
        "last_error": "the platform already had this or a newer score (409)" if applied else None,
    }
    return _finish(s, row_id, worker_id, values, now=now, duration_ms=duration_ms)


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
    values: dict[str, Any] = {"state": FAILED, "last_status": status, "last_error": reason[:2000]}
    if lineitem_url is not None:
        values["lineitem_url"] = lineitem_url
    return _finish(s, row_id, worker_id, values, now=now, duration_ms=duration_ms)


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
    values: dict[str, Any] = {"state": REMOVED, "last_status": status, "last_error": reason[:2000]}
    if lineitem_url is not None:
        values["lineitem_url"] = lineitem_url
        row = s.get(GradeOutbox, row_id)
        if row is not None and row.target.endswith(AUTO):
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
    values: dict[str, Any] = {
        "state": SUPERSEDED if _has_newer(s, row_id) else PENDING,
        "next_attempt_at": now + dt.timedelta(seconds=delay),
        "last_status": status,
        "last_error": reason[:2000],
    }
    if lineitem_url is not None:
        values["lineitem_url"] = lineitem_url
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
    """409 caused by our own earlier delivery (see `conflict_is_ours`): send once more with a newer timestamp."""
    now = now or utcnow()
    payload = dict(row.payload)
    payload["timestamp"] = timestamp
    values: dict[str, Any] = {
        "state": SUPERSEDED if _has_newer(s, row.id) else PENDING,
        "payload": payload,
        "score_timestamp": timestamp,
        "restamps": row.restamps + 1,
        "next_attempt_at": send_at,
        "last_status": 409,
        "last_error": "409 right after our previous score for this line item; sending again with a newer timestamp",
        "lineitem_url": lineitem_url,
    }
    return _finish(s, row.id, worker_id, values, now=now, duration_ms=duration_ms)


def conflict_is_ours(s: Session, row: Claimed, lineitem_url: str) -> bool:
    """Could a 409 for `row` come from our own previous score for the same user and line item?

    Moodle compares a score's timestamp with the time it *saved* the previous grade (whole seconds, its own
    clock), so a score created while the previous one was on its way, or in the same second, is refused
    although it is newer. That is the case when another row of ours for this user and line item finished
    (or was still in flight) less than a second before this row's timestamp, or later.
    """
    if row.restamps > 0:
        return False
    since = parse_timestamp(row.score_timestamp) - dt.timedelta(seconds=1)
    other = GradeOutbox
    return bool(
        s.scalar(
            select(
                exists().where(
                    other.id != row.id,
                    other.user_id == row.user_id,
                    other.context_id == row.context_id,
                    or_(other.target == row.target, other.lineitem_url == lineitem_url),
                    other.attempts > 0,
                    other.last_attempt_at >= since,
                )
            )
        )
    )


def release(s: Session, worker_id: str, ids: Sequence[int], *, due: dt.datetime | None = None) -> int:
    """Give claimed rows back unsent (stopping, or the platform is being given a rest)."""
    if not ids:
        return 0
    result = s.execute(
        update(GradeOutbox)
        .where(
            GradeOutbox.id.in_(list(ids)), GradeOutbox.state == SENDING, GradeOutbox.claimed_by == worker_id
        )
        .values(
            state=PENDING,
            claimed_by=None,
            lease_until=None,
            next_attempt_at=due or utcnow(),
            attempts=GradeOutbox.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def remember_lineitem(
    s: Session, *, context_id: int, url: str, course_id: str, module_id: str, label: str
) -> None:
    ins = insert_for(s)(LineItem).values(
        context_id=context_id,
        url=url,
        resource_id=module_id,
        tag=course_id,
        label=label[:255],
        score_maximum=100.0,
        created_at=utcnow(),
    )
    s.execute(ins.on_conflict_do_nothing(index_elements=[LineItem.context_id, LineItem.url]))


def forget_lineitem(s: Session, *, context_id: int, url: str) -> None:
    s.execute(delete(LineItem).where(LineItem.context_id == context_id, LineItem.url == url))


# --- heartbeats and reports -------------------------------------------------------------------------------


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
    return or_(GradeOutbox.state.not_in([FAILED, REMOVED]), _is_newest())


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
        select(func.min(GradeOutbox.created_at)).where(GradeOutbox.state.in_([PENDING, SENDING]))
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
    s: Session, *, context_id: int | None = None, limit: int = 50, state: str = FAILED
) -> list[GradeOutbox]:
    """Failed (or removed) rows that are still the newest of their target (what "send again", or the teacher's
    "create again", would pick up)."""
    query = select(GradeOutbox).where(GradeOutbox.state == state, _is_newest())
    if context_id is not None:
        query = query.where(GradeOutbox.context_id == context_id)
    return list(s.scalars(query.order_by(GradeOutbox.id.desc()).limit(limit)))


def latest_rows(s: Session, context_id: int) -> list[GradeOutbox]:
    """The newest row per (user, target) of a context: what the gradebook shows as each grade's sync state."""
    return list(
        s.scalars(
            select(GradeOutbox)
            .where(GradeOutbox.context_id == context_id, _is_newest())
            .order_by(GradeOutbox.user_id, GradeOutbox.target)
        )
    )

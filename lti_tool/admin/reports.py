"""What the operator pages show, read from the database (nothing here writes).

Operators run the service; they do not need to know who learns what. So these queries return platforms,
deployments, links, keys, counts, and for a failed grade only the LTI user id (`sub`) and the course's title
the platform sent: never names, e-mail addresses, practice texts, quiz answers or course content.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..cache import get_store
from ..db import ping
from ..grading import outbox
from ..grading.tokens import EndpointTrouble, endpoint_trouble
from ..models import (
    Context,
    Deployment,
    GradeOutbox,
    Platform,
    RegistrationLink,
    ToolKey,
    User,
    WorkerHeartbeat,
    utcnow,
)
from ..text import shown_id

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlatformRow:
    platform: Platform
    deployments: list[Deployment]  # those awaiting approval first


def platforms(s: Session) -> list[PlatformRow]:
    rows = s.scalars(select(Platform).options(selectinload(Platform.deployments)).order_by(Platform.id)).all()
    return [PlatformRow(p, sorted(p.deployments, key=lambda d: (d.active, d.id))) for p in rows]


def deployments_awaiting_approval(s: Session) -> int:
    return int(s.scalar(select(func.count()).where(Deployment.active.is_(False))) or 0)


OPEN, USED, EXPIRED = "open", "used", "expired"


@dataclass(frozen=True, slots=True)
class LinkRow:
    link: RegistrationLink
    status: str
    platform: Platform | None


def registration_links(s: Session, limit: int = 200) -> list[LinkRow]:
    now = utcnow()
    rows = s.execute(
        select(RegistrationLink, Platform)
        .outerjoin(Platform, Platform.id == RegistrationLink.platform_id)
        .order_by(RegistrationLink.id.desc())
        .limit(limit)
    ).all()
    result = []
    for link, platform in rows:
        if link.used_at is not None:
            status = USED
        elif link.expires_at <= now:
            status = EXPIRED
        else:
            status = OPEN
        result.append(LinkRow(link, status, platform))
    return result


@dataclass(frozen=True, slots=True)
class KeyRow:
    key: ToolKey
    published_until: dt.datetime | None  # retired keys: when they leave the JWKS

    @property
    def wiped(self) -> bool:
        return not self.key.private_key_sealed


_KEY_ORDER = {"current": 0, "next": 1, "retired": 2}


def tool_keys(s: Session, grace_seconds: int) -> list[KeyRow]:
    keys = s.scalars(select(ToolKey).order_by(ToolKey.id.desc())).all()
    grace = dt.timedelta(seconds=grace_seconds)
    rows = [KeyRow(k, k.retired_at + grace if k.retired_at else None) for k in keys]
    return sorted(rows, key=lambda r: _KEY_ORDER.get(r.key.state, 3))


@dataclass(frozen=True, slots=True)
class PlatformGrades:
    platform_id: int
    name: str
    issuer: str
    counts: dict[str, int]


def grades_by_platform(s: Session) -> list[PlatformGrades]:
    rows = s.execute(
        select(GradeOutbox.platform_id, GradeOutbox.state, func.count())
        .where(outbox.counted())
        .group_by(GradeOutbox.platform_id, GradeOutbox.state)
        .order_by(GradeOutbox.platform_id)
    ).all()
    names = {p.id: (p.name, p.issuer) for p in s.scalars(select(Platform))}
    by_platform: dict[int, dict[str, int]] = {}
    for platform_id, state, count in rows:
        by_platform.setdefault(platform_id, {state: 0 for state in outbox.STATES})[state] = int(count)
    return [
        PlatformGrades(pid, *names.get(pid, ("?", "?")), counts=counts) for pid, counts in by_platform.items()
    ]


@dataclass(frozen=True, slots=True)
class TokenTrouble:
    name: str
    trouble: EndpointTrouble


def token_troubles(app: Flask, s: Session) -> list[TokenTrouble]:
    """Platforms whose token endpoint failed at the last token request (their grades wait for it to work):
    read from the launch store, where the grade workers keep it (lti_tool/grading/tokens.py)."""
    store = get_store(app)
    found = []
    for platform_id, name in s.execute(
        select(Platform.id, Platform.name).order_by(Platform.name, Platform.id)
    ):
        trouble = endpoint_trouble(store, platform_id)
        if trouble is not None:
            found.append(TokenTrouble(name, trouble))
    return found


@dataclass(frozen=True, slots=True)
class PlatformDeliveries:
    platform_id: int
    name: str
    rows: list[GradeOutbox]


def recent_deliveries(s: Session, per_platform: int = 10) -> list[PlatformDeliveries]:
    """The last delivery attempts per platform, newest first (one indexed statement per platform): when, to
    which line item, for which learner (the tool's user id), the outcome, HTTP status and duration."""
    found = []
    for platform in s.scalars(select(Platform).order_by(Platform.name, Platform.id)):
        rows = list(
            s.scalars(
                select(GradeOutbox)
                .where(
                    GradeOutbox.platform_id == platform.id,
                    GradeOutbox.last_attempt_at.is_not(None),
                    # in flight: no outcome yet (its columns still tell the previous attempt)
                    GradeOutbox.state != outbox.RowState.SENDING,
                )
                .order_by(GradeOutbox.last_attempt_at.desc(), GradeOutbox.id.desc())
                .limit(per_platform)
            )
        )
        if rows:
            found.append(PlatformDeliveries(platform.id, platform.name, rows))
    return found


@dataclass(frozen=True, slots=True)
class FailedGrade:
    row: GradeOutbox
    platform_name: str
    context_title: str
    sub: str


def failed_grades(s: Session, limit: int = 200) -> list[FailedGrade]:
    """Failed grades that "send again" would pick up, with the LTI user id and course title only."""
    rows = outbox.failed_rows(s, limit=limit)
    if not rows:
        return []
    contexts = {
        cid: title
        for cid, title in s.execute(
            select(Context.id, Context.title).where(Context.id.in_({r.context_id for r in rows}))
        )
    }
    subs = {
        uid: sub
        for uid, sub in s.execute(select(User.id, User.sub).where(User.id.in_({r.user_id for r in rows})))
    }
    names = {
        pid: name
        for pid, name in s.execute(
            select(Platform.id, Platform.name).where(Platform.id.in_({r.platform_id for r in rows}))
        )
    }
    return [
        FailedGrade(
            r,
            names.get(r.platform_id, "?"),
            contexts.get(r.context_id, ""),
            shown_id(subs.get(r.user_id, "?")),
        )
        for r in rows
    ]


def failed_platforms(failed: list[FailedGrade]) -> list[tuple[int, str]]:
    """The platforms that have failed grades, for "send all failed grades of … again"."""
    return sorted({(f.row.platform_id, f.platform_name) for f in failed})


@dataclass(frozen=True, slots=True)
class Health:
    database: bool
    launch_store: bool
    grades: outbox.Summary | None
    alive_within: float
    checked_at: dt.datetime

    def is_alive(self, worker: WorkerHeartbeat) -> bool:
        return worker.last_seen_at >= self.checked_at - dt.timedelta(seconds=self.alive_within)


def health(app: Flask, s: Session) -> Health:
    try:
        database = ping(s)
    except Exception as exc:  # any failure is "not reachable"; the reason goes to the log
        log.warning("operator health: database: %s", exc)
        s.rollback()
        database = False
    try:
        get_store(app).get("healthz")
        launch_store = True
    except Exception as exc:
        log.warning("operator health: launch store: %s", exc)
        launch_store = False
    alive = 3 * float(app.config["GRADE_HEARTBEAT_SECONDS"])
    grades = None
    now = utcnow()
    if database:
        try:
            grades = outbox.summary(s, alive_within=alive, now=now)
        except Exception as exc:
            log.warning("operator health: grades: %s", exc)
    return Health(database, launch_store, grades, alive, now)

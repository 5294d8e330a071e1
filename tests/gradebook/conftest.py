"""A teacher launched into the peer's course context, and learners written straight to the database (quicker
than launching hundreds of them), with progress, practice texts and grade rows in chosen states."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lti_tool.db import session_scope
from lti_tool.models import (
    Context,
    CourseProgress,
    GradeOutbox,
    Membership,
    ModuleProgress,
    PracticeSubmission,
    RosterEntry,
    User,
    utcnow,
)

from ..course.learner import Learner
from ..peer import INSTRUCTOR, LTI, Launcher

COURSE = "grundlagenkurs"
MODULES = ("modul-a", "modul-b")


def launch_teacher(launcher: Launcher, sub: str = "teacher-1", **claims: Any) -> Learner:
    claims.setdefault(LTI + "roles", INSTRUCTOR)
    claims.setdefault("name", "Tanja Lehrerin")
    return Learner.launch(launcher, sub=sub, **claims)


@pytest.fixture
def teacher(launcher: Launcher) -> Learner:
    """The peer's teacher, launched into course context "course-1" (landing on the gradebook)."""
    return launch_teacher(launcher)


@dataclass(frozen=True)
class Place:
    context_id: int
    platform_id: int


def place(app: Flask, context_id: str = "course-1", issuer: str | None = None) -> Place:
    """The tool's ids of a launched course context."""
    with session_scope(app) as s:
        query = select(Context.id, User.platform_id).join(Membership, Membership.context_id == Context.id)
        query = query.join(User, User.id == Membership.user_id).where(Context.context_id == context_id)
        row = s.execute(query.limit(1)).one()
        return Place(row[0], row[1])


def add_learner(
    app: Flask,
    where: Place,
    sub: str,
    *,
    name: str | None = None,
    email: str | None = None,
    roster: bool = False,
    launched: bool = True,
    done: tuple[str, ...] = (),
    started: tuple[str, ...] = (),
    practice: dict[str, str] | None = None,
    reviewed: tuple[str, ...] = (),
    course_completed: bool = False,
    grade_state: str | None = None,
    grade_error: str = "Incorrect score received",
    score: float = 50,
    at: dt.datetime | None = None,
) -> int | None:
    """One learner: roster entry and/or launch (user + membership), progress in modules, practice texts, a grade
    row for the course result in `grade_state`. Returns the user id (None: roster only)."""
    now = at or utcnow()
    with session_scope(app, write=True) as s:
        if roster:
            s.add(
                RosterEntry(
                    context_id=where.context_id,
                    sub=sub,
                    name=name,
                    email=email,
                    roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
                    is_learner=True,
                )
            )
        if not launched:
            return None
        user = User(platform_id=where.platform_id, sub=sub, name=name, email=email, last_launch_at=now)
        s.add(user)
        s.flush()
        s.add(
            Membership(
                user_id=user.id,
                context_id=where.context_id,
                roles=["Learner"],
                created_at=now,
                last_launch_at=now,
            )
        )
        owner = {"user_id": user.id, "context_id": where.context_id, "course_id": COURSE}
        for module_id in (*done, *started):
            s.add(
                ModuleProgress(
                    **owner,
                    module_id=module_id,
                    lessons_seen=2 if module_id in done else 1,
                    attempts=1 if module_id in done else 0,
                    best_score=1.0 if module_id in done else None,
                    completed_at=now if module_id in done else None,
                    updated_at=now,
                )
            )
        for module_id, text in (practice or {}).items():
            s.add(
                PracticeSubmission(
                    **owner,
                    module_id=module_id,
                    text=text,
                    submitted_at=now,
                    updated_at=now,
                    reviewed_at=now if module_id in reviewed else None,
                    feedback="Gut gemacht." if module_id in reviewed else None,
                )
            )
        if done or started or practice or course_completed:
            s.add(CourseProgress(**owner, completed_at=now if course_completed else None, updated_at=now))
        if grade_state is not None:
            s.add(
                GradeOutbox(
                    platform_id=where.platform_id,
                    user_id=user.id,
                    context_id=where.context_id,
                    target=f"course:{COURSE}@link:1",
                    lineitem_url="https://lms.example/lineitem/1",
                    payload={
                        "userId": sub,
                        "scoreGiven": score,
                        "scoreMaximum": 100,
                        "activityProgress": "InProgress",
                        "gradingProgress": "FullyGraded",
                        "timestamp": now.isoformat(),
                    },
                    score_timestamp=now.isoformat(),
                    state=grade_state,
                    attempts=1,
                    last_status=400 if grade_state == "failed" else 200,
                    last_error=grade_error if grade_state == "failed" else None,
                    course_id=COURSE,
                    module_id=None,
                    sent_at=now if grade_state == "sent" else None,
                )
            )
        return user.id


def add_learners(app: Flask, where: Place, count: int, *, prefix: str = "bulk") -> None:
    """`count` learners with a bit of everything (a third roster-only, some done, some failed grades), written in
    one transaction."""
    now = utcnow()
    with session_scope(app, write=True) as s:
        for n in range(count):
            sub = f"{prefix}-{n:05d}"
            kind = n % 6
            s.add(
                RosterEntry(
                    context_id=where.context_id,
                    sub=sub,
                    name=f"Lernende {n:05d}",
                    email=f"{sub}@example.org",
                    roles=["Learner"],
                    is_learner=True,
                )
            )
            if kind in (0, 1):
                continue  # never launched
            user = User(platform_id=where.platform_id, sub=sub, name=f"Lernende {n:05d}", last_launch_at=now)
            s.add(user)
            s.flush()
            s.add(Membership(user_id=user.id, context_id=where.context_id, roles=["Learner"]))
            owner = {"user_id": user.id, "context_id": where.context_id, "course_id": COURSE}
            for module_id in MODULES:
                complete = kind >= 4
                s.add(
                    ModuleProgress(
                        **owner,
                        module_id=module_id,
                        lessons_seen=2,
                        attempts=kind,
                        best_score=0.2 * kind,
                        completed_at=now if complete else None,
                    )
                )
                s.add(
                    PracticeSubmission(
                        **owner,
                        module_id=module_id,
                        text=f"Text {sub}",
                        reviewed_at=now if kind == 5 else None,
                    )
                )
            s.add(CourseProgress(**owner, completed_at=now if kind >= 4 else None, updated_at=now))
            s.add(
                GradeOutbox(
                    platform_id=where.platform_id,
                    user_id=user.id,
                    context_id=where.context_id,
                    target=f"course:{COURSE}@link:1",
                    payload={},
                    score_timestamp=now.isoformat(),
                    state="failed" if kind == 3 else "sent",
                    last_status=400 if kind == 3 else 200,
                    last_error="Incorrect score received" if kind == 3 else None,
                    course_id=COURSE,
                )
            )


def user_id(app: Flask, sub: str) -> int:
    with session_scope(app) as s:
        return int(s.scalars(select(User.id).where(User.sub == sub)).one())


def snapshot(app: Flask) -> list[Any]:
    """Everything a gradebook action could change."""
    with session_scope(app) as s:
        return [
            s.execute(
                select(
                    PracticeSubmission.id,
                    PracticeSubmission.text,
                    PracticeSubmission.reviewed_at,
                    PracticeSubmission.reviewer_id,
                    PracticeSubmission.feedback,
                ).order_by(PracticeSubmission.id)
            ).all(),
            s.execute(
                select(
                    GradeOutbox.id, GradeOutbox.state, GradeOutbox.next_attempt_at, GradeOutbox.payload
                ).order_by(GradeOutbox.id)
            ).all(),
            s.execute(
                select(ModuleProgress.id, ModuleProgress.completed_at, ModuleProgress.updated_at)
            ).all(),
            s.execute(
                select(CourseProgress.id, CourseProgress.completed_at, CourseProgress.updated_at)
            ).all(),
            s.scalar(select(func.count()).select_from(GradeOutbox)),
        ]


NAMES_IN_TABLE = re.compile(r'<th scope="row">\s*(?:<a href="[^"]+">)?([^<]+?)(?:</a>)?\s*<ul', re.S)


def listed_names(html: str) -> list[str]:
    """The learners' names in the gradebook table, in order."""
    return [name.strip() for name in NAMES_IN_TABLE.findall(html)]

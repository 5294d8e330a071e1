"""Issuing and finding certificates. Services take a session and never commit.

What a certificate says is frozen when it is issued (name as the LMS sent it, course, modules with dates, the
course period from the first launch to completion, the workload, the issuing body), so later changes of names or
content never alter an issued certificate. The operator's presentation (logo, signatory) is not frozen: it is how
the issuer prints, not what the certificate states.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..course.model import Course
from ..db import insert_for
from ..models import Certificate, CourseProgress, Membership, ModuleProgress, User

if TYPE_CHECKING:
    from ..auth import Person

# Crockford-style alphabet: no I, L, O, U (nothing to misread when typing a code from paper).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_GROUPS, GROUP_LEN = 3, 4  # 12 symbols = 60 bits
_CLEAN = re.compile(r"[^0-9A-Z]")


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_GROUPS * GROUP_LEN))
    return "-".join(raw[i : i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))


def normalise_code(text: str) -> str | None:
    """Accept what people type: lower case, spaces, missing dashes, O for 0 and I/L for 1."""
    raw = _CLEAN.sub("", text.upper().replace("O", "0").replace("I", "1").replace("L", "1"))
    if len(raw) != CODE_GROUPS * GROUP_LEN or any(c not in ALPHABET for c in raw):
        return None
    return "-".join(raw[i : i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))


@dataclass(frozen=True)
class NotYet:
    """Why there is no certificate (yet)."""

    reason: str  # "incomplete" | "no_name"


def holder_name(user: User | Person) -> str | None:
    """The name as the LMS sent it; None when it sent none (a certificate without a name is worthless)."""
    return user.real_name


def issue(s: Session, *, user: User | Person, context_id: int, course: Course) -> Certificate | NotYet:
    """The learner's certificate for this course and context, issued on first call once the course is complete."""
    existing = s.scalars(
        select(Certificate).where(
            Certificate.user_id == user.id,
            Certificate.context_id == context_id,
            Certificate.course_id == course.id,
        )
    ).one_or_none()
    if existing is not None:
        return existing
    progress = s.scalars(
        select(CourseProgress).where(
            CourseProgress.user_id == user.id,
            CourseProgress.context_id == context_id,
            CourseProgress.course_id == course.id,
        )
    ).one_or_none()
    if progress is None or progress.completed_at is None:
        return NotYet("incomplete")
    name = holder_name(user)
    if name is None:
        return NotYet("no_name")
    done = {
        m.module_id: m.completed_at
        for m in s.scalars(
            select(ModuleProgress).where(
                ModuleProgress.user_id == user.id,
                ModuleProgress.context_id == context_id,
                ModuleProgress.course_id == course.id,
            )
        )
    }
    modules = []
    for module in course.modules:
        completed = done.get(module.id)
        if completed is not None:
            modules.append(
                {"position": module.position, "title": module.title, "completed_at": completed.isoformat()}
            )
    first_launch = s.scalars(
        select(Membership.created_at).where(
            Membership.user_id == user.id, Membership.context_id == context_id
        )
    ).one_or_none()
    ins = insert_for(s)(Certificate).values(
        code=new_code(),
        user_id=user.id,
        context_id=context_id,
        course_id=course.id,
        holder_name=name[:255],
        course_title=course.title[:255],
        issuer_name=course.issuer[:255],
        issuer_url=course.issuer_url[:1024] or None,
        modules=modules,
        started_at=first_launch,
        completed_at=progress.completed_at,
        workload_hours=course.workload.hours if course.workload else None,
        teaching_units=course.workload.teaching_units if course.workload else None,
    )
    # Two tabs asking at once: the unique (user, context, course) keeps one certificate.
    s.execute(ins.on_conflict_do_nothing(index_elements=["user_id", "context_id", "course_id"]))
    return s.scalars(
        select(Certificate).where(
            Certificate.user_id == user.id,
            Certificate.context_id == context_id,
            Certificate.course_id == course.id,
        )
    ).one()


def find(s: Session, code: str) -> Certificate | None:
    normal = normalise_code(code)
    if normal is None:
        return None
    return s.scalars(select(Certificate).where(Certificate.code == normal)).one_or_none()

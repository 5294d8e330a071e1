"""Everything the tool stores about one person of one platform: find it, export it, delete it.

A person is (platform, LTI `sub`): the same `sub` on another platform is someone else. What belongs to them:
their user row and every row that points at it (memberships, link launches, tool sessions, lesson visits, quiz
attempts, practice submissions, module and course progress, certificates and their revocation history, grade
outbox rows, entries of the certification register), plus the roster entries (NRPS) with their `sub` in that
platform's courses. Lines of the register's audit trail about their entries stay (an office account's actions),
but no longer name the entry. Practice submissions of others they reviewed stay;
only the link to them as reviewer goes.

Services take a session and never commit (the CLI commits: one transaction for a deletion). Rows are exported
column by column, so a column added later is exported without touching this file; tool-session token hashes are
left out (a credential, not information about the person).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.orm import Session

from ..models import (
    Base,
    Certificate,
    CertificateEvent,
    Context,
    CourseProgress,
    Deployment,
    GradeOutbox,
    LessonVisit,
    LinkLaunch,
    Membership,
    ModuleProgress,
    Platform,
    PracticeSubmission,
    QuizAttempt,
    RegisterAudit,
    RegisterEntry,
    RosterEntry,
    ToolSession,
    User,
    utcnow,
)


class LearnerNotFound(LookupError):
    """No such platform or person; the message says what to check."""


# Tables whose rows belong to a person through `user_id`, in the order they are deleted (children first).
OWNED_BY_USER: tuple[type[Base], ...] = (
    GradeOutbox,
    RegisterEntry,
    Certificate,
    CourseProgress,
    ModuleProgress,
    PracticeSubmission,
    QuizAttempt,
    LessonVisit,
    ToolSession,
    LinkLaunch,
    Membership,
)
LEFT_OUT: dict[type[Base], set[str]] = {ToolSession: {"token_hash"}}


def find_platform(s: Session, platform: str, client_id: str | None = None) -> Platform:
    """By tool id (digits) or issuer; an issuer registered several times also needs the client id."""
    query = select(Platform)
    if platform.isdigit():
        query = query.where(Platform.id == int(platform))
    else:
        query = query.where(Platform.issuer == platform)
    if client_id is not None:
        query = query.where(Platform.client_id == client_id)
    found = list(s.scalars(query.order_by(Platform.id)))
    if not found:
        with_client = f" with client id {client_id!r}" if client_id is not None else ""
        raise LearnerNotFound(f"no platform {platform!r}{with_client} (see `scripts/flask platform list`)")
    if len(found) > 1:
        clients = ", ".join(repr(p.client_id) for p in found)
        raise LearnerNotFound(
            f"issuer {platform!r} is registered {len(found)} times: add --client-id ({clients})"
        )
    return found[0]


def find_learner(s: Session, platform: Platform, sub: str) -> User:
    user = s.scalars(select(User).where(User.platform_id == platform.id, User.sub == sub)).one_or_none()
    if user is None:
        raise LearnerNotFound(f"no person with sub {sub!r} on platform {platform.id} ({platform.issuer})")
    return user


def _roster_query(platform: Platform, sub: str) -> Any:
    contexts = select(Context.id).join(Deployment, Deployment.id == Context.deployment_id)
    return RosterEntry.context_id.in_(contexts.where(Deployment.platform_id == platform.id)) & (
        RosterEntry.sub == sub
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _row(obj: Base) -> dict[str, Any]:
    left_out = LEFT_OUT.get(type(obj), set())
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in inspect(type(obj)).column_attrs
        if attr.key not in left_out
    }


def _rows(s: Session, model: type[Base], where: Any) -> list[dict[str, Any]]:
    primary = inspect(model).primary_key[0]
    return [_row(obj) for obj in s.scalars(select(model).where(where).order_by(primary))]


def export_learner(s: Session, platform: Platform, user: User) -> dict[str, Any]:
    """Everything stored about the person, as JSON-ready data (contexts named, so the export reads alone)."""
    context_ids = set(s.scalars(select(Membership.context_id).where(Membership.user_id == user.id)))
    roster = _rows(s, RosterEntry, _roster_query(platform, user.sub))
    context_ids |= {r["context_id"] for r in roster}
    contexts = [
        {"id": c.id, "context_id": c.context_id, "title": c.title, "label": c.label}
        for c in s.scalars(select(Context).where(Context.id.in_(context_ids)).order_by(Context.id))
    ]
    reviews = s.execute(
        select(
            PracticeSubmission.id,
            PracticeSubmission.context_id,
            PracticeSubmission.course_id,
            PracticeSubmission.module_id,
            PracticeSubmission.reviewed_at,
        )
        .where(PracticeSubmission.reviewer_id == user.id, PracticeSubmission.user_id != user.id)
        .order_by(PracticeSubmission.id)
    ).all()
    data: dict[str, Any] = {
        "exported_at": utcnow().isoformat(),
        "platform": {
            "id": platform.id,
            "issuer": platform.issuer,
            "client_id": platform.client_id,
            "name": platform.name,
        },
        "user": _row(user),
        "contexts": contexts,
    }
    for model in reversed(OWNED_BY_USER):
        data[str(model.__tablename__)] = _rows(s, model, model.user_id == user.id)  # type: ignore[attr-defined]
    certificates = select(Certificate.id).where(Certificate.user_id == user.id)
    data["certificate_event"] = _rows(s, CertificateEvent, CertificateEvent.certificate_id.in_(certificates))
    data["roster_entry"] = roster
    # Others' practice tasks this person reviewed: which ones and when (their texts belong to their authors).
    data["practice_reviews_given"] = [
        {
            "submission_id": r[0],
            "context_id": r[1],
            "course_id": r[2],
            "module_id": r[3],
            "reviewed_at": _plain(r[4]),
        }
        for r in reviews
    ]
    return data


@dataclass(frozen=True, slots=True)
class Deletion:
    counts: dict[str, int]  # table -> rows deleted
    reviews_unlinked: int  # others' practice tasks that no longer name this person as reviewer
    audit_unlinked: int = 0  # lines of the register's audit trail that no longer name their entries

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def count_learner_rows(s: Session, platform: Platform, user: User) -> dict[str, int]:
    """What `delete_learner` would delete, per table (for the confirmation prompt)."""
    counts: dict[str, int] = {}
    for model in OWNED_BY_USER:
        where = model.user_id == user.id  # type: ignore[attr-defined]
        counts[str(model.__tablename__)] = int(
            s.scalar(select(func.count()).select_from(model).where(where)) or 0
        )
    roster = _roster_query(platform, user.sub)
    counts["roster_entry"] = int(s.scalar(select(func.count()).select_from(RosterEntry).where(roster)) or 0)
    certificates = select(Certificate.id).where(Certificate.user_id == user.id)
    counts["certificate_event"] = int(
        s.scalar(
            select(func.count())
            .select_from(CertificateEvent)
            .where(CertificateEvent.certificate_id.in_(certificates))
        )
        or 0
    )
    counts["lti_user"] = 1
    return counts


def delete_learner(s: Session, platform: Platform, user: User) -> Deletion:
    """Delete every row about the person (explicitly, table by table, so the counts are exact; never commits)."""
    counts: dict[str, int] = {}
    unlinked = s.execute(
        update(PracticeSubmission)
        .where(PracticeSubmission.reviewer_id == user.id, PracticeSubmission.user_id != user.id)
        .values(reviewer_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    # The register's audit trail keeps what office accounts did, but no longer which entry it was about.
    audit_unlinked = s.execute(
        update(RegisterAudit)
        .where(RegisterAudit.entry_id.in_(select(RegisterEntry.id).where(RegisterEntry.user_id == user.id)))
        .values(entry_id=None, subject="")
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    result = s.execute(
        delete(CertificateEvent)
        .where(
            CertificateEvent.certificate_id.in_(select(Certificate.id).where(Certificate.user_id == user.id))
        )
        .execution_options(synchronize_session=False)
    )
    counts["certificate_event"] = int(result.rowcount)  # type: ignore[attr-defined]
    for model in OWNED_BY_USER:
        result = s.execute(
            delete(model)
            .where(model.user_id == user.id)  # type: ignore[attr-defined]
            .execution_options(synchronize_session=False)
        )
        counts[str(model.__tablename__)] = int(result.rowcount)  # type: ignore[attr-defined]
    result = s.execute(
        delete(RosterEntry)
        .where(_roster_query(platform, user.sub))
        .execution_options(synchronize_session=False)
    )
    counts["roster_entry"] = int(result.rowcount)  # type: ignore[attr-defined]
    result = s.execute(delete(User).where(User.id == user.id).execution_options(synchronize_session=False))
    counts["lti_user"] = int(result.rowcount)  # type: ignore[attr-defined]
    return Deletion(counts, int(unlinked), int(audit_unlinked))

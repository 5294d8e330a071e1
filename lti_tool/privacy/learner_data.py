"""Everything the tool stores about one person of one platform: find it, export it, delete it.

A person is (platform, LTI `sub`): the same `sub` on another platform is someone else. What belongs to them:
their user row and every row that points at it (memberships, link launches, tool sessions, lesson visits, quiz
attempts, practice submissions and their review rounds, replies on the exchange page (also others' replies to
their answers, which go with the answers) and the municipality shown there, module and course progress, certificates and their revocation history, grade
outbox rows, entries of the certification register), plus the roster entries (NRPS) with their `sub` in that
platform's courses. Someone the participant list names who never launched the tool has roster entries and no
user row: they are a person all the same. Lines of the register's audit trail about their entries stay (an office
account's actions), but no longer name the entry. Practice submissions of others they reviewed, and those review
rounds, stay; only the link to them as reviewer goes.

Services take a session and never commit (the CLI commits: one transaction for a deletion). Rows are exported
column by column, so a column added later is exported without touching this file; tool-session token hashes are
left out (a credential, not information about the person). Quiz attempts also carry their questions as the
person read them (`readable.py`): question text, the options they chose, right or wrong.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, inspect, select, update
from sqlalchemy.orm import Session

from ..course.drafts import drafts_of, forget_all
from ..course.model import Catalog
from ..models import (
    Base,
    Certificate,
    CertificateEvent,
    Context,
    CourseProgress,
    Deployment,
    ExchangeProfile,
    ExchangeReply,
    GradeOutbox,
    LearnerSummary,
    LessonVisit,
    LinkLaunch,
    ListedLearner,
    Membership,
    ModuleProgress,
    Platform,
    PracticeReviewRound,
    PracticeSubmission,
    QuizAttempt,
    RegisterAudit,
    RegisterEntry,
    RosterEntry,
    ToolSession,
    User,
    utcnow,
)
from .readable import readable_rows


class LearnerNotFound(LookupError):
    """No such platform or person; the message says what to check."""


# Tables whose rows belong to a person through `user_id`, in the order they are deleted (children first).
OWNED_BY_USER: tuple[type[Base], ...] = (
    GradeOutbox,
    RegisterEntry,
    Certificate,
    LearnerSummary,
    CourseProgress,
    ModuleProgress,
    ExchangeReply,
    ExchangeProfile,
    PracticeReviewRound,
    PracticeSubmission,
    QuizAttempt,
    LessonVisit,
    ToolSession,
    LinkLaunch,
    Membership,
)
LEFT_OUT: dict[type[Base], set[str]] = {ToolSession: {"token_hash"}}


def _deleted_with(model: type[Base], user_id: int) -> Any:
    """WHERE for the rows of `model` that go when the user is deleted: theirs, and for exchange replies also the
    others' replies to their answers (a reply without its answer means nothing; the exports leave those out,
    they belong to their authors)."""
    mine = model.user_id == user_id  # type: ignore[attr-defined]
    if model is ExchangeReply:
        answers = select(PracticeSubmission.id).where(PracticeSubmission.user_id == user_id)
        return mine | ExchangeReply.submission_id.in_(answers)
    return mine


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


@dataclass(frozen=True, slots=True)
class Person:
    platform: Platform
    sub: str
    user: User | None  # None: known only from the participant list (enrolled, never launched)


def find_person(s: Session, platform: Platform, sub: str) -> Person:
    """The person with this `sub` wherever the tool stores them: a user row, or only roster entries."""
    user = s.scalars(select(User).where(User.platform_id == platform.id, User.sub == sub)).one_or_none()
    if user is None and not s.scalar(
        select(func.count()).select_from(RosterEntry).where(_roster_query(platform, sub))
    ):
        raise LearnerNotFound(f"no person with sub {sub!r} on platform {platform.id} ({platform.issuer})")
    return Person(platform, sub, user)


def _roster_query(platform: Platform, sub: str, model: Any = RosterEntry) -> Any:
    """The person's rows of `model` (RosterEntry, or the gradebooks' ListedLearner) on this platform."""
    contexts = select(Context.id).join(Deployment, Deployment.id == Context.deployment_id)
    return model.context_id.in_(contexts.where(Deployment.platform_id == platform.id)) & (model.sub == sub)


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


def export_learner(s: Session, person: Person, catalog: Catalog) -> dict[str, Any]:
    """Everything stored about the person, as JSON-ready data (contexts and courses named, quiz answers as the
    person read them, so the export reads alone)."""
    platform, user = person.platform, person.user
    roster = _rows(s, RosterEntry, _roster_query(platform, person.sub))
    context_ids = {r["context_id"] for r in roster}
    if user is not None:
        context_ids |= set(s.scalars(select(Membership.context_id).where(Membership.user_id == user.id)))
    contexts = [
        {"id": c.id, "context_id": c.context_id, "title": c.title, "label": c.label}
        for c in s.scalars(select(Context).where(Context.id.in_(context_ids)).order_by(Context.id))
    ]
    data: dict[str, Any] = {
        "exported_at": utcnow().isoformat(),
        "platform": {
            "id": platform.id,
            "issuer": platform.issuer,
            "client_id": platform.client_id,
            "name": platform.name,
        },
        "sub": person.sub,
        # None: the participant list names them, but they never opened the tool.
        "user": _row(user) if user is not None else None,
        "contexts": contexts,
    }
    for model in reversed(OWNED_BY_USER):
        rows = _rows(s, model, model.user_id == user.id) if user is not None else []  # type: ignore[attr-defined]
        data[str(model.__tablename__)] = readable_rows(catalog, model, rows)
    certificates = select(Certificate.id).where(Certificate.user_id == user.id) if user is not None else None
    data["certificate_event"] = (
        _rows(s, CertificateEvent, CertificateEvent.certificate_id.in_(certificates))
        if certificates is not None
        else []
    )
    data["roster_entry"] = roster
    data["listed_learner"] = _rows(s, ListedLearner, _roster_query(platform, person.sub, ListedLearner))
    # Practice texts sent after a session had ended, kept for a while to be offered again (course/drafts.py).
    data["practice_draft"] = drafts_of(user.id, context_ids, catalog) if user is not None else []
    reviews = (
        s.execute(
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
        if user is not None
        else []
    )
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
    rounds = (
        s.execute(
            select(
                PracticeReviewRound.submission_id,
                PracticeReviewRound.number,
                PracticeReviewRound.decision,
                PracticeReviewRound.reviewed_at,
            )
            .where(PracticeReviewRound.reviewer_id == user.id, PracticeReviewRound.user_id != user.id)
            .order_by(PracticeReviewRound.id)
        ).all()
        if user is not None
        else []
    )
    # Their review rounds on others' tasks: which round, what they decided, when.
    data["practice_review_rounds_given"] = [
        {"submission_id": r[0], "number": r[1], "decision": r[2], "reviewed_at": _plain(r[3])} for r in rounds
    ]
    return data


@dataclass(frozen=True, slots=True)
class Deletion:
    counts: dict[str, int]  # table -> rows deleted
    reviews_unlinked: (
        int  # others' practice tasks and review rounds that no longer name this person as reviewer
    )
    audit_unlinked: int = 0  # lines of the register's audit trail that no longer name their entries
    # Whose texts kept in the launch store (course/drafts.py) are to go once the deletion is committed: the
    # deleted user id and the contexts they were in (the store writes in transactions of its own).
    user_id: int | None = None
    context_ids: tuple[int, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def count_learner_rows(s: Session, person: Person) -> dict[str, int]:
    """What `delete_learner` would delete, per table (for the confirmation prompt)."""
    counts: dict[str, int] = {}
    for model in OWNED_BY_USER:
        if person.user is None:
            counts[str(model.__tablename__)] = 0
            continue
        where = _deleted_with(model, person.user.id)
        counts[str(model.__tablename__)] = int(
            s.scalar(select(func.count()).select_from(model).where(where)) or 0
        )
    roster = _roster_query(person.platform, person.sub)
    counts["roster_entry"] = int(s.scalar(select(func.count()).select_from(RosterEntry).where(roster)) or 0)
    listed = _roster_query(person.platform, person.sub, ListedLearner)
    counts["listed_learner"] = int(
        s.scalar(select(func.count()).select_from(ListedLearner).where(listed)) or 0
    )
    counts["certificate_event"] = 0
    if person.user is not None:
        certificates = select(Certificate.id).where(Certificate.user_id == person.user.id)
        counts["certificate_event"] = int(
            s.scalar(
                select(func.count())
                .select_from(CertificateEvent)
                .where(CertificateEvent.certificate_id.in_(certificates))
            )
            or 0
        )
    counts["lti_user"] = 0 if person.user is None else 1
    return counts


def delete_learner(s: Session, person: Person) -> Deletion:
    """Delete every row about the person (explicitly, table by table, so the counts are exact; never commits)."""
    counts: dict[str, int] = {"certificate_event": 0}
    unlinked = audit_unlinked = 0
    user = person.user
    context_ids: tuple[int, ...] = ()
    if user is not None:
        context_ids = tuple(
            s.scalars(
                select(Membership.context_id).where(Membership.user_id == user.id).order_by(Membership.id)
            )
        )
        unlinked = s.execute(
            update(PracticeSubmission)
            .where(PracticeSubmission.reviewer_id == user.id, PracticeSubmission.user_id != user.id)
            .values(reviewer_id=None)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        # Posts of others they hid as an instructor stay hidden, with the reason, but no longer name them.
        for post in (PracticeSubmission, ExchangeReply):
            unlinked += s.execute(
                update(post)
                .where(post.hidden_by == user.id, post.user_id != user.id)
                .values(hidden_by=None)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
        unlinked += s.execute(
            update(PracticeReviewRound)
            .where(PracticeReviewRound.reviewer_id == user.id, PracticeReviewRound.user_id != user.id)
            .values(reviewer_id=None)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        # The register's audit trail keeps what office accounts did, but no longer which entry it was about.
        audit_unlinked = s.execute(
            update(RegisterAudit)
            .where(
                RegisterAudit.entry_id.in_(select(RegisterEntry.id).where(RegisterEntry.user_id == user.id))
            )
            .values(entry_id=None, subject="")
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        result = s.execute(
            delete(CertificateEvent)
            .where(
                CertificateEvent.certificate_id.in_(
                    select(Certificate.id).where(Certificate.user_id == user.id)
                )
            )
            .execution_options(synchronize_session=False)
        )
        counts["certificate_event"] = int(result.rowcount)  # type: ignore[attr-defined]
    for model in OWNED_BY_USER:
        if user is None:
            counts[str(model.__tablename__)] = 0
            continue
        result = s.execute(
            delete(model).where(_deleted_with(model, user.id)).execution_options(synchronize_session=False)
        )
        counts[str(model.__tablename__)] = int(result.rowcount)  # type: ignore[attr-defined]
    result = s.execute(
        delete(RosterEntry)
        .where(_roster_query(person.platform, person.sub))
        .execution_options(synchronize_session=False)
    )
    counts["roster_entry"] = int(result.rowcount)  # type: ignore[attr-defined]
    result = s.execute(
        delete(ListedLearner)
        .where(_roster_query(person.platform, person.sub, ListedLearner))
        .execution_options(synchronize_session=False)
    )
    counts["listed_learner"] = int(result.rowcount)  # type: ignore[attr-defined]
    deleted_users = 0
    if user is not None:
        result = s.execute(
            delete(User).where(User.id == user.id).execution_options(synchronize_session=False)
        )
        deleted_users = int(result.rowcount)  # type: ignore[attr-defined]
    counts["lti_user"] = deleted_users
    return Deletion(
        counts, int(unlinked), int(audit_unlinked), user.id if user is not None else None, context_ids
    )


def forget_drafts(deletion: Deletion, catalog: Catalog) -> int:
    """After the deletion committed: the texts kept for the person after a session ended (course/drafts.py)."""
    if deletion.user_id is None:
        return 0
    return forget_all(deletion.user_id, deletion.context_ids, catalog)

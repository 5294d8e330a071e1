"""Register entries: one per completed course (learner, LMS course context, course), written by `progress` in the
transaction that completed the course; searched, filtered and paged for the certification office.

Services take a session and never commit. A page costs two statements whatever the register's size: the count,
and one query that picks the page's entry ids (ordered by completion, newest first, through the index on
`completed_at, id`) and joins the learner, context, platform and certificate to those ids only. A search costs one
more: its count up to COUNT_BOUND first (see `page`).

The filters and the search (`Filters`, what a search matches) are in search.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..certificate.service import normalise_code
from ..db import insert_for
from ..models import (
    Certificate,
    CertificateEvent,
    Context,
    Deployment,
    Membership,
    ModuleProgress,
    Platform,
    RegisterEntry,
    ResourceLink,
    User,
)
from ..text import shown_id
from .search import Filters, certificate_join, filtered_entries, learner_entries_up_to, walked_entries

PAGE_SIZE = 50
# A search is counted up to this many matches; above, the page says "more than" and the pager has no last page.
COUNT_BOUND = 1000


class CertificateState(StrEnum):
    """A register entry's certificate: valid, revoked, or not issued yet (the learner has not asked for it)."""

    VALID = "valid"
    REVOKED = "revoked"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class CourseFacts:
    """What the course file says, for entries whose certificate (which freezes these) is not issued yet."""

    title: str
    workload_hours: float | None
    teaching_units: int | None


def record_completion(
    s: Session,
    *,
    user_id: int,
    platform_id: int,
    context_id: int,
    course_id: str,
    resource_link_id: int | None,
    completed_at: dt.datetime,
) -> None:
    """The register's entry for a course just completed (a second completion of the same course in the same
    context keeps the first entry)."""
    ins = insert_for(s)(RegisterEntry).values(
        user_id=user_id,
        platform_id=platform_id,
        context_id=context_id,
        course_id=course_id,
        resource_link_id=resource_link_id,
        completed_at=completed_at,
        created_at=completed_at,
    )
    s.execute(ins.on_conflict_do_nothing(index_elements=["user_id", "context_id", "course_id"]))


# --- Rows ---------------------------------------------------------------------------------------------------


class RegisterRow(NamedTuple):
    """One entry as the list and the export show it (a named tuple: the export makes 50,000 of them)."""

    entry_id: int
    name: str
    email: str
    platform_name: str
    context_title: str
    course_id: str
    course_title: str
    completed_at: dt.datetime
    workload_hours: float | None
    teaching_units: int | None
    code: str
    state: CertificateState
    revoked_at: dt.datetime | None
    revoked_reason: str


def _base(*extra: Any) -> Select[Any]:
    """The row of an entry: learner, context, platform and (if issued) certificate, each column named."""
    query = (
        select(
            RegisterEntry.id.label("id"),
            RegisterEntry.user_id.label("user_id"),
            RegisterEntry.context_id.label("entry_context_id"),
            RegisterEntry.course_id.label("course_id"),
            RegisterEntry.completed_at.label("completed_at"),
            User.name.label("name"),
            User.given_name.label("given_name"),
            User.family_name.label("family_name"),
            User.email.label("email"),
            User.sub.label("sub"),
            Context.title.label("title"),
            Context.label.label("label"),
            Platform.name.label("platform_name"),
            Platform.issuer.label("issuer"),
            Certificate.code.label("code"),
            Certificate.holder_name.label("holder_name"),
            Certificate.course_title.label("course_title"),
            Certificate.workload_hours.label("workload_hours"),
            Certificate.teaching_units.label("teaching_units"),
            Certificate.revoked_at.label("revoked_at"),
            Certificate.revoked_reason.label("revoked_reason"),
            *extra,
        )
        .select_from(RegisterEntry)
        .join(User, User.id == RegisterEntry.user_id)
        .join(Context, Context.id == RegisterEntry.context_id)
        .join(Platform, Platform.id == RegisterEntry.platform_id)
        .outerjoin(Certificate, certificate_join())
    )
    return cast("Select[Any]", query)


def person_name(name: str | None, given: str | None, family: str | None) -> str:
    """The name as the LMS sent it ("" when it sent none)."""
    return name or " ".join(p for p in (given, family) if p)


def _row(raw: Any, courses: Mapping[str, CourseFacts]) -> RegisterRow:
    """A row of `_base()` (by position: the export turns 50,000 of them into lines)."""
    (
        entry_id,
        _user_id,
        _context_id,
        course_id,
        completed_at,
        name,
        given,
        family,
        email,
        _sub,
        title,
        label,
        platform_name,
        issuer,
        code,
        holder,
        course_title,
        hours,
        units,
        revoked_at,
        reason,
    ) = raw[:21]
    if code is None:
        facts = courses.get(course_id)
        state = CertificateState.NONE
        course_title = facts.title if facts else course_id
        hours, units = (facts.workload_hours, facts.teaching_units) if facts else (None, None)
    else:
        state = CertificateState.VALID if revoked_at is None else CertificateState.REVOKED
    return RegisterRow(
        entry_id,
        holder or name or person_name(None, given, family),
        email or "",
        platform_name or issuer,
        title or label or "",
        course_id,
        course_title,
        completed_at,
        hours,
        units,
        code or "",
        state,
        revoked_at,
        reason or "",
    )


@dataclass(frozen=True)
class RegisterPage:
    rows: list[RegisterRow]
    total: int  # with `more`: at least this many (COUNT_BOUND + 1), not counted further
    page: int
    pages: int  # with `more`: not known (the pages up to this one and the next, if there is one)
    more: bool = False
    has_next: bool = False


def page(s: Session, f: Filters, courses: Mapping[str, CourseFacts]) -> RegisterPage:
    """One page of the entries the filters keep, newest completion first (a page past the end shows the last).

    Without filters the count reads the entries' index alone; with filters the page's query counts the matches
    itself (a window), so that the tables are scanned once, not once for the count and once for the page.
    A search first reads up to COUNT_BOUND + 1 entries of learners whose name or e-mail matches (only as many
    learners as that takes). Above the bound its total is not counted (the page says "more than"), its pages end
    with the one holding the COUNT_BOUND-th match, and a page is read along the entries' index on the completion
    time, each entry tested, stopping after the page: a search that matches (almost) everyone costs about as much
    as an unfiltered page, on any page. Below it, those entries are all of
    the learners' and the page's query (with the window) takes them instead of reading the learners again.
    """
    size = PAGE_SIZE
    number = f.page
    learner_entry_ids: list[int] | None = None
    if f.q and normalise_code(f.q) is None:  # (a whole code matches one entry: counted exactly)
        learner_entry_ids = list(s.scalars(learner_entries_up_to(s, f, COUNT_BOUND + 1)))
        if len(learner_entry_ids) > COUNT_BOUND:
            # Its pages cover the first COUNT_BOUND matches only (the page asks to narrow the search): a page
            # number past them shows the last of them, so that no address makes the walk read more entries.
            last = max(1, -(-COUNT_BOUND // size))
            number = min(number, last)
            ids = (
                walked_entries(s, f)
                .order_by(RegisterEntry.completed_at.desc(), RegisterEntry.id.desc())
                .limit(size + 1)
                .offset((number - 1) * size)
                .subquery()
            )
            order = (RegisterEntry.completed_at.desc(), RegisterEntry.id.desc())
            walked = list(s.execute(_base().join(ids, ids.c.id == RegisterEntry.id).order_by(*order)))
            if walked:  # (else the page lies past the end: counted exactly below, which shows the last page)
                return RegisterPage(
                    rows=[_row(r, courses) for r in walked[:size]],
                    total=COUNT_BOUND + 1,
                    page=number,
                    pages=number + (len(walked) > size and number < last),
                    more=True,
                    has_next=len(walked) > size and number < last,
                )
    if learner_entry_ids is not None and len(learner_entry_ids) > COUNT_BOUND:
        learner_entry_ids = None  # (past the end of a broad search: read again)
    filtered = filtered_entries(s, f, learner_entry_ids)
    order = (RegisterEntry.completed_at.desc(), RegisterEntry.id.desc())
    picked_order = (filtered.selected_columns.completed_at.desc(), filtered.selected_columns.id.desc())

    def rows_of(number: int, with_total: bool) -> list[Any]:
        picked = filtered.add_columns(func.count().over().label("total")) if with_total else filtered
        ids = picked.order_by(*picked_order).limit(size).offset((number - 1) * size).subquery()
        extra = (ids.c.total,) if with_total else ()
        return list(s.execute(_base(*extra).join(ids, ids.c.id == RegisterEntry.id).order_by(*order)))

    raw: list[Any] = []
    if f.active:
        raw = rows_of(number, with_total=True)
    if raw:
        total = int(raw[0].total)
    elif f.active and number == 1:  # nothing matched
        total = 0
    else:  # no filter, or nothing on this page (it lies past the end)
        total = int(s.scalar(select(func.count()).select_from(filtered.subquery())) or 0)
        number = min(number, max(1, -(-total // size)))
        raw = rows_of(number, with_total=False) if total else []
    pages = max(1, -(-total // size))
    return RegisterPage(
        rows=[_row(r, courses) for r in raw], total=total, page=number, pages=pages, has_next=number < pages
    )


def all_rows(
    s: Session, f: Filters, courses: Mapping[str, CourseFacts], *, batch: int
) -> Iterator[RegisterRow]:
    """Every entry the filters keep, newest first, read `batch` rows at a time (for the export)."""
    ids = filtered_entries(s, f).subquery()
    query = _base().join(ids, ids.c.id == RegisterEntry.id)
    query = query.order_by(RegisterEntry.completed_at.desc(), RegisterEntry.id.desc())
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        # PostgreSQL plans a cursor for its first tenth of rows by default (nested loops over indexes); the
        # export reads them all, which hash joins do in half the server's time.
        conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
    # Core rows (no ORM loading step), `batch` at a time from a server-side cursor where the database has one.
    for part in conn.execute(query.execution_options(yield_per=batch)).partitions():
        for raw in part:
            yield _row(raw, courses)


def platforms(s: Session) -> list[tuple[int, str]]:
    """Every registered platform (id, name) for the filter."""
    return [
        (pid, name or issuer)
        for pid, name, issuer in s.execute(
            select(Platform.id, Platform.name, Platform.issuer).order_by(Platform.name, Platform.id)
        )
    ]


# --- One record -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleDone:
    position: int
    title: str
    completed_at: dt.datetime | None


@dataclass(frozen=True)
class Record:
    """Everything the register knows of one completion (no answers, no practice texts)."""

    row: RegisterRow
    sub: str
    platform_issuer: str
    deployment_id: str
    context_id: str
    context_label: str
    activity_title: str | None  # None: not known (completed before the register existed)
    activity_id: str | None
    started_at: dt.datetime | None
    issued_at: dt.datetime | None
    revoked_by: str
    certificate_id: int | None
    modules: list[ModuleDone]
    events: list[CertificateEvent]


def find_entry_id_by_code(s: Session, code: str) -> int | None:
    normal = normalise_code(code)
    if normal is None:
        return None
    found = s.execute(
        select(RegisterEntry.id).join(Certificate, certificate_join()).where(Certificate.code == normal)
    ).first()
    return int(found[0]) if found else None


def record(
    s: Session, entry_id: int, courses: Mapping[str, CourseFacts], module_titles: Any
) -> Record | None:
    """The full record of one entry, or None. `module_titles(course_id)` gives (module_id, position, title)."""
    query = _base(
        Deployment.deployment_id.label("lti_deployment_id"),
        Context.context_id.label("lti_context_id"),
        ResourceLink.title.label("activity_title"),
        ResourceLink.resource_link_id.label("activity_id"),
        Membership.created_at.label("first_launch_at"),
        Certificate.id.label("certificate_id"),
        Certificate.issued_at.label("issued_at"),
        Certificate.started_at.label("started_at"),
        Certificate.modules.label("modules"),
        Certificate.revoked_by.label("revoked_by"),
    ).where(RegisterEntry.id == entry_id)
    query = (
        query.join(Deployment, Deployment.id == Context.deployment_id)
        .outerjoin(ResourceLink, ResourceLink.id == RegisterEntry.resource_link_id)
        .outerjoin(
            Membership,
            (Membership.user_id == RegisterEntry.user_id)
            & (Membership.context_id == RegisterEntry.context_id),
        )
    )
    raw = s.execute(query).one_or_none()
    if raw is None:
        return None
    if raw.modules is not None:  # what the certificate froze
        modules = [
            ModuleDone(int(m["position"]), str(m["title"]), dt.datetime.fromisoformat(m["completed_at"]))
            for m in raw.modules
        ]
    else:
        done = dict(
            s.execute(
                select(ModuleProgress.module_id, ModuleProgress.completed_at).where(
                    ModuleProgress.user_id == raw.user_id,
                    ModuleProgress.context_id == raw.entry_context_id,
                    ModuleProgress.course_id == raw.course_id,
                )
            ).all()
        )
        modules = [
            ModuleDone(position, title, done.get(module_id))
            for module_id, position, title in module_titles(raw.course_id)
        ]
    events = (
        list(
            s.scalars(
                select(CertificateEvent)
                .where(CertificateEvent.certificate_id == raw.certificate_id)
                .order_by(CertificateEvent.at, CertificateEvent.id)
            )
        )
        if raw.certificate_id is not None
        else []
    )
    return Record(
        row=_row(raw, courses),
        sub=shown_id(raw.sub),
        platform_issuer=raw.issuer,
        deployment_id=raw.lti_deployment_id,
        context_id=raw.lti_context_id,
        context_label=raw.label or "",
        activity_title=raw.activity_title,
        activity_id=raw.activity_id,
        started_at=raw.started_at or raw.first_launch_at,
        issued_at=raw.issued_at,
        revoked_by=raw.revoked_by or "",
        certificate_id=raw.certificate_id,
        modules=modules,
        events=events,
    )

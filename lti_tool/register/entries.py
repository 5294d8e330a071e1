"""Register entries: one per completed course (learner, LMS course context, course), written by `progress` in the
transaction that completed the course; searched, filtered and paged for the certification office.

Services take a session and never commit. A page costs two statements whatever the register's size: the count,
and one query that picks the page's entry ids (ordered by completion, newest first, through the index on
`completed_at, id`) and joins the learner, context, platform and certificate to those ids only.

Search (`q`): part of the name (the certificate's, or as the LMS sent it), of the e-mail address, or a certificate
code (typed as people type codes: lower case, without dashes). Case does not matter, umlauts included: PostgreSQL's
ILIKE folds every letter; SQLite's LIKE only ASCII ones, so a search with other letters uses `nama_fold`, a Python
function the engine registers (lti_tool/db.py), which is slower, but right.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Select, false, func, literal, or_, select, union
from sqlalchemy.orm import Session

from ..certificate.service import ALPHABET, normalise_code
from ..db import insert_for
from ..i18n import BERLIN
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

PAGE_SIZE = 50
SEARCH_MAX = 200  # characters of a search that are used


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


# --- Filters ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the office asked for; `problems` names the fields whose value was not understood (not applied)."""

    q: str = ""
    platform_id: int | None = None
    course_id: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    page: int = 1
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.q or self.platform_id or self.course_id or self.date_from or self.date_to)

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """The filters as query-string arguments (for links to other pages and the export)."""
        args: dict[str, Any] = {
            "q": self.q,
            "plattform": self.platform_id or "",
            "kurs": self.course_id or "",
            "von": self.date_from.isoformat() if self.date_from else "",
            "bis": self.date_to.isoformat() if self.date_to else "",
            "seite": self.page,
        }
        args.update(changes)
        if args.get("seite") == 1:
            args["seite"] = None
        return {key: value for key, value in args.items() if value not in ("", None)}

    def describe(self) -> str:
        """For the audit trail: which filters an export used (ASCII keys, the values as given)."""
        parts = [f"{key}={value}" for key, value in self.query_args(seite=None).items()]
        return ", ".join(parts) or "all"


PROBLEM_DATE = "date"
PROBLEM_PLATFORM = "platform"
PROBLEM_COURSE = "course"
PROBLEM_PERIOD = "period"


def _date(raw: str) -> dt.date | None:
    if len(raw) != 10:
        raise ValueError(raw)
    return dt.date.fromisoformat(raw)


def parse_filters(args: Mapping[str, str], platform_ids: set[int], course_ids: set[str]) -> Filters:
    """Filters from the query string; a value that is not understood is reported in `problems`, not applied."""
    problems: dict[str, str] = {}
    q = " ".join((args.get("q") or "").split())[:SEARCH_MAX]
    platform_id: int | None = None
    raw = (args.get("plattform") or "").strip()
    if raw:
        if raw.isascii() and raw.isdigit() and len(raw) < 19 and int(raw) in platform_ids:
            platform_id = int(raw)
        else:
            problems["plattform"] = PROBLEM_PLATFORM
    course_id: str | None = None
    raw = (args.get("kurs") or "").strip()
    if raw:
        if raw in course_ids:
            course_id = raw
        else:
            problems["kurs"] = PROBLEM_COURSE
    dates: dict[str, dt.date | None] = {}
    for key in ("von", "bis"):
        raw = (args.get(key) or "").strip()
        dates[key] = None
        if raw:
            try:
                dates[key] = _date(raw)
            except ValueError:
                problems[key] = PROBLEM_DATE
    if dates["von"] and dates["bis"] and dates["von"] > dates["bis"]:
        problems["bis"] = PROBLEM_PERIOD
        dates["bis"] = None
    raw = args.get("seite") or ""
    page = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else 1
    return Filters(
        q=q,
        platform_id=platform_id,
        course_id=course_id,
        date_from=dates["von"],
        date_to=dates["bis"],
        page=max(1, page),
        problems=problems,
    )


def _berlin_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=BERLIN).astimezone(dt.UTC)


def _certificate_join() -> ColumnElement[bool]:
    return (
        (Certificate.user_id == RegisterEntry.user_id)
        & (Certificate.context_id == RegisterEntry.context_id)
        & (Certificate.course_id == RegisterEntry.course_id)
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(s: Session, column: Any, q: str) -> ColumnElement[bool]:
    """`column` contains `q`, case-insensitively: PostgreSQL's ILIKE folds every letter; SQLite's LIKE folds
    ASCII letters by itself, and a search with other letters goes through `nama_fold` (lti_tool/db.py)."""
    pattern = _like(q.lower())
    if s.get_bind().dialect.name != "sqlite":
        return cast("ColumnElement[bool]", column.ilike(pattern, escape="\\"))
    if q.isascii():
        return cast("ColumnElement[bool]", column.like(pattern, escape="\\"))
    # SQLite's own LIKE first, with `_` for each letter beyond ASCII, so that Python folds only the few rows left.
    rough = "".join(c if c.isascii() else "_" for c in pattern)
    return cast(
        "ColumnElement[bool]",
        column.like(rough, escape="\\") & func.nama_fold(column).like(pattern, escape="\\"),
    )


def learner_matches(s: Session, q: str) -> ColumnElement[bool]:
    """The learner's name or e-mail contains the search. On PostgreSQL two trigram indexes serve exactly these
    expressions (migration register_search_index; change both together, tests/register/test_search_index.py)."""
    full_name = func.coalesce(
        User.name, func.coalesce(User.given_name, "") + literal(" ") + func.coalesce(User.family_name, "")
    )
    return or_(_contains(s, full_name, q), _contains(s, User.email, q))


def certificate_matches(s: Session, q: str) -> ColumnElement[bool]:
    """The certificate's holder name contains the search (a trigram index on PostgreSQL, as above)."""
    return _contains(s, Certificate.holder_name, q)


def _search(s: Session, q: str) -> ColumnElement[bool]:
    """Name, e-mail or certificate code contains the search (case-insensitive, umlauts too).

    Each table is scanned once on its own (users by name and e-mail, certificates by holder name and code) and
    the entries are found through the ids that matched: a scan of the entries joined to users and certificates
    costs several times more at 50,000 entries.
    """
    users = select(User.id).where(learner_matches(s, q))
    code = normalise_code(q)
    part = q.upper().strip()
    if code is not None:
        by_code: ColumnElement[bool] = Certificate.code == code
    elif part and all(c in ALPHABET or c == "-" for c in part):  # part of a code, as printed
        by_code = Certificate.code.like(_like(part), escape="\\")
    else:  # a letter no code has (I, L, O, U, umlauts, spaces): no code can contain it
        by_code = false()
    certified = (
        select(RegisterEntry.id)
        .join(Certificate, _certificate_join())
        .where(or_(certificate_matches(s, q), by_code))
    )
    by_user = select(RegisterEntry.id).where(RegisterEntry.user_id.in_(users))
    return RegisterEntry.id.in_(union(by_user, certified))


def _filtered(s: Session, f: Filters) -> Select[Any]:
    """The ids and completion times of the entries the filters keep (joins only where a filter needs them)."""
    query = cast("Select[Any]", select(RegisterEntry.id, RegisterEntry.completed_at))
    if f.q:
        query = query.where(_search(s, f.q))
    if f.platform_id:
        query = query.where(RegisterEntry.platform_id == f.platform_id)
    if f.course_id:
        query = query.where(RegisterEntry.course_id == f.course_id)
    if f.date_from:
        query = query.where(RegisterEntry.completed_at >= _berlin_midnight(f.date_from))
    if f.date_to:
        query = query.where(RegisterEntry.completed_at < _berlin_midnight(f.date_to + dt.timedelta(days=1)))
    return query


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
        .outerjoin(Certificate, _certificate_join())
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
    total: int
    page: int
    pages: int


def page(s: Session, f: Filters, courses: Mapping[str, CourseFacts]) -> RegisterPage:
    """One page of the entries the filters keep, newest completion first (a page past the end shows the last).

    Without filters the count reads the entries' index alone; with filters the page's query counts the matches
    itself (a window), so that a search scans the tables once, not once for the count and once for the page.
    """
    size = PAGE_SIZE
    filtered = _filtered(s, f)
    order = (RegisterEntry.completed_at.desc(), RegisterEntry.id.desc())

    def rows_of(number: int, with_total: bool) -> list[Any]:
        picked = filtered.add_columns(func.count().over().label("total")) if with_total else filtered
        ids = picked.order_by(*order).limit(size).offset((number - 1) * size).subquery()
        extra = (ids.c.total,) if with_total else ()
        return list(s.execute(_base(*extra).join(ids, ids.c.id == RegisterEntry.id).order_by(*order)))

    number = f.page
    raw: list[Any] = []
    if f.active:
        raw = rows_of(number, with_total=True)
    if raw:
        total = int(raw[0].total)
    else:  # no filter, or nothing on this page (none matched, or the page lies past the end)
        total = int(s.scalar(select(func.count()).select_from(filtered.subquery())) or 0)
        number = min(number, max(1, -(-total // size)))
        raw = rows_of(number, with_total=False) if total else []
    pages = max(1, -(-total // size))
    return RegisterPage(rows=[_row(r, courses) for r in raw], total=total, page=number, pages=pages)


def all_rows(
    s: Session, f: Filters, courses: Mapping[str, CourseFacts], *, batch: int
) -> Iterator[RegisterRow]:
    """Every entry the filters keep, newest first, read `batch` rows at a time (for the export)."""
    ids = _filtered(s, f).subquery()
    query = _base().join(ids, ids.c.id == RegisterEntry.id)
    query = query.order_by(RegisterEntry.completed_at.desc(), RegisterEntry.id.desc())
    # Core rows (no ORM loading step), `batch` at a time from a server-side cursor where the database has one.
    for part in s.connection().execute(query.execution_options(yield_per=batch)).partitions():
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
        select(RegisterEntry.id).join(Certificate, _certificate_join()).where(Certificate.code == normal)
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
        sub=raw.sub,
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

"""The certification office's filters over the register: what it asked for (`Filters`, parsed from the query
string with the problems named), and the search by name, e-mail or certificate code that keeps the matching entries.

Search (`q`): part of the name (the certificate's, or as the LMS sent it), of the e-mail address, or a certificate
code (typed as people type codes: lower case, without dashes). Case does not matter, umlauts included: PostgreSQL's
ILIKE folds every letter; SQLite's LIKE only ASCII ones, so a search with other letters uses `nama_fold`, a Python
function the engine registers (lti_tool/db.py), which is slower, but right.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, exists, func, literal, or_, select, union
from sqlalchemy.orm import Session

from ..certificate.service import ALPHABET, normalise_code
from ..i18n import BERLIN
from ..models import Certificate, RegisterEntry, User

SEARCH_MAX = 200  # characters of a search that are used


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
    day = dt.date.fromisoformat(raw)
    # The search reads from the day's Berlin midnight (in UTC: the day before) to the next day's.
    if not dt.date.min < day < dt.date.max:
        raise ValueError(raw)
    return day


def parse_filters(args: Mapping[str, str], platform_ids: set[int], course_ids: set[str]) -> Filters:
    """Filters from the query string; a value that is not understood is reported in `problems`, not applied."""
    problems: dict[str, str] = {}
    q = " ".join((args.get("q") or "").replace("\x00", "").split())[:SEARCH_MAX]  # NUL: PostgreSQL refuses it
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


def certificate_join() -> ColumnElement[bool]:
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


def _code_matches(q: str) -> ColumnElement[bool] | None:
    """The certificate's code is the search (typed as people type codes) or contains it as printed; None when the
    search has a letter no code has (I, L, O, U, umlauts, spaces, most names)."""
    code = normalise_code(q)
    if code is not None:
        return Certificate.code == code
    part = q.upper().strip()
    if part and all(c in ALPHABET or c == "-" for c in part):
        return Certificate.code.like(_like(part), escape="\\")
    return None


def _entries() -> Select[Any]:
    return cast(
        "Select[Any]", select(RegisterEntry.id.label("id"), RegisterEntry.completed_at.label("completed_at"))
    )


def _kept(f: Filters) -> Callable[[Select[Any]], Select[Any]]:
    """The filters other than the search, as a function that adds them to a query of entries."""

    def kept(query: Select[Any]) -> Select[Any]:
        if f.platform_id:
            query = query.where(RegisterEntry.platform_id == f.platform_id)
        if f.course_id:
            query = query.where(RegisterEntry.course_id == f.course_id)
        if f.date_from:
            query = query.where(RegisterEntry.completed_at >= _berlin_midnight(f.date_from))
        if f.date_to:
            query = query.where(
                RegisterEntry.completed_at < _berlin_midnight(f.date_to + dt.timedelta(days=1))
            )
        return query

    return kept


def filtered_entries(s: Session, f: Filters, learner_entry_ids: list[int] | None = None) -> Select[Any]:
    """The ids and completion times (columns `id`, `completed_at`) of the entries the filters keep.

    A search finds people and codes. People: every entry of a learner whose name or e-mail (as the LMS sent them
    last) or whose name on one of their certificates contains the search; the learners are found first, each
    table scanned once on its own (a trigram index on PostgreSQL, migration register_search_index), and their
    entries through the entries' index on the learner. Codes: the entry of the certificate whose code it is (or
    contains, as printed). Joining the entries to learners and certificates and filtering the join costs several
    times more at 50,000 entries.
    """

    kept = _kept(f)
    if not f.q:
        return kept(_entries())
    if learner_entry_ids is None:
        people = union(
            select(User.id).where(learner_matches(s, f.q)),
            select(Certificate.user_id).where(certificate_matches(s, f.q)),
        )
        by_person = kept(_entries().where(RegisterEntry.user_id.in_(people)))
    else:  # the entries of the learners whose name or e-mail matches are known (`learner_entries_up_to`)
        by_name = select(Certificate.user_id).where(certificate_matches(s, f.q))
        # A union, not OR: each part through its own index (an OR makes PostgreSQL test every entry).
        both_people = union(
            kept(_entries().where(RegisterEntry.id.in_(learner_entry_ids))),
            kept(_entries().where(RegisterEntry.user_id.in_(by_name))),
        ).subquery()
        by_person = cast("Select[Any]", select(both_people.c.id, both_people.c.completed_at))
    code = _code_matches(f.q)
    if code is None:
        return by_person
    by_code = kept(_entries().join(Certificate, certificate_join()).where(code))
    both = union(by_person, by_code).subquery()
    return cast("Select[Any]", select(both.c.id, both.c.completed_at))


def learner_entries_up_to(s: Session, f: Filters, bound: int) -> Select[Any]:
    """The ids of (at most `bound`) entries of learners whose name or e-mail contains the search, with the other
    filters: fewer than `bound` are all of them (`filtered_entries` then takes them instead of reading the
    learners again); `bound` of them say the search is broad, found without reading everyone (the learners are
    read until enough are found, each one's entries through the index on the learner)."""
    found = _kept(f)(
        select(RegisterEntry.id).join(User, User.id == RegisterEntry.user_id).where(learner_matches(s, f.q))
    )
    return found.limit(bound)


def walked_entries(s: Session, f: Filters) -> Select[Any]:
    """The search's matches (the same as `filtered_entries`) written as a test of each entry (its learner, the
    learner's certificates, the entry's own certificate), for a search that matches many entries: read in the
    order of the entries' index on the completion time, the database stops after a page's rows instead of
    finding and sorting every match. For a narrow search it would read every entry: `filtered_entries` then."""
    tests: list[ColumnElement[bool]] = [
        learner_matches(s, f.q),
        exists().where(Certificate.user_id == RegisterEntry.user_id, certificate_matches(s, f.q)),
    ]
    code = _code_matches(f.q)
    if code is not None:
        tests.append(exists().where(certificate_join(), code))
    query = _entries().join(User, User.id == RegisterEntry.user_id).where(or_(*tests))
    return _kept(f)(query)

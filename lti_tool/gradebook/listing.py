"""Who the gradebook lists, filtered, sorted and paged: every learner of one course context, read set-based
(what a row shows and how a page's rows are filled: `rows`).

Who is listed: the context's roster (NRPS, `RosterEntry`) learners, plus the people who launched as learners but
are not (yet) in the roster; one row per LTI `sub`. Someone who launched as a teacher is never listed (the tool
sends no grades for them). Roster entries that are teachers are left out too, unless that person launched as a
learner.

A page of rows costs a fixed number of statements, whatever the number of learners or modules: one for the
counts per filter, one for the page of people (sorted, filtered, with course progress), then one each for the
page's module progress, practice tasks and newest grade deliveries (`fill_rows`). The CSV export streams the
same query (`listing_query`) with `yield_per` and reads each batch's details its own way (export.py).

Nothing here writes; services take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Subquery, and_, case, func, literal, or_, select, type_coerce, union
from sqlalchemy.orm import Session, aliased

from ..models import LearnerSummary, Membership, RosterEntry, User, UTCDateTime
from .rows import Person, Row, Scope, fill_rows

# URL values (German, as the addresses people see) -> what they mean.
SORTS = ("name", "fortschritt", "aktivitaet")
FILTERS = ("alle", "nicht-begonnen", "in-bearbeitung", "abgeschlossen", "zu-pruefen", "fehlgeschlagen")
PER_PAGE = 50


def _real_name(name: Any, given: Any, family: Any, *fallbacks: Any) -> Any:
    """SQL for User.real_name: the name, else given + family name, else the fallbacks (the roster's name);
    NULL when nobody sent a name."""
    joined = func.nullif(func.trim(func.coalesce(given, "") + " " + func.coalesce(family, "")), "")
    return func.coalesce(func.nullif(name, ""), joined, *(func.nullif(f, "") for f in fallbacks))


_SUMMARY = aliased(LearnerSummary, name="summary")  # built once (see grading/outbox/rows._NEWER)


def _progress_columns(scope: Scope, query: Select[Any]) -> Select[Any]:
    """Add a learner's course progress and flags to one branch of the people query: their row of the summary
    (`LearnerSummary`, one per learner, kept with the progress and the grade outbox), joined on
    Membership.user_id (a real column: the planner knows it is unique per context, so PostgreSQL estimates
    these joins right; joined on the union's column instead it overestimates them a hundredfold and
    JIT-compiles the statement, which then takes longer than running it)."""
    c, course_id = scope.context_id, scope.course.id
    summary = _SUMMARY
    launch = Membership.last_launch_at
    progress_at = summary.last_activity
    last_activity = type_coerce(
        case(
            (progress_at.is_(None), launch),
            (launch.is_(None), progress_at),
            (progress_at > launch, progress_at),
            else_=launch,
        ),
        UTCDateTime(),
    )
    user = Membership.user_id
    return query.add_columns(
        last_activity.label("last_activity"),
        summary.completed_at.label("course_completed_at"),
        func.coalesce(summary.modules_done, 0).label("modules_done"),
        func.coalesce(summary.lessons_seen, 0).label("lessons_seen"),
        # started (completion.module_started) in some module: progress recomputes a module's row at the
        # first lesson seen, quiz attempt or practice task, so having a row is having started
        case((summary.started.is_(True), 1), else_=0).label("started"),
        case((summary.delivery_failed.is_(True), 1), else_=0).label("failed"),
        case((summary.review_waiting > 0, 1), else_=0).label("to_review"),
        func.coalesce(summary.review_waiting, 0).label("review_waiting"),
    ).outerjoin(
        summary, and_(summary.user_id == user, summary.context_id == c, summary.course_id == course_id)
    )


def people(scope: Scope) -> Subquery:
    """Every listed learner with their course progress: sub, user_id, name, email, roster_status,
    last_activity, course_completed_at, modules_done, lessons_seen, and 0/1 flags started, failed (a grade
    delivery), to_review (a practice text).

    The subs come first (the roster's and the launched learners', as a UNION), then everything is joined to
    them through unique keys, so that the planner's row estimates stay right (see `_progress_columns`).
    """
    c, p = scope.context_id, scope.platform_id
    subs = union(
        select(RosterEntry.sub.label("sub")).where(RosterEntry.context_id == c),
        select(User.sub)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.context_id == c, Membership.is_instructor.is_(False)),
    ).subquery("subs")
    base = (
        select(
            subs.c.sub.label("sub"),
            Membership.user_id.label("user_id"),
            _real_name(User.name, User.given_name, User.family_name, RosterEntry.name).label("name"),
            func.coalesce(User.email, RosterEntry.email).label("email"),
            RosterEntry.status.label("roster_status"),
        )
        .select_from(subs)
        .outerjoin(RosterEntry, and_(RosterEntry.context_id == c, RosterEntry.sub == subs.c.sub))
        .outerjoin(User, and_(User.platform_id == p, User.sub == subs.c.sub))
        .outerjoin(Membership, and_(Membership.user_id == User.id, Membership.context_id == c))
        .where(
            or_(
                Membership.is_instructor.is_(False),
                and_(Membership.id.is_(None), RosterEntry.is_learner.is_(True)),
            )
        )
    )
    return _progress_columns(scope, base).subquery("people")


def _conditions(crowd: Subquery) -> dict[str, Any]:
    """What each filter (but "alle") selects, on the columns of `people`."""
    completed = crowd.c.course_completed_at.is_not(None)
    return {
        "nicht-begonnen": and_(crowd.c.started == 0, ~completed),
        "in-bearbeitung": and_(crowd.c.started == 1, ~completed),
        "abgeschlossen": completed,
        "zu-pruefen": crowd.c.to_review == 1,
        "fehlgeschlagen": crowd.c.failed == 1,
    }


def count_by_filter(s: Session, scope: Scope) -> dict[str, int]:
    """How many learners each filter shows ("alle": everyone), in one statement."""
    crowd = people(scope)
    columns = [
        func.count().label("alle"),
        func.coalesce(func.sum(crowd.c.review_waiting), 0).label("texts"),
    ] + [
        func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(name)
        for name, condition in _conditions(crowd).items()
    ]
    row = s.execute(select(*columns).select_from(crowd)).one()
    return {name: int(row._mapping[name] or 0) for name in (*FILTERS, "texts")}


def _order(crowd: Subquery, sort: str) -> list[Any]:
    by_name = (func.lower(crowd.c.name).nulls_last(), crowd.c.sub)  # the nameless after the named, by id
    if sort == "fortschritt":
        return [
            crowd.c.course_completed_at.is_(None),
            crowd.c.modules_done.desc(),
            crowd.c.lessons_seen.desc(),
            *by_name,
        ]
    if sort == "aktivitaet":
        return [crowd.c.last_activity.desc().nulls_last(), *by_name]
    return list(by_name)


def listing_query(
    scope: Scope, *, sort: str, only: str, columns: Callable[[Subquery], list[Any]] | None = None
) -> Select[Any]:
    """The listed people with their course progress, filtered (`only`, one of FILTERS) and sorted (SORTS):
    every column of `people`, or `columns(people)`."""
    crowd = people(scope)
    query = select(*columns(crowd)) if columns is not None else select(crowd)
    conditions = _conditions(crowd)
    if only in conditions:
        query = query.where(conditions[only])
    return query.order_by(*_order(crowd, sort))


def _page_query(scope: Scope, *, sort: str, only: str) -> Select[Any]:
    """A page of people and the counts per filter in one statement: the counts are window sums over everyone,
    and the people the filter selects come first (the rest after them), so that LIMIT/OFFSET pages through
    them; a page's rows the filter does not select (at the end of the last page) are dropped by the caller."""
    crowd = people(scope)
    conditions = _conditions(crowd)
    counts = [
        func.count().over().label("n_alle"),
        func.sum(crowd.c.review_waiting).over().label("n_texts"),
    ] + [
        func.sum(case((condition, 1), else_=0)).over().label("n_" + name)
        for name, condition in conditions.items()
    ]
    selected = conditions.get(only)
    first = [case((selected, 0), else_=1)] if selected is not None else []
    matches = (selected if selected is not None else literal(True)).label("selected")
    return select(crowd, matches, *counts).order_by(*first, *_order(crowd, sort))


def _person(row: Any) -> Person:
    return Person(
        sub=row.sub,
        user_id=row.user_id,
        name=row.name,
        email=row.email,
        roster_status=row.roster_status,
        last_activity=row.last_activity,
        course_completed_at=row.course_completed_at,
        modules_done=int(row.modules_done or 0),
    )


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    counts: dict[str, int]
    sort: str
    only: str
    number: int
    pages: int

    @property
    def total(self) -> int:
        return self.counts[self.only]


def page(s: Session, scope: Scope, *, sort: str, only: str, number: int, per_page: int = PER_PAGE) -> Page:
    """One page of the gradebook (a page number past the end shows the last page): the counts per filter and
    the page's people in one statement (`_page_query`), then their details (`fill_rows`)."""
    query = _page_query(scope, sort=sort, only=only)
    number = max(1, number)
    found = s.execute(query.limit(per_page).offset((number - 1) * per_page)).all()
    if found:
        counts = {name: int(found[0]._mapping["n_" + name] or 0) for name in (*FILTERS, "texts")}
    else:  # past everyone: count apart
        counts = count_by_filter(s, scope)
    pages = max(1, -(-counts[only] // per_page))
    if number > pages:  # past the end: the last page
        number = pages
        found = s.execute(query.limit(per_page).offset((number - 1) * per_page)).all()
    persons = [_person(row) for row in found if row.selected]
    return Page(fill_rows(s, scope, persons), counts, sort, only, number, pages)

"""Who the gradebook lists, filtered, sorted and paged: every learner of one course context, read set-based
(what a row shows and how a page's rows are filled: `rows`).

Who is listed, and what their row shows: `listed` (one `ListedLearner` row per person, kept by launches and roster
refreshes); their course progress: the per-learner summary (`summary`).

A page of rows costs a fixed number of statements, whatever the number of learners or modules: one for the
page of people (sorted, filtered, with course progress) and the counts per filter, then one each for the
page's module progress, practice tasks and newest grade deliveries (`fill_rows`). The CSV export streams the
same query (`listing_query`) with `yield_per` and reads each batch's details its own way (export.py).

Nothing here writes; services take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Subquery, and_, case, func, select, true, type_coerce
from sqlalchemy.orm import Session, aliased

from ..models import LearnerSummary, ListedLearner, UTCDateTime
from .rows import Person, Row, Scope, fill_rows

# URL values (German, as the addresses people see) -> what they mean.
SORTS = ("name", "fortschritt", "aktivitaet")
FILTERS = ("alle", "nicht-begonnen", "in-bearbeitung", "abgeschlossen", "zu-pruefen", "fehlgeschlagen")
PER_PAGE = 50


_SUMMARY = aliased(LearnerSummary, name="summary")  # built once (see grading/outbox/rows._NEWER)
_LISTED = aliased(ListedLearner, name="listed")


def _with_progress(scope: Scope, listed: Any) -> Select[Any]:
    """The listed people (`listed`: ListedLearner or a page of its rows) with their course progress and flags from
    their row of the summary (`LearnerSummary`, kept with the progress and the grade outbox), joined on its
    unique key."""
    c, course_id = scope.context_id, scope.course.id
    summary = _SUMMARY
    launch = listed.last_launch_at
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
    return select(
        listed.sub.label("sub"),
        listed.user_id.label("user_id"),
        listed.name.label("name"),
        listed.email.label("email"),
        listed.roster_status.label("roster_status"),
        listed.sort_key.label("sort_key"),
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
        summary,
        and_(summary.user_id == listed.user_id, summary.context_id == c, summary.course_id == course_id),
    )


def people(scope: Scope) -> Subquery:
    """Every listed learner with their course progress: sub, user_id, name, email, roster_status, sort_key,
    last_activity, course_completed_at, modules_done, lessons_seen, and 0/1 flags started, failed (a grade
    delivery), to_review (a practice text). Who is listed and what their row says: `listed`."""
    return _with_progress(scope, _LISTED).where(_LISTED.context_id == scope.context_id).subquery("people")


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
    """How many learners each filter shows ("alle": everyone; "texts": practice texts waiting), in one
    statement."""
    row = s.execute(select(_counts(scope))).one()
    return {name: int(row._mapping["n_" + name] or 0) for name in (*FILTERS, "texts")}


def _order(crowd: Subquery, sort: str) -> list[Any]:
    by_name = (crowd.c.sort_key, crowd.c.sub)  # the nameless after the named, by id (listed.sort_key)
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


def _counts(scope: Scope) -> Subquery:
    """How many learners each filter shows ("n_alle": everyone; "n_texts": practice texts waiting)."""
    crowd = people(scope)
    columns = [
        func.count().label("n_alle"),
        func.coalesce(func.sum(crowd.c.review_waiting), 0).label("n_texts"),
    ] + [
        func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label("n_" + name)
        for name, condition in _conditions(crowd).items()
    ]
    return select(*columns).select_from(crowd).subquery("counts")


def _page_query(scope: Scope, *, sort: str, only: str, limit: int, offset: int) -> Select[Any]:
    """A page of people and the counts per filter in one statement: the page (LIMIT/OFFSET) joined to the one
    row of counts, so that a page past everyone still gives the counts (with the people's columns NULL).

    Everyone by name (the gradebook's first view) pages through the listed rows alone, in the order of their
    index, and joins the summary to that page's rows only; the other views join the summary first, as filters
    and sorts need it."""
    if sort == SORTS[0] and only == FILTERS[0]:
        rows = (
            select(ListedLearner)
            .where(ListedLearner.context_id == scope.context_id)
            .order_by(ListedLearner.sort_key, ListedLearner.sub)
            .limit(limit)
            .offset(offset)
            .subquery("page_rows")
        )
        shown = _with_progress(scope, aliased(ListedLearner, rows)).subquery("page")
    else:
        shown = listing_query(scope, sort=sort, only=only).limit(limit).offset(offset).subquery("page")
    counts = _counts(scope)
    return select(shown, counts).select_from(counts).outerjoin(shown, true()).order_by(*_order(shown, sort))


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
    number = max(1, number)

    def read(n: int) -> list[Any]:
        query = _page_query(scope, sort=sort, only=only, limit=per_page, offset=(n - 1) * per_page)
        return list(s.execute(query).all())

    found = read(number)
    counts = {name: int(found[0]._mapping["n_" + name] or 0) for name in (*FILTERS, "texts")}
    pages = max(1, -(-counts[only] // per_page))
    if number > pages:  # past the end: the last page
        number = pages
        found = read(number)
    persons = [_person(row) for row in found if row.sub is not None]
    return Page(fill_rows(s, scope, persons), counts, sort, only, number, pages)

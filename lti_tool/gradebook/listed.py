"""Who the gradebook of a course context lists (`ListedLearner`), kept as rows in the order a page shows them.

Who is listed: the context's roster (NRPS, `RosterEntry`) learners, plus the people who launched there as learners
but are not (yet) in the roster; one row per LTI `sub`. Someone who launched as a teacher is never listed (the tool
sends no grades for them). Roster entries that are teachers are left out too, unless that person launched as a
learner. A row shows the name and e-mail the platform sent at the launch, else the roster's.

The rows are rewritten from those source rows in the transaction that changes them: the roster refresh for its
context (`relist_context`), the launch and the reapplied erasure for that person (`relist_person`); deleting a
learner deletes their rows (lti_tool/privacy). `rebuild` and `differences` (`flask gradebook rebuild-summary`) go
through the same `_source` query.

Services take a session and never commit.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, or_, select, union, update
from sqlalchemy.orm import Session

from ..db import dialect_insert
from ..models import Context, Deployment, ListedLearner, Membership, RosterEntry, User, utcnow

Key = tuple[int, str]  # context id, sub
COLUMNS = ("user_id", "name", "email", "roster_status", "sort_key", "last_launch_at")
CHUNK = 1000  # rows per executemany batch


def sort_key(name: str | None, sub: str) -> str:
    """What sorting by name orders by: the name without case and accents (Ä with A, ß as ss), so that both
    databases order alike; the nameless after everyone named, by their LMS user id."""
    if not name:
        return "\uffff" + sub
    plain = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in plain if not unicodedata.combining(c)).strip()[:250]


def _real_name(name: Any, given: Any, family: Any, *fallbacks: Any) -> Any:
    """SQL for User.real_name: the name, else given + family name, else the fallbacks (the roster's name);
    NULL when nobody sent a name."""
    joined = func.nullif(func.trim(func.coalesce(given, "") + " " + func.coalesce(family, "")), "")
    return func.coalesce(func.nullif(name, ""), joined, *(func.nullif(f, "") for f in fallbacks))


def _source(
    s: Session, *, context_id: int | None, platform_id: int | None, sub: str | None
) -> dict[Key, dict[str, Any]]:
    """The listed people of the selection with what a row shows, from the roster, users and memberships (one
    statement): of one context, of one person (`sub`) in every context of their platform, or of everyone."""
    roster_where: list[Any] = []
    member_where: list[Any] = [Membership.is_instructor.is_(False)]
    if context_id is not None:
        roster_where.append(RosterEntry.context_id == context_id)
        member_where.append(Membership.context_id == context_id)
    if sub is not None:
        assert platform_id is not None, "a person is known by platform and sub"
        contexts = (
            select(Context.id)
            .join(Deployment, Deployment.id == Context.deployment_id)
            .where(Deployment.platform_id == platform_id)
        )
        roster_where += [RosterEntry.sub == sub, RosterEntry.context_id.in_(contexts)]
        member_where += [User.sub == sub, User.platform_id == platform_id]
    candidates = union(
        select(RosterEntry.context_id.label("context_id"), RosterEntry.sub.label("sub")).where(*roster_where),
        select(Membership.context_id, User.sub)
        .join(User, User.id == Membership.user_id)
        .where(*member_where),
    ).subquery("candidates")
    query = (
        select(
            candidates.c.context_id,
            candidates.c.sub,
            Membership.user_id,
            _real_name(User.name, User.given_name, User.family_name, RosterEntry.name).label("name"),
            func.coalesce(User.email, RosterEntry.email).label("email"),
            RosterEntry.status.label("roster_status"),
            Membership.last_launch_at,
        )
        .select_from(candidates)
        .join(Context, Context.id == candidates.c.context_id)
        .join(Deployment, Deployment.id == Context.deployment_id)
        .outerjoin(
            RosterEntry,
            and_(RosterEntry.context_id == candidates.c.context_id, RosterEntry.sub == candidates.c.sub),
        )
        .outerjoin(User, and_(User.platform_id == Deployment.platform_id, User.sub == candidates.c.sub))
        .outerjoin(
            Membership, and_(Membership.user_id == User.id, Membership.context_id == candidates.c.context_id)
        )
        .where(
            or_(
                Membership.is_instructor.is_(False),
                and_(Membership.id.is_(None), RosterEntry.is_learner.is_(True)),
            )
        )
    )
    found: dict[Key, dict[str, Any]] = {}
    for row in s.execute(query):
        found[(row.context_id, row.sub)] = {
            "user_id": row.user_id,
            "name": row.name,
            "email": row.email,
            "roster_status": row.roster_status,
            "sort_key": sort_key(row.name, row.sub),
            "last_launch_at": row.last_launch_at,
        }
    return found


def _selected(context_id: int | None, platform_id: int | None, sub: str | None) -> list[Any]:
    where: list[Any] = []
    if context_id is not None:
        where.append(ListedLearner.context_id == context_id)
    if sub is not None:
        contexts = (
            select(Context.id)
            .join(Deployment, Deployment.id == Context.deployment_id)
            .where(Deployment.platform_id == platform_id)
        )
        where += [ListedLearner.sub == sub, ListedLearner.context_id.in_(contexts)]
    return where


def relist_context(s: Session, context_id: int, *, now: dt.datetime | None = None) -> int:
    """After a roster refresh: the context's rows from the new roster. It delists only people who never launched
    there (whether someone who launched is listed depends on their membership alone), so a launch committed
    while the refresh runs keeps its row. Returns how many are listed."""
    now = now or utcnow()
    found = _source(s, context_id=context_id, platform_id=None, sub=None)
    where = [ListedLearner.context_id == context_id, ListedLearner.user_id.is_(None)]
    return _write(s, found, now, where, keep_launched=True)


def relist_person(
    s: Session, *, platform_id: int, sub: str, launched_in: int | None = None, now: dt.datetime | None = None
) -> int:
    """After a launch (`launched_in`: its context) or a deletion: the person's rows in every context of their
    platform (names and e-mail go everywhere). A launch delists them only in its own context (launched as a
    teacher), so a roster refresh of another context committed meanwhile keeps its row."""
    now = now or utcnow()
    found = _source(s, context_id=None, platform_id=platform_id, sub=sub)
    if launched_in is not None and (launched_in, sub) in found:  # listed there: nothing to delist
        return _write(s, found, now, None)
    return _write(s, found, now, _selected(launched_in, platform_id, sub))


def rebuild(s: Session, *, context_id: int | None = None, now: dt.datetime | None = None) -> int:
    """Every row (of one context, or of all) from the source rows (`flask gradebook rebuild-summary`)."""
    now = now or utcnow()
    found = _source(s, context_id=context_id, platform_id=None, sub=None)
    return _write(s, found, now, _selected(context_id, None, None))


def _write(
    s: Session,
    found: dict[Key, dict[str, Any]],
    now: dt.datetime,
    delist: list[Any] | None,
    *,
    keep_launched: bool = False,
) -> int:
    """Upsert the rows found (each stamped `now`), then delete the rows `delist` selects that this write did not
    touch (they carry an older time; None: delete nothing): two statements for any number of rows (in batches
    of CHUNK). `keep_launched`: a row written by a launch is not turned back into a roster-only one (on
    PostgreSQL a roster refresh may not yet see a membership that a launch committed while it ran; a row only
    loses its user with the membership, and deleting a learner deletes their rows)."""
    upsert = _upsert(s.get_bind().dialect.name, keep_launched)
    rows = [{"context_id": c, "sub": who, **values, "updated_at": now} for (c, who), values in found.items()]
    conn = s.connection()
    for chunk in _chunks(rows):
        conn.execute(upsert, chunk)
    if delist is not None:
        stale = delete(ListedLearner).where(*delist, ListedLearner.updated_at != now)
        conn.execute(stale.execution_options(synchronize_session=False))
    return len(found)


def launched_name(name: str | None, given: str | None, family: str | None) -> str | None:
    """The name a launch's user row gives (`_real_name` without the roster's fallback), in Python."""
    if name:
        return name
    return f"{given or ''} {family or ''}".strip(" ") or None


def launch_params(
    *, platform_id: int, sub: str, name: str, email: str | None, now: dt.datetime
) -> dict[str, Any]:
    """The bind parameters of `launch_writes` (besides ls_context_id and ls_user_id)."""
    return {
        "ls_platform_id": platform_id,
        "ls_sub": sub,
        "ls_name": name,
        "ls_email": email,
        "ls_sort_key": sort_key(name, sub),
        "ls_now": now,
    }


@functools.cache
def launch_writes(
    dialect: str, *, instructor: bool, context_id: Any = None, user_id: Any = None, only_with: Any = None
) -> list[Any]:
    """What a launch whose user row has a name (`launched_name`) writes here, in the launch's statement or beside
    it: the launch's context lists the person as the launch says (a learner: their row upserted with the launch's
    name and e-mail, the roster's e-mail and status, the launch time; a teacher: their row deleted), and their
    rows in the platform's other contexts take the new name and e-mail. Bind parameters: `launch_params`, and
    ls_context_id and ls_user_id unless `context_id` and `user_id` are given (the launch's CTEs on PostgreSQL).
    `only_with`: a CTE of the same statement; nothing is written unless it returns a row (the launch's nonce
    marker, new: provision.py). A launch without a name goes through `relist_person` (the roster's name then
    counts, sorted in Python)."""
    table: Any = ListedLearner.__table__
    context = context_id if context_id is not None else bindparam("ls_context_id")
    sub = bindparam("ls_sub", type_=table.c.sub.type)
    email = bindparam("ls_email", type_=table.c.email.type)
    now = bindparam("ls_now", type_=table.c.updated_at.type)

    def roster(column: Any, where_context: Any) -> Any:
        return (
            select(column)
            .where(RosterEntry.context_id == where_context, RosterEntry.sub == sub)
            .scalar_subquery()
        )

    guard = [] if only_with is None else [exists(only_with.select())]
    if instructor:
        here: Any = delete(table).where(table.c.context_id == context, table.c.sub == sub, *guard)
    else:
        values = {
            "context_id": context,
            "sub": sub,
            "user_id": user_id if user_id is not None else bindparam("ls_user_id"),
            "name": bindparam("ls_name", type_=table.c.name.type),
            "email": func.coalesce(email, roster(RosterEntry.email, context)),
            "roster_status": roster(RosterEntry.status, context),
            "sort_key": bindparam("ls_sort_key", type_=table.c.sort_key.type),
            "last_launch_at": now,
            "updated_at": now,
        }
        insert = dialect_insert(dialect)
        if only_with is None:
            ins = insert(table).values(values)
        else:
            ins = insert(table).from_select(list(values), select(*values.values()).select_from(only_with))
        here = ins.on_conflict_do_update(
            index_elements=[table.c.context_id, table.c.sub],
            set_={name: ins.excluded[name] for name in (*COLUMNS, "updated_at")},
        )
    platform_contexts = (
        select(Context.id)
        .join(Deployment, Deployment.id == Context.deployment_id)
        .where(Deployment.platform_id == bindparam("ls_platform_id"))
    )
    elsewhere = (
        update(table)
        .where(
            table.c.sub == sub,
            table.c.context_id != context,
            table.c.context_id.in_(platform_contexts),
            *guard,
        )
        .values(
            name=bindparam("ls_name", type_=table.c.name.type),
            sort_key=bindparam("ls_sort_key", type_=table.c.sort_key.type),
            email=func.coalesce(email, roster(RosterEntry.email, table.c.context_id)),
            updated_at=now,
        )
    )
    return [here, elsewhere]


@functools.cache
def _upsert(dialect: str, keep_launched: bool) -> Any:
    """INSERT … ON CONFLICT (context_id, sub) DO UPDATE of a row, built once per dialect (see `_write`)."""
    table: Any = ListedLearner.__table__
    ins = dialect_insert(dialect)(table)
    return ins.on_conflict_do_update(
        index_elements=[table.c.context_id, table.c.sub],
        set_={name: ins.excluded[name] for name in (*COLUMNS, "updated_at")},
        where=(ins.excluded.user_id.is_not(None) | table.c.user_id.is_(None)) if keep_launched else None,
    )


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def differences(
    s: Session, *, context_id: int | None = None
) -> list[tuple[Key, dict[str, Any], dict[str, Any]]]:
    """Rows that differ from what a relist gives now (key, stored, computed): empty when live = rebuild."""
    computed = _source(s, context_id=context_id, platform_id=None, sub=None)
    stored = {
        (row.context_id, row.sub): {name: getattr(row, name) for name in COLUMNS}
        for row in s.execute(
            select(
                ListedLearner.context_id, ListedLearner.sub, *(getattr(ListedLearner, c) for c in COLUMNS)
            ).where(*_selected(context_id, None, None))
        )
    }
    return [
        (key, stored.get(key, {}), computed.get(key, {}))
        for key in sorted(set(stored) | set(computed))
        if stored.get(key) != computed.get(key)
    ]

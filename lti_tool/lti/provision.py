"""After a valid launch: upsert user, context, resource link and membership, and open a tool session.

All of it is one transaction: on SQLite the caller's (one commit at the edge), on PostgreSQL one statement that
commits on its own, before anything the caller does after it. Upserts are INSERT … ON CONFLICT, so concurrent
launches of the same user (two tabs, a double click) do not fail on unique constraints.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, null, select, true
from sqlalchemy import cast as cast_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import BindParameter

from ..cache import DbLaunchStore, LaunchStore, add_params, add_statement
from ..course.model import Catalog
from ..cursorsql import CursorStatement
from ..db import WriteTransaction, dialect_insert
from ..errors import LaunchError
from ..gradebook.listed import launch_params, launch_writes, launched_name, relist_person
from ..grading import any_result
from ..i18n import lazy_gettext as _l
from ..models import (
    Context,
    LinkLaunch,
    Membership,
    ResourceLink,
    ToolSession,
    User,
    utcnow,
)
from ..models.base import UTCDateTime
from ..privacy.subjects import HOLD_GRADES, launch_subjects
from ..text import without_bidi_controls
from .claims import DEEP_LINKING_REQUEST, DL, LTI
from .launch import NonceMarker, nonce_replayed
from .roles import is_instructor
from .toolconf import ActiveDeployment, LaunchedRow, RegisteredPlatform, RegistrationCache

AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _text(value: Any, limit: int = 255) -> str | None:
    """A name, e-mail or title the platform sent: a string, without bidirectional overrides (lti_tool/text.py)."""
    value = without_bidi_controls(value) if isinstance(value, str) else None
    return value[:limit] if value else None


def pick_locale(claims: dict[str, Any], languages: list[str]) -> str:
    presentation = claims.get(LTI + "launch_presentation")
    raw = presentation.get("locale") if isinstance(presentation, dict) else None
    if isinstance(raw, str) and raw:
        lang = raw.replace("_", "-").split("-")[0].lower()
        if lang in languages:
            return lang
    return languages[0]


@dataclass(frozen=True)
class LaunchTarget:
    course_id: str
    module_id: str | None


def choose_course(claims: dict[str, Any], catalog: Catalog, default_course: str) -> LaunchTarget:
    """The resource link's custom parameters choose the course (`course=`) and optionally a module (`module=`)."""
    custom = claims.get(LTI + "custom")
    custom = custom if isinstance(custom, dict) else {}
    course_id = custom.get("course") or default_course
    module_id = custom.get("module") or None
    course = catalog.get(course_id) if isinstance(course_id, str) else None
    if course is None:
        raise LaunchError(
            _l(
                "The activity asks for a course (%(course)s) this tool does not offer.",
                course=str(course_id)[:100],
            ),
            hint=_l(
                "The teacher or LMS administrator should check the custom parameter course=… of this activity."
            ),
            code="unknown_course",
            status=404,
        )
    if module_id is not None and (not isinstance(module_id, str) or course.module(module_id) is None):
        raise LaunchError(
            _l(
                "The activity asks for a module (%(module)s) the course does not have.",
                module=str(module_id)[:100],
            ),
            hint=_l(
                "The teacher or LMS administrator should check the custom parameter module=… of this activity."
            ),
            code="unknown_module",
            status=404,
        )
    return LaunchTarget(course.id, module_id)


MODULE_GRADE_ITEMS = "module_grade_items"
_YES = frozenset({"1", "true", "yes", "on", "ja"})


def wants_module_grade_items(claims: dict[str, Any]) -> bool:
    """The link's custom parameter `module_grade_items=true`: the teacher wants one grade item per module in
    the LMS besides the activity's own (README, "Grade items in Moodle")."""
    custom = claims.get(LTI + "custom")
    value = custom.get(MODULE_GRADE_ITEMS) if isinstance(custom, dict) else None
    return isinstance(value, str) and value.strip().lower() in _YES


@dataclass(frozen=True)
class ProvisionedLaunch:
    session_token: str
    user_id: int
    context_id: int
    resource_link_id: int | None
    is_instructor: bool
    message_type: str
    new_learner: bool  # this launch made the person's row: nothing of theirs exists yet (no results)
    # A learner (not a teacher) launching a resource link who has a module result in its course
    # (grading.any_result): only then may the link's grade item lack something (grading.reconcile).
    has_results: bool = False


@dataclass(frozen=True)
class _Row:
    """One row a launch writes: its table, the columns it is found by (`keys`: INSERT … ON CONFLICT on them;
    none for a plain INSERT), the columns a launch sets (`values`) and those written only when the row is new
    (`inserted`), each a bind parameter named `<prefix>_<column>`."""

    table: Table
    prefix: str
    keys: tuple[str, ...]
    values: tuple[str, ...]
    inserted: tuple[str, ...] = ()
    returning: tuple[str, ...] = ()


# The columns a launch takes from an earlier row of the same launch: (row prefix, column) -> (row prefix, its column)
_FROM_EARLIER = {
    ("l", "context_id"): ("c", "id"),
    ("ll", "resource_link_id"): ("l", "id"),
    ("ll", "user_id"): ("u", "id"),
    ("m", "user_id"): ("u", "id"),
    ("m", "context_id"): ("c", "id"),
    ("s", "user_id"): ("u", "id"),
    ("s", "context_id"): ("c", "id"),
    ("s", "resource_link_id"): ("l", "id"),
}
_USER = _Row(
    cast(Table, User.__table__),
    "u",
    ("platform_id", "sub"),
    ("name", "given_name", "family_name", "email", "last_launch_at", "grades_held"),
    ("created_at",),
    ("id", "created_at"),
)
_LINK = _Row(
    cast(Table, ResourceLink.__table__),
    "l",
    ("deployment_id", "resource_link_id"),
    (
        "context_id",
        "title",
        "course_id",
        "module_id",
        "lineitem_url",
        "module_grade_items",
        "updated_at",
    ),
    ("created_at",),
    ("id",),
)
_LINK_LAUNCH = _Row(
    cast(Table, LinkLaunch.__table__),
    "ll",
    ("resource_link_id", "user_id"),
    ("last_launch_at",),
    ("first_launch_at",),
)
_MEMBERSHIP = _Row(
    cast(Table, Membership.__table__),
    "m",
    ("user_id", "context_id"),
    ("roles", "is_instructor", "last_launch_at"),
    ("created_at",),
)
_SESSION = _Row(
    cast(Table, ToolSession.__table__),
    "s",
    (),
    (
        "token_hash",
        "user_id",
        "context_id",
        "resource_link_id",
        "deployment_id",
        "message_type",
        "is_instructor",
        "course_id",
        "module_id",
        "locale",
        "claims",
        "created_at",
        "last_seen_at",
        "expires_at",
    ),
)
_CONTEXT_OPTIONAL = ("nrps_url", "lineitems_url", "ags_scopes")
# The type of every time the launch writes (one object: CursorStatement processes a value bound to it once).
_LAUNCH_TIME = UTCDateTime()


def _context_row(optional: tuple[str, ...]) -> _Row:
    return _Row(
        cast(Table, Context.__table__),
        "c",
        ("deployment_id", "context_id"),
        ("title", "label", "updated_at", *optional),
        ("created_at",),
        ("id",),
    )


def _write(dialect: str, row: _Row, earlier: dict[str, Any] | None = None) -> Any:
    """The INSERT (… ON CONFLICT (keys) DO UPDATE) of one row. `earlier`: the statements (CTEs) of this launch's
    earlier rows, by prefix, whose values the row takes instead of a bind parameter; when it holds the nonce's
    marker ("n"), the row is written only if the marker was new (INSERT … SELECT … FROM the marker's CTE, which
    returns a row only then): a replayed launch writes nothing, and the statement commits on its own."""
    table = row.table
    insert = dialect_insert(dialect)
    columns: dict[str, Any] = {}
    for name in (*row.keys, *row.values, *row.inserted):
        source = _FROM_EARLIER.get((row.prefix, name))
        if earlier is not None and source is not None:
            # No earlier row of that kind (a deep-linking launch has no resource link): NULL.
            found = earlier.get(source[0])
            if found is None:
                columns[name] = cast_(null(), table.c[name].type)
            elif isinstance(found, BindParameter):  # a row the launch leaves alone: its id, bound
                columns[name] = found
            else:
                columns[name] = select(found.c[source[1]]).scalar_subquery()
        elif row is _USER and name == "grades_held":
            columns[name] = HOLD_GRADES
        else:
            column_type = table.c[name].type
            if isinstance(column_type, UTCDateTime):  # one type object: the launch's time processed once
                column_type = _LAUNCH_TIME
            columns[name] = bindparam(f"{row.prefix}_{name}", type_=column_type)
    marker = earlier.get("n") if earlier is not None else None
    if marker is None:
        ins = insert(table).values(columns)
    else:
        ins = insert(table).from_select(list(columns), select(*columns.values()).select_from(marker))
    stmt: Any = ins
    if row.keys:
        update: dict[str, Any] = {name: ins.excluded[name] for name in row.values}
        if row is _USER:  # a person whose grades are held stays held
            update["grades_held"] = table.c.grades_held | ins.excluded.grades_held
        stmt = ins.on_conflict_do_update(index_elements=list(row.keys), set_=update)
    return stmt.returning(*(table.c[name] for name in row.returning)) if row.returning else stmt


def _rows(context_optional: tuple[str, ...], with_link: bool) -> list[_Row]:
    link = [_LINK, _LINK_LAUNCH] if with_link else []
    return [_USER, _context_row(context_optional), *link, _MEMBERSHIP, _SESSION]


@functools.cache
def _one_by_one(context_optional: tuple[str, ...], with_link: bool) -> list[CursorStatement]:
    """SQLite: the launch's writes as one statement per row, each built once and run on the DBAPI cursor
    (lti_tool/cursorsql.py: SQLAlchemy's execution costs ~10 times SQLite's own for these small upserts)."""
    return [CursorStatement(_write("sqlite", row)) for row in _rows(context_optional, with_link)]


@functools.cache
def _listed_one_by_one(instructor: bool) -> list[CursorStatement]:
    """SQLite: the gradebooks' rows of a launch that names its person (gradebook/listed.py `launch_writes`)."""
    return [CursorStatement(stmt) for stmt in launch_writes("sqlite", instructor=instructor)]


@functools.cache
def _all_at_once(
    context_optional: tuple[str, ...],
    with_link: bool,
    with_nonce: bool,
    listed: bool | None,
    context_known: bool = False,
    link_known: bool = False,
) -> CursorStatement:
    """PostgreSQL: the launch's writes as one statement (data-modifying CTEs, each row taking the ids of the
    earlier ones from their RETURNING), built once: one round trip instead of seven, which is most of the launch
    POST's CPU on PostgreSQL (bench/FINDINGS.md). `with_nonce`: the nonce's marker goes into the launch store's
    table in the same statement, and every other row is written only if the marker was new (`_write`): a replay
    writes nothing and the statement answers no row, so that it can run outside a transaction, committed on its
    own (`provision`). `listed`: the gradebooks' rows (gradebook/listed.py `launch_writes`) of a learner (False)
    or a teacher (True); None: written apart (a launch without a name). Answers (user id, created_at, context id,
    link id or NULL, whether the person has a module result in the course: grading.any_result). Run on psycopg's
    cursor (lti_tool/cursorsql.py): the statement is ~6,000 characters with ~60 values, which psycopg and
    SQLAlchemy otherwise rewrite on every run.

    `context_known`, `link_known`: the context's (and the resource link's) row is left alone, as this process saw
    it hold what the launch would write (`_unchanged`); its id is bound (c_id, l_id). Every launch of a course
    would otherwise write a new version of the same two rows (PostgreSQL's MVCC: a dead version per launch, which
    later reads of the row step over until the page is pruned), each locked until the launch commits, so that
    the launches of one course took turns."""
    earlier: dict[str, Any] = {}
    if with_nonce:
        earlier["n"] = add_statement("postgresql").cte("launch_n")
    for row in _rows(context_optional, with_link):
        if (row.prefix == "c" and context_known) or (row.prefix == "l" and link_known):
            earlier[row.prefix] = bindparam(f"{row.prefix}_id", type_=row.table.c.id.type)
        else:
            earlier[row.prefix] = _write("postgresql", row, earlier).cte(f"launch_{row.prefix}")
    u, c, link = earlier["u"], earlier["c"], earlier.get("l")

    def row_id(written: Any) -> Any:
        return written if isinstance(written, BindParameter) else written.c.id

    link_id = row_id(link) if link is not None else null()
    # Module progress is not written by the launch: the statement's snapshot holds the learner's results.
    results = any_result(u.c.id, row_id(c), bindparam("r_course_id")).label("results")
    query = select(u.c.id, u.c.created_at, row_id(c).label("context_id"), link_id.label("link_id"), results)
    query = query.select_from(u)
    for written in (c, link):
        if written is not None and not isinstance(written, BindParameter):
            query = query.join(written, true())
    gradebook = []
    if listed is not None:
        writes = launch_writes(
            "postgresql",
            instructor=listed,
            context_id=c if isinstance(c, BindParameter) else select(c.c.id).scalar_subquery(),
            user_id=select(u.c.id).scalar_subquery(),
            only_with=earlier.get("n"),
        )
        gradebook = [stmt.cte(f"launch_listed_{n}") for n, stmt in enumerate(writes)]
    return CursorStatement(query.add_cte(*(earlier[p] for p in ("ll", "m", "s") if p in earlier), *gradebook))


# What a launch writes into the context's and the resource link's rows (besides their keys and times).
_CONTEXT_SEEN = ("title", "label")
_LINK_SEEN = ("title", "course_id", "module_id", "lineitem_url", "module_grade_items")


def _seen(params: Mapping[str, Any], prefix: str, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The values of `names` the launch writes, hashable (the AGS scopes are a list)."""
    return tuple(
        tuple(value) if isinstance(value := params[f"{prefix}_{name}"], list) else value for name in names
    )


def _keys(deployment_id: int, params: Mapping[str, Any]) -> tuple[tuple[str, int, str], tuple[str, int, str]]:
    return ("c", deployment_id, params["c_context_id"]), (
        "l",
        deployment_id,
        params.get("l_resource_link_id", ""),
    )


def _unchanged(
    rows_seen: RegistrationCache | None,
    deployment_id: int,
    params: dict[str, Any],
    context_optional: tuple[str, ...],
    with_link: bool,
) -> tuple[bool, bool]:
    """Whether the context's row and the link's hold what this launch would write, as far as this process saw (a
    launch from here wrote them or found them so); the ids of those that do go into `params` (c_id, l_id)."""
    if rows_seen is None:
        return False, False
    context_key, link_key = _keys(deployment_id, params)
    context = rows_seen.launched_row(context_key)
    if context is None:
        return False, False
    context_same = context.values == _seen(params, "c", (*_CONTEXT_SEEN, *context_optional))
    if context_same:
        params["c_id"] = context.id
    link = rows_seen.launched_row(link_key) if with_link else None
    link_same = link is not None and link.values == (context.id, *_seen(params, "l", _LINK_SEEN))
    if link is not None and link_same:
        params["l_id"] = link.id
    return context_same, link_same


def _keep(
    rows_seen: RegistrationCache,
    deployment_id: int,
    params: Mapping[str, Any],
    context_optional: tuple[str, ...],
    context_id: int,
    link_id: int | None,
) -> None:
    """After the launch's statement: its context and link rows hold what it wrote (or left as they were)."""
    context_key, link_key = _keys(deployment_id, params)
    rows_seen.keep_launched_row(
        context_key, LaunchedRow(context_id, _seen(params, "c", (*_CONTEXT_SEEN, *context_optional)))
    )
    if link_id is not None:
        rows_seen.keep_launched_row(
            link_key, LaunchedRow(link_id, (context_id, *_seen(params, "l", _LINK_SEEN)))
        )


def nonce_with_rows(store: LaunchStore) -> bool:
    """Whether the launch's nonce marker is written by `provision` with the launch's rows (in their statement on
    PostgreSQL, as the first statement on SQLite): the table store. Redis takes it apart, before
    (`ToolMessageLaunch.consume_nonce`)."""
    return isinstance(store, DbLaunchStore)


@functools.cache
def _results_one_by_one() -> CursorStatement:
    """SQLite: whether a returning learner has a module result in the course (grading.any_result)."""
    return CursorStatement(
        select(any_result(bindparam("r_user_id"), bindparam("r_context_id"), bindparam("r_course_id")))
    )


@functools.cache
def _nonce_one_by_one() -> CursorStatement:
    """SQLite: the nonce's marker into the launch store's table (the store's own `add`), on the DBAPI cursor."""
    return CursorStatement(add_statement("sqlite"))


def provision(
    tx: WriteTransaction,
    *,
    platform: RegisteredPlatform,
    deployment: ActiveDeployment,
    claims: dict[str, Any],
    target: LaunchTarget,
    languages: list[str],
    session_lifetime: int,
    config: Mapping[str, Any],
    nonce: NonceMarker | None = None,
    rows_seen: RegistrationCache | None = None,
) -> ProvisionedLaunch:
    """Write the launch's rows with `tx`, on its connection: on SQLite in its transaction, on PostgreSQL as one
    statement committed on its own (`_all_at_once`; a launch without a name is then relisted in `tx`'s transaction
    after it, with an ORM Session: `relist_person`). `nonce`: the launch's nonce marker for the table store,
    written with them (see `nonce_with_rows`); a marker that was there already is refused (`nonce_replayed`):
    on PostgreSQL nothing was written, on SQLite the caller rolls back. `rows_seen`: this process's cache of the
    context and resource link rows launches wrote (PostgreSQL: left alone when unchanged, see `_all_at_once`)."""
    now = utcnow()
    message_type = claims[LTI + "message_type"]
    with_link = message_type != DEEP_LINKING_REQUEST
    params: dict[str, Any] = {
        "u_platform_id": platform.id,
        "u_sub": claims["sub"],
        # Only what the platform sends now: if it stops sending names, the tool forgets them.
        "u_name": _text(claims.get("name")),
        "u_given_name": _text(claims.get("given_name")),
        "u_family_name": _text(claims.get("family_name")),
        "u_email": _text(claims.get("email")),
        "u_last_launch_at": now,
        "u_created_at": now,
        "subjects": launch_subjects(config, platform, claims["sub"]),
    }
    ctx = claims[LTI + "context"]
    ags: dict[str, Any] = claims.get(AGS) or {}
    nrps: dict[str, Any] = claims.get(NRPS) or {}
    ags = ags if isinstance(ags, dict) else {}
    nrps = nrps if isinstance(nrps, dict) else {}
    context_values: dict[str, Any] = {
        "deployment_id": deployment.id,
        "context_id": ctx["id"][:255],
        "title": _text(ctx.get("title")) or "",
        "label": _text(ctx.get("label")) or "",
        "updated_at": now,
        "created_at": now,
    }
    if isinstance(nrps.get("context_memberships_url"), str):
        context_values["nrps_url"] = nrps["context_memberships_url"][:1024]
    if isinstance(ags.get("lineitems"), str):
        context_values["lineitems_url"] = ags["lineitems"][:1024]
    if isinstance(ags.get("scope"), list):
        context_values["ags_scopes"] = [x for x in ags["scope"] if isinstance(x, str)]
    params.update({f"c_{name}": value for name, value in context_values.items()})
    context_optional = tuple(name for name in _CONTEXT_OPTIONAL if name in context_values)

    if with_link:
        link = claims[LTI + "resource_link"]
        params.update(
            {
                "l_deployment_id": deployment.id,
                "l_resource_link_id": link["id"][:255],
                "l_title": _text(link.get("title")) or "",
                "l_course_id": target.course_id,
                "l_module_id": target.module_id,
                # The activity's own grade item; Moodle sends it only when the activity accepts grades.
                "l_lineitem_url": ags["lineitem"][:1024] if isinstance(ags.get("lineitem"), str) else None,
                "l_module_grade_items": wants_module_grade_items(claims),
                "l_updated_at": now,
                "l_created_at": now,
                # Remembered for grading: a course result goes to the links its learner launched.
                "ll_last_launch_at": now,
                "ll_first_launch_at": now,
            }
        )

    roles = [r for r in claims.get(LTI + "roles", []) if isinstance(r, str)]
    instructor = is_instructor(roles)
    params.update(
        {"m_roles": roles, "m_is_instructor": instructor, "m_last_launch_at": now, "m_created_at": now}
    )
    token = secrets.token_urlsafe(32)
    kept: dict[str, Any] = {}
    for name in ("launch_presentation", "custom"):
        if isinstance(claims.get(LTI + name), dict):
            kept[name] = claims[LTI + name]
    if message_type == DEEP_LINKING_REQUEST:
        kept["deep_linking_settings"] = claims[DL + "deep_linking_settings"]
    params.update(
        {
            "s_token_hash": token_hash(token),
            "s_deployment_id": deployment.id,
            "s_message_type": message_type,
            "s_is_instructor": instructor,
            "s_course_id": target.course_id,
            "s_module_id": target.module_id,
            "s_locale": pick_locale(claims, languages),
            "s_claims": kept,
            "s_created_at": now,
            "s_last_seen_at": now,
            "s_expires_at": now + dt.timedelta(seconds=session_lifetime),
        }
    )

    # The gradebooks' rows of this person: with the launch's writes when the launch names the person (the order
    # by name is then known here), else from the roster's name too (`relist_person`, after the writes).
    person = launched_name(params["u_name"], params["u_given_name"], params["u_family_name"])
    if person is not None:
        params.update(
            launch_params(
                platform_id=platform.id, sub=claims["sub"], name=person, email=params["u_email"], now=now
            )
        )

    conn = tx.conn
    link_id: int | None = None
    if nonce is not None:
        params.update(add_params(nonce.key, 1, nonce.ttl))
    params["r_course_id"] = target.course_id
    asks_results = with_link and not instructor  # a learner's launch of a link (grading.reconcile)
    if conn.dialect.name == "postgresql":
        listed = instructor if person is not None else None
        known = _unchanged(rows_seen, deployment.id, params, context_optional, with_link)
        all_at_once = _all_at_once(context_optional, with_link, nonce is not None, listed, *known)
        # Committed on its own (`WriteTransaction.on_its_own`): what follows (a reconcile, a relisting) is a
        # transaction of its own; a replayed launch's statement wrote nothing and answers no row.
        try:
            rows = tx.on_its_own(all_at_once, params)
        except IntegrityError:
            if not (any(known) and tx.alone and rows_seen is not None):
                raise
            # A kept row is gone (its deployment removed, or the database replaced, within the cache's time):
            # the failed statement wrote nothing; forget what this process kept and write the rows.
            rows_seen.clear()
            rows = tx.on_its_own(_all_at_once(context_optional, with_link, nonce is not None, listed), params)
        if not rows:
            raise nonce_replayed()
        ((user_id, created_at, context_id, link_id, results),) = rows
        if rows_seen is not None and tx.alone:  # committed: the rows are there for the next launch
            _keep(rows_seen, deployment.id, params, context_optional, context_id, link_id)
    else:
        done: dict[tuple[int, int], Any] = {}  # values processed for SQLite (the launch's time: once)
        if nonce is not None and not _nonce_one_by_one().execute(conn, params, done):
            raise nonce_replayed()
        user, context, *rest = _one_by_one(context_optional, with_link)
        ((user_id, created_at),) = user.execute(conn, params, done)
        params.update(ll_user_id=user_id, m_user_id=user_id, s_user_id=user_id)
        ((context_id,),) = context.execute(conn, params, done)
        params.update(l_context_id=context_id, m_context_id=context_id, s_context_id=context_id)
        if with_link:
            link_stmt, link_launch, *rest = rest
            ((link_id,),) = link_stmt.execute(conn, params, done)
            params.update(ll_resource_link_id=link_id)
            link_launch.execute(conn, params, done)
        params["s_resource_link_id"] = link_id
        for stmt in rest:
            stmt.execute(conn, params, done)
        if person is not None:
            params.update(ls_context_id=context_id, ls_user_id=user_id)
            for stmt in _listed_one_by_one(instructor):
                stmt.execute(conn, params, done)
        results = False
        if asks_results and created_at != now:  # a new learner has none: not asked
            params.update(r_user_id=user_id, r_context_id=context_id)
            ((results,),) = _results_one_by_one().execute(conn, params)
    if person is None:
        relist_person(
            tx.session(), platform_id=platform.id, sub=claims["sub"], launched_in=context_id, now=now
        )
    return ProvisionedLaunch(
        token,
        user_id,
        context_id,
        link_id,
        instructor,
        message_type,
        new_learner=created_at == now,
        has_results=asks_results and bool(results),
    )

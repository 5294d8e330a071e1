"""The course roster from the platform (LTI Names and Role Provisioning Services 2.0).

A refresh takes three steps, so that no database transaction stays open while the platform answers and the
service never commits the caller's session (the edge, a view or CLI command, commits between them):
`roster_source(s, context)` reads where the roster comes from; `fetch_roster(source)` fetches every page of
the context's membership container (the URL the launch's NRPS claim carried) and checks it, without the database;
`store_roster_refresh(s, source, fetched)` then replaces the context's `roster_entry` rows in the caller's write
transaction: members upserted, members no longer listed deleted, `Context.roster_fetched_at` set. Any failure
raises `RosterError` before anything is written.

Limits (settings): NRPS_PAGE_SIZE (asked for with `limit=`; the platform may page differently),
NRPS_MAX_PAGES and NRPS_MAX_MEMBERS (a platform whose `rel="next"` never ends is refused, not followed for
ever), NRPS_TIME_LIMIT_SECONDS for the whole fetch. The bearer token is sent only to the origin of the
membership URL: a `next` link elsewhere is refused.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from flask import Flask, current_app
from flask_babel import LazyString
from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from ..db import advisory_lock, insert_for
from ..errors import ToolError
from ..grading.singleflight import Busy
from ..grading.tokens import AccessTokens, PlatformInfo, TokenError
from ..http import OutboundRefused, platform_json, shared_session, short_reason
from ..i18n import lazy_gettext as _l
from ..lti.roles import is_learner
from ..models import Context, Deployment, Platform, RosterEntry, utcnow
from ..privacy.subjects import erased_subs
from ..text import without_bidi_controls
from ..urls import http_url, origin_of
from .listed import relist_context

if TYPE_CHECKING:
    from ..auth import ContextRecord

log = logging.getLogger(__name__)

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
CONTAINER_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
STATUSES = frozenset({"Active", "Inactive", "Deleted"})
UPSERT_CHUNK = 1000  # rows per executemany of the upsert (bounds the driver's buffers)
TEXT_LIMIT = 255


class RosterError(ToolError):
    """The roster could not be refreshed; nothing was written. `message` is for people, `code` for machines,
    `detail` (never shown) for the log."""

    status = 502
    code = "roster_failed"
    title = _l("The course member list could not be loaded")


def _error(
    code: str,
    message: LazyString,
    detail: str,
    *,
    hint: LazyString | None = None,
    status: int = 502,
) -> RosterError:
    return RosterError(message, hint=hint, detail=detail, status=status, code=code)


ASK_ADMIN = _l(
    "If this keeps happening, ask the administrator of your learning platform to check this tool's "
    "services. The tool operator finds the technical reason in the log."
)


@dataclass(frozen=True, slots=True)
class Member:
    sub: str
    name: str | None
    email: str | None
    roles: list[str]
    status: str
    is_learner: bool


@dataclass(frozen=True, slots=True)
class RosterRefresh:
    members: int  # distinct members listed (any status)
    learners: int  # of those, with a learner role and no staff role
    pages: int
    removed: int  # entries deleted because the platform no longer lists them
    fetched_at: dt.datetime
    erased: int = 0  # listed, but not stored: erased at their request (lti_tool/privacy/erasure.py)


@dataclass(frozen=True, slots=True)
class Limits:
    page_size: int
    max_pages: int
    max_members: int
    time_limit: float
    page_bytes: int

    @classmethod
    def of(cls, app: Flask) -> Limits:
        cfg = app.config
        return cls(
            int(cfg["NRPS_PAGE_SIZE"]),
            int(cfg["NRPS_MAX_PAGES"]),
            int(cfg["NRPS_MAX_MEMBERS"]),
            float(cfg["NRPS_TIME_LIMIT_SECONDS"]),
            int(cfg["NRPS_MAX_PAGE_BYTES"]),
        )


def access_tokens(app: Flask) -> AccessTokens:
    """One token client per app, so its in-process copy of the token serves every refresh."""
    tokens = app.extensions.get("nama_nrps_tokens")
    if tokens is None:
        tokens = app.extensions.setdefault("nama_nrps_tokens", AccessTokens(app))
    assert isinstance(tokens, AccessTokens)
    return tokens


@dataclass(frozen=True, slots=True)
class RosterSource:
    """Where a context's roster comes from, read before the platform is asked."""

    context_pk: int
    lti_context_id: str
    nrps_url: str
    platform: Platform
    info: PlatformInfo


@dataclass(frozen=True, slots=True)
class FetchedRoster:
    members: list[Member]
    pages: int


def roster_source(s: Session, context: Context | ContextRecord) -> RosterSource:
    """The context's membership URL and platform; RosterError when the platform shares no roster."""
    if not context.nrps_url:
        raise _error(
            "roster_no_service",
            _l("Your learning platform has not shared the course member list with this tool."),
            f"context {context.id} has no NRPS membership URL",
            hint=_l(
                "Ask the administrator of your learning platform to enable the Names and Role "
                "Provisioning service for this tool (in Moodle: the service “IMS LTI Names and Role "
                "Provisioning” in the tool's settings), then open the tool again from the course."
            ),
            status=409,
        )
    platform = s.execute(
        select(Platform)
        .join(Deployment, Deployment.platform_id == Platform.id)
        .where(Deployment.id == context.deployment_id)
    ).scalar_one()
    return RosterSource(context.id, context.context_id, context.nrps_url, platform, PlatformInfo.of(platform))


def fetch_roster(source: RosterSource, app: Flask | None = None) -> FetchedRoster:
    """Every member the platform lists (no database: call it outside any transaction)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    fetch = RosterFetch(app, source.info, Limits.of(app))
    members = fetch.all_members(source.nrps_url, source.lti_context_id)
    return FetchedRoster(members, fetch.pages)


def store_roster_refresh(s: Session, source: RosterSource, fetched: FetchedRoster) -> RosterRefresh:
    """Replace the context's roster with the fetched one in `s` (the caller commits)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    now = utcnow()
    advisory_lock(s, f"roster:{source.context_pk}")  # one refresh of a context at a time
    # People erased at their request stay erased: their names and e-mail addresses are not stored again.
    erased = erased_subs(s, app.config, source.platform, [m.sub for m in fetched.members])
    members = [m for m in fetched.members if m.sub not in erased]
    removed = store_roster(s, source.context_pk, members, now)
    s.execute(update(Context).where(Context.id == source.context_pk).values(roster_fetched_at=now))
    learners = sum(1 for m in members if m.is_learner)
    log.info(
        "roster of context %s: %d members (%d learners), %d removed, %d not stored (erased), %d page(s)",
        source.context_pk,
        len(members),
        learners,
        removed,
        len(erased),
        fetched.pages,
    )
    return RosterRefresh(len(members), learners, fetched.pages, removed, now, len(erased))


def store_roster(s: Session, context_pk: int, members: list[Member], now: dt.datetime) -> int:
    """Upsert `members` (set-based) and delete the context's entries not among them; returns how many went."""
    table = cast(Table, RosterEntry.__table__)
    ins = insert_for(s)(table)
    upsert = ins.on_conflict_do_update(
        index_elements=[table.c.context_id, table.c.sub],
        set_={
            name: ins.excluded[name]
            for name in ("name", "email", "roles", "is_learner", "status", "fetched_at")
        },
    )
    conn = s.connection()
    rows = [
        {
            "context_id": context_pk,
            "sub": m.sub,
            "name": m.name,
            "email": m.email,
            "roles": m.roles,
            "is_learner": m.is_learner,
            "status": m.status,
            "fetched_at": now,
        }
        for m in members
    ]
    # One statement, compiled once, executed for all rows: on SQLite 5,000 rows take ~80 ms this way and
    # ~1 s as multi-row VALUES statements (compiling thousands of bind parameters per chunk).
    for start in range(0, len(rows), UPSERT_CHUNK):
        conn.execute(upsert, rows[start : start + UPSERT_CHUNK])
    # Everything listed now carries this refresh's time; what does not was not listed.
    result = conn.execute(delete(table).where(table.c.context_id == context_pk, table.c.fetched_at != now))
    relist_context(s, context_pk, now=now)  # who the context's gradebook lists, and their names
    return int(result.rowcount or 0)


class RosterFetch:
    """Walks the membership container's pages; every problem becomes a RosterError."""

    def __init__(self, app: Flask, platform: PlatformInfo, limits: Limits) -> None:
        self.http = shared_session(app)
        self.tokens = access_tokens(app)
        self.platform = platform
        self.limits = limits
        self.pages = 0

    def all_members(self, url: str, context_id: str) -> list[Member]:
        by_sub: dict[str, Member] = {}
        for body in self.pages_of(url):
            container_context = body.get("context")
            got = container_context.get("id") if isinstance(container_context, dict) else None
            if got != context_id:
                raise _error(
                    "roster_wrong_context",
                    _l("The learning platform sent the member list of a different course."),
                    f"membership container for context {got!r}, expected {context_id!r}",
                    hint=ASK_ADMIN,
                )
            for raw in body["members"]:
                member = parse_member(raw)
                by_sub[member.sub] = member  # a member listed twice (roster changed while paging): last wins
            if len(by_sub) > self.limits.max_members:
                raise self._too_large(f"more than NRPS_MAX_MEMBERS={self.limits.max_members} members")
        return list(by_sub.values())

    def pages_of(self, url: str) -> Iterator[dict[str, Any]]:
        if http_url(url) is None:
            raise self._invalid(f"membership URL is not a web address: {url[:200]!r}")
        first = with_page_size(url, self.limits.page_size)
        origin = origin_of(first)
        deadline = time.monotonic() + self.limits.time_limit
        seen: set[str] = set()
        next_url: str | None = first
        while next_url is not None:
            if self.pages >= self.limits.max_pages:
                raise self._too_large(f"more than NRPS_MAX_PAGES={self.limits.max_pages} pages")
            if origin is None or origin_of(next_url) != origin:
                raise self._invalid(f"next page on another origin: {next_url[:200]}")
            if next_url in seen:
                raise self._invalid(f"next page points back to a page already fetched: {next_url[:200]}")
            seen.add(next_url)
            response = self._get(next_url, deadline)
            self.pages += 1
            yield self._container(response)
            next_url = response.links.get("next", {}).get("url")

    def _get(self, url: str, deadline: float) -> requests.Response:
        try:
            token = self.tokens.get(self.platform, [NRPS_SCOPE], self.http)
            response = self._request(url, token, deadline)
            if response.status_code == 401:
                log.info(
                    "platform %s answered 401 to NRPS: fetching a fresh access token once", self.platform.id
                )
                self.tokens.drop(self.platform, [NRPS_SCOPE], token)
                token = self.tokens.get(self.platform, [NRPS_SCOPE], self.http)
                response = self._request(url, token, deadline)
        except (TokenError, Busy) as exc:
            if isinstance(exc, Busy) or exc.temporary:  # down, busy or resting: not a refusal of this tool
                raise self._unreachable(f"no access token for NRPS: {exc}") from exc
            raise _error(
                "roster_no_token",
                _l("The learning platform did not allow this tool to read the course member list."),
                f"no access token for NRPS: {exc}",
                hint=ASK_ADMIN,
            ) from exc
        except requests.Timeout as exc:
            raise self._unreachable(f"NRPS timed out ({type(exc).__name__})") from exc
        except OutboundRefused as exc:
            raise self._invalid(f"NRPS request refused by the tool: {exc}") from exc
        except requests.RequestException as exc:
            raise self._unreachable(f"NRPS request failed ({type(exc).__name__})") from exc
        if response.status_code != 200:
            detail = f"NRPS answered {short_reason(response)}"
            if response.status_code >= 500 or response.status_code in (408, 429):
                raise self._unreachable(detail)
            raise _error(
                "roster_refused",
                _l(
                    "The learning platform refused to send the course member list (HTTP %(status)s).",
                    status=response.status_code,
                ),
                detail,
                hint=ASK_ADMIN,
            )
        return response

    def _request(self, url: str, token: str, deadline: float) -> requests.Response:
        if deadline - time.monotonic() <= 0:
            raise requests.Timeout(f"NRPS_TIME_LIMIT_SECONDS={self.limits.time_limit} used up")
        return self.http.get(
            url,
            headers={"Accept": CONTAINER_TYPE, "Authorization": f"Bearer {token}"},
            allowed=self.platform.allowed,
            deadline=deadline,
            max_bytes=self.limits.page_bytes,
        )

    def _container(self, response: requests.Response) -> dict[str, Any]:
        try:
            body = platform_json(response)
        except ValueError as exc:
            raise self._invalid(f"NRPS page is not JSON: {response.text[:200]!r}") from exc
        if not isinstance(body, dict) or not isinstance(body.get("members"), list):
            raise self._invalid(f"NRPS page has no members list: {response.text[:200]!r}")
        return body

    def _too_large(self, detail: str) -> RosterError:
        return _error(
            "roster_too_large",
            _l("The course member list is longer than this tool accepts."),
            detail,
            hint=_l("The tool operator can raise the limits NRPS_MAX_PAGES and NRPS_MAX_MEMBERS."),
        )

    @staticmethod
    def _invalid(detail: str) -> RosterError:
        return _error(
            "roster_invalid",
            _l("The learning platform sent a course member list this tool cannot read."),
            detail,
            hint=ASK_ADMIN,
        )

    @staticmethod
    def _unreachable(detail: str) -> RosterError:
        return _error(
            "roster_unreachable",
            _l("The learning platform did not send the course member list."),
            detail,
            hint=_l("Please try again in a few minutes."),
        )


def parse_member(raw: Any) -> Member:
    """One entry of `members`, or RosterError (invalid) naming what is wrong with it."""
    if not isinstance(raw, dict):
        raise RosterFetch._invalid(f"member is not an object: {str(raw)[:100]}")
    user_id = raw.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)  # the spec says string; some platforms send their numeric id
    if not isinstance(user_id, str) or not user_id or len(user_id) > TEXT_LIMIT:
        raise RosterFetch._invalid(f"member without a usable user_id: {str(raw)[:100]}")
    roles = raw.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise RosterFetch._invalid(f"member {user_id!r}: roles is not a list of strings")
    status = raw.get("status", "Active")
    if status not in STATUSES:
        raise RosterFetch._invalid(f"member {user_id!r}: unknown status {str(status)[:40]!r}")
    name = _optional_text(raw, "name", user_id)
    if name is None:
        parts = [_optional_text(raw, key, user_id) for key in ("given_name", "family_name")]
        name = " ".join(p for p in parts if p) or None
    return Member(
        sub=user_id,
        name=name,
        email=_optional_text(raw, "email", user_id),
        roles=roles,
        status=status,
        is_learner=is_learner(roles),
    )


def _optional_text(raw: dict[str, Any], key: str, user_id: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RosterFetch._invalid(f"member {user_id!r}: {key} is not a string")
    return without_bidi_controls(value)[:TEXT_LIMIT] or None  # lti_tool/text.py


def with_page_size(url: str, page_size: int) -> str:
    """Ask for `limit=page_size` unless the URL already says (0: leave paging to the platform)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if page_size <= 0 or any(k == "limit" for k, _ in query):
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, ("limit", str(page_size))])))

"""The course roster over NRPS: against the demo LMS over HTTP (Moodle's paging, tokens, faults), and against a
broken platform served here for what a sane platform never sends (garbage, endless paging, another origin).

Every failure must leave the stored roster exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, Response, request
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.demo_lms.demo_data import SERVICE_SCOPES
from lti_tool.demo_lms.keys import generate_private_pem
from lti_tool.demo_lms.state import EXTENSION
from lti_tool.demo_lms.storage import User as LmsUser
from lti_tool.gradebook.roster import (
    NRPS_SCOPE,
    Member,
    RosterError,
    RosterRefresh,
    access_tokens,
    fetch_roster,
    roster_source,
    store_roster_refresh,
)
from lti_tool.grading.tokens import CachedToken, scope_key
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.lti.provision import NRPS
from lti_tool.lti.roles import is_learner
from lti_tool.models import Context, Platform, RosterEntry, utcnow

from ..forms import find_form
from ..grading.conftest import CLIENT_ID, DEPLOYMENT_ID
from ..grading.conftest import Lms as GradingLms
from ..peer import ServerThread
from ..services import INSTRUCTOR_ROLE, add_to_roster, launch

LMS_COURSE = "demo-course-1"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


@pytest.fixture
def test_config(test_config: dict[str, Any]) -> dict[str, Any]:
    test_config.update(
        {
            # Short enough for the delayed-answer case below, long enough for a loaded CI machine (1 s was not, and
            # 3 s was not at a load average of 14: the member-cap test's member list came back "unreachable").
            "HTTP_CONNECT_TIMEOUT": 8.0,
            "HTTP_READ_TIMEOUT": 8.0,
            "NRPS_PAGE_SIZE": 2,  # the demo course has 5 members: 3 pages
        }
    )
    return test_config


@pytest.fixture(scope="module")
def lms_pem() -> str:
    return generate_private_pem()


@pytest.fixture
def tool(app: Flask) -> Iterator[ServerThread]:
    """The tool served, so the LMS can fetch its JWKS when it asks for a token."""
    server = ServerThread(app)
    yield server
    server.stop()


class Lms(GradingLms):
    """The demo LMS (Moodle's NRPS semantics) on a real socket, the tool registered with NRPS enabled."""

    def __init__(self, tool_url: str, pem: str) -> None:
        super().__init__(tool_url, pem, scopes=SERVICE_SCOPES)

    @property
    def memberships_url(self) -> str:
        return f"{self.url}/mod/lti/services.php/CourseSection/{LMS_COURSE}/bindings/1/memberships"

    def enrol(self, user_id: str, role: str | None) -> None:
        """Enrol a new learner, change a role, or unenrol (role None)."""
        with self.app.extensions[EXTENSION].store.tx() as session:
            user = session.get(LmsUser, user_id)
            if user is None:
                session.add(self.new_learner(user_id, role))
            else:
                user.course_role = role


@pytest.fixture
def lms(tool: ServerThread, lms_pem: str) -> Iterator[Lms]:
    platform = Lms(tool.url, lms_pem)
    yield platform
    platform.close()


def register(app: Flask, issuer: str, token_url: str) -> int:
    spec = PlatformSpec(
        issuer=issuer,
        client_id=CLIENT_ID,
        auth_login_url=issuer + "/auth",
        auth_token_url=token_url,
        jwks_url=issuer + "/jwks",
        name="Platform",
    )
    with session_scope(app, write=True) as s:
        _, deployment = add_platform(s, spec, DEPLOYMENT_ID)
        return deployment.id


def add_context(app: Flask, deployment_pk: int, *, context_id: str, nrps_url: str | None) -> int:
    """A course context as its teacher's launch records it (with the NRPS claim's URL when the platform sends
    one)."""
    nrps: dict[str, Any] = (
        {NRPS: {"context_memberships_url": nrps_url, "service_versions": ["2.0"]}} if nrps_url else {}
    )
    launched = launch(
        app,
        deployment_pk,
        f"teacher-{context_id}",
        context={"id": context_id, "title": "Kurs"},
        link={"id": f"{context_id}-activity", "title": "Grundlagenkurs"},
        roles=(INSTRUCTOR_ROLE,),
        **nrps,
    )
    return launched.context_id


@pytest.fixture
def course(app: Flask, lms: Lms) -> int:
    """The demo course as the tool knows it after a launch (the NRPS claim's URL stored on the context)."""
    deployment_pk = register(app, lms.url, lms.url + "/mod/lti/token.php")
    return add_context(app, deployment_pk, context_id=LMS_COURSE, nrps_url=lms.memberships_url)


def refresh(app: Flask, context_pk: int) -> RosterRefresh:
    """What the gradebook view does: read the source, ask the platform outside any transaction, then store in a
    write transaction that commits on success."""
    with app.app_context():
        with session_scope(app) as s:
            context = s.get(Context, context_pk)
            assert context is not None
            source = roster_source(s, context)
        fetched = fetch_roster(source, app)
        with session_scope(app, write=True) as s:
            return store_roster_refresh(s, source, fetched)


def refused(app: Flask, context_pk: int) -> RosterError:
    with pytest.raises(RosterError) as caught:
        refresh(app, context_pk)
    return caught.value


def roster(app: Flask, context_pk: int) -> dict[str, RosterEntry]:
    with session_scope(app) as s:
        rows = s.scalars(select(RosterEntry).where(RosterEntry.context_id == context_pk)).all()
        return {row.sub: row for row in rows}


def snapshot(app: Flask, context_pk: int) -> tuple[Any, ...]:
    """Everything a refresh may write, to compare before and after a failed one."""
    with session_scope(app) as s:
        fetched = s.scalar(select(Context.roster_fetched_at).where(Context.id == context_pk))
    entries = sorted(
        (e.sub, e.name, e.email, tuple(e.roles), e.is_learner, e.status, e.fetched_at)
        for e in roster(app, context_pk).values()
    )
    return fetched, tuple(entries)


# --- The demo LMS: Moodle's NRPS ------------------------------------------------------------------------


def test_refresh_pages_through_everyone_enrolled_including_who_never_launched(
    app: Flask, lms: Lms, course: int
) -> None:
    before = utcnow()
    result = refresh(app, course)

    assert (result.members, result.learners, result.pages, result.removed) == (5, 4, 3, 0)
    assert before <= result.fetched_at <= utcnow()
    entries = roster(app, course)
    assert set(entries) == {"3", "4", "5", "6", "7"}  # the site admin is not enrolled
    murat = entries["7"]  # enrolled, never opened the tool: only NRPS knows him
    assert (murat.name, murat.email, murat.roles, murat.status) == (
        "Murat Yilmaz",
        "murat.yilmaz@example.org",
        ["Learner"],
        "Active",
    )
    assert murat.is_learner
    assert not entries["3"].is_learner and entries["3"].roles == ["Instructor"]
    with session_scope(app) as s:
        assert s.scalar(select(Context.roster_fetched_at).where(Context.id == course)) == result.fetched_at
    stats = lms.stats()
    assert stats["nrps_requests"] == 3
    assert stats["token_requests"] == 1


def test_a_second_refresh_reuses_the_token_updates_and_removes_who_left(
    app: Flask, lms: Lms, course: int
) -> None:
    refresh(app, course)
    lms.enrol("6", None)  # Aylin unenrolled
    lms.enrol("100", "Learner")
    lms.enrol("5", "Instructor")

    result = refresh(app, course)

    assert (result.members, result.learners, result.removed) == (5, 3, 1)
    entries = roster(app, course)
    assert set(entries) == {"3", "4", "5", "7", "100"}
    assert entries["100"].name == "Lernende 100" and entries["100"].is_learner
    assert entries["5"].roles == ["Instructor"] and not entries["5"].is_learner
    assert {e.fetched_at for e in entries.values()} == {result.fetched_at}
    assert lms.stats()["token_requests"] == 1


def test_rosters_of_two_contexts_stay_apart(app: Flask, lms: Lms, course: int) -> None:
    with session_scope(app) as s:
        deployment_pk = s.scalar(select(Context.deployment_id).where(Context.id == course))
    assert deployment_pk is not None
    other = add_context(app, deployment_pk, context_id="other-course", nrps_url=None)
    add_to_roster(app, other, Member("4", None, None, ["Learner"], "Active", True))

    refresh(app, course)

    assert set(roster(app, other)) == {"4"}


def test_a_token_the_platform_rejects_is_replaced_once(app: Flask, lms: Lms, course: int) -> None:
    with session_scope(app) as s:
        platform_pk = s.scalars(select(Platform.id)).one()
    with app.app_context():
        access_tokens(app).cache.put(
            platform_pk, scope_key([NRPS_SCOPE]), CachedToken("revoked", utcnow() + dt.timedelta(hours=1))
        )

    result = refresh(app, course)

    assert result.members == 5
    stats = lms.stats()
    assert stats["token_requests"] == 1  # one fresh token after the 401, then used for every page
    assert stats["nrps_requests"] == 4  # the refused first page + 3 pages


def test_a_platform_that_keeps_answering_401_gets_one_fresh_token_then_an_error(
    app: Flask, lms: Lms, course: int
) -> None:
    lms.faults({"nrps": {"status": 401}})

    error = refused(app, course)

    assert error.code == "roster_refused"
    assert "401" in (error.detail or "")
    assert lms.stats()["token_requests"] == 2
    assert snapshot(app, course) == (None, ())


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"status": 500}, "roster_unreachable"),
        ({"status": 503}, "roster_unreachable"),
        ({"status": 403}, "roster_refused"),
        ({"delay": 4.0}, "roster_unreachable"),  # beyond the read timeout set for it below
    ],
)
def test_a_failing_platform_changes_nothing(
    app: Flask, lms: Lms, course: int, fault: dict[str, Any], code: str
) -> None:
    refresh(app, course)
    lms.enrol("6", None)
    before = snapshot(app, course)
    if "delay" in fault:
        # The refresh above needs the module's long read timeout on a loaded machine; the member list that never
        # comes needs only one shorter than its delay (the token is kept from that refresh: no other request).
        app.config["HTTP_READ_TIMEOUT"] = 1.0
        app.extensions.pop("nama_http").close()  # the app's client, made again with it at the next request
    lms.faults({"nrps": fault})
    tokens = lms.stats()["token_requests"]

    assert refused(app, course).code == code
    assert snapshot(app, course) == before
    assert lms.stats()["token_requests"] == tokens


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "roster_unreachable"),
        (503, "roster_unreachable"),
        (429, "roster_unreachable"),
        (400, "roster_no_token"),
    ],
)
def test_a_failing_token_endpoint_says_whether_to_wait_or_to_ask(
    app: Flask, lms: Lms, course: int, status: int, code: str
) -> None:
    """A token endpoint that is down or busy is something to wait for ("try again in a few minutes"); one that
    refuses the tool (400 invalid_client: tool disabled or keys not matching) is for the LMS administrator. The
    same answer while the endpoint rests, without asking it again."""
    lms.faults({"token": {"status": status}})

    first = refused(app, course)
    again = refused(app, course)  # within the rest: no token request

    assert (first.code, again.code) == (code, code)
    assert lms.stats()["token_requests"] == 1
    assert snapshot(app, course) == (None, ())


def test_the_member_list_of_another_course_is_refused(app: Flask, lms: Lms, course: int) -> None:
    with session_scope(app) as s:
        deployment_pk = s.scalar(select(Context.deployment_id).where(Context.id == course))
    assert deployment_pk is not None
    # A context whose stored NRPS URL names the demo course: the container says so, and is refused.
    other = add_context(app, deployment_pk, context_id="other-course", nrps_url=lms.memberships_url)

    assert refused(app, other).code == "roster_wrong_context"
    assert snapshot(app, other) == (None, ())


def test_the_page_cap_stops_a_roster_longer_than_allowed(app: Flask, lms: Lms, course: int) -> None:
    app.config["NRPS_MAX_PAGES"] = 2

    error = refused(app, course)

    assert error.code == "roster_too_large"
    assert lms.stats()["nrps_requests"] == 2
    assert snapshot(app, course) == (None, ())


def test_the_member_cap_stops_a_roster_longer_than_allowed(app: Flask, lms: Lms, course: int) -> None:
    app.config["NRPS_MAX_MEMBERS"] = 4

    assert refused(app, course).code == "roster_too_large"
    assert snapshot(app, course) == (None, ())


def test_without_the_nrps_claim_the_reason_is_clear(app: Flask, lms: Lms, course: int) -> None:
    with session_scope(app, write=True) as s:
        context = s.get(Context, course)
        assert context is not None
        context.nrps_url = None

    error = refused(app, course)

    assert (error.code, error.status) == ("roster_no_service", 409)
    with app.test_request_context("/?lang=en"):
        assert str(error.message) == (
            "Your learning platform has not shared the course member list with this tool."
        )
        assert "Names and Role Provisioning" in str(error.hint)
    with app.test_request_context("/?lang=de"):
        assert "Teilnehmendenliste" in str(error.message)
    assert lms.stats()["nrps_requests"] == 0


def test_after_a_real_launch_the_stored_nrps_url_serves_the_refresh(
    app: Flask, lms: Lms, tool: ServerThread
) -> None:
    register(app, lms.url, lms.url + "/mod/lti/token.php")
    browser = requests.Session()
    start = lms.http.get(lms.url + "/api/launch", params={"activity": "1", "user": "3"}, timeout=5).json()
    login = browser.get(start["url"], allow_redirects=False, timeout=5)
    auth = browser.get(login.headers["Location"], timeout=5)
    form = find_form(auth, "id_token")
    launched = browser.post(form.action, data=form.data(), allow_redirects=False, timeout=5)
    assert launched.status_code == 303, launched.text[:500]
    with session_scope(app) as s:
        context = s.scalars(select(Context)).one()
    assert context.nrps_url == lms.memberships_url

    assert refresh(app, context.id).members == 5


# --- A broken platform ----------------------------------------------------------------------------------


class BrokenPlatform:
    """Serves `pages[path] = (status, body, next path or None)` as NRPS pages, and any token."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[int, Any, str | None]] = {}
        self.requests: list[tuple[str, str]] = []
        self.token_body: str | None = None  # the token endpoint's answer as it is (None: a good token)
        app = Flask("broken-platform")

        @app.post("/token")
        def token() -> Any:
            if self.token_body is not None:
                return Response(self.token_body, mimetype="application/json")
            return {"access_token": "t", "token_type": "Bearer", "expires_in": 3600}

        @app.get("/<path:path>")
        def page(path: str) -> Response:
            self.requests.append((request.full_path, request.headers.get("Authorization", "")))
            status, body, next_path = self.pages.get(path, (404, "not found", None))
            text = body if isinstance(body, str) else json.dumps(body)
            response = Response(text, status=status, mimetype="application/json")
            if next_path is not None:
                target = next_path if next_path.startswith("http") else f"{self.url}/{next_path}"
                response.headers["Link"] = f'<{target}>; rel="next"'
            return response

        self.server = ServerThread(app)
        self.url = self.server.url

    def stop(self) -> None:
        self.server.stop()


def container(*members: Any, context_id: str = "broken-course") -> dict[str, Any]:
    return {"id": "x", "context": {"id": context_id, "title": "Kaputt"}, "members": list(members)}


def member(user_id: Any, *roles: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "roles": list(roles or ["Learner"]), "status": "Active", **extra}


@pytest.fixture
def broken(app: Flask) -> Iterator[tuple[BrokenPlatform, int]]:
    platform = BrokenPlatform()
    deployment_pk = register(app, platform.url, platform.url + "/token")
    context_pk = add_context(
        app, deployment_pk, context_id="broken-course", nrps_url=platform.url + "/members"
    )
    yield platform, context_pk
    platform.stop()


def test_a_failure_on_a_later_page_keeps_the_roster_of_the_last_full_refresh(
    app: Flask, broken: tuple[BrokenPlatform, int]
) -> None:
    platform, context_pk = broken
    platform.pages["members"] = (200, container(member("a"), member("b")), "members/2")
    platform.pages["members/2"] = (200, container(member("c")), None)
    assert refresh(app, context_pk).members == 3
    before = snapshot(app, context_pk)

    # Now page 1 lists only "a" and page 2 fails: "b" and "c" must not be removed.
    platform.pages["members"] = (200, container(member("a", name="Anna")), "members/2")
    platform.pages["members/2"] = (500, {"error": "boom"}, None)

    assert refused(app, context_pk).code == "roster_unreachable"
    assert snapshot(app, context_pk) == before


GARBAGE: list[Any] = [
    "<html>Moodle exception</html>",
    [],
    {"context": {"id": "broken-course"}},
    {"context": {"id": "broken-course"}, "members": "everyone"},
    container("not a member"),
    container({"roles": ["Learner"]}),
    container(member("")),
    container(member(True)),
    container(member("x" * 256)),
    container({"user_id": "a", "roles": "Learner"}),
    container({"user_id": "a", "roles": [1]}),
    container(member("a", status="Suspended")),
    container(member("a", name=["Anna"])),
    container(member("a", email=42)),
    {"members": [member("a")]},  # no context: cannot be checked
    # PostgreSQL cannot store a NUL, and Python's parser gives up on deep nesting: both were 500s.
    container(member("a", name="An\x00na")),
    '{"context": {"id": "broken-course"}, "members": ' + "[" * 100000 + "]" * 100000 + "}",
]


@pytest.mark.parametrize("body", GARBAGE)
def test_garbage_is_refused_and_nothing_written(
    app: Flask, broken: tuple[BrokenPlatform, int], body: Any
) -> None:
    platform, context_pk = broken
    platform.pages["members"] = (200, body, None)

    error = refused(app, context_pk)

    assert error.code in ("roster_invalid", "roster_wrong_context"), error.detail
    assert snapshot(app, context_pk) == (None, ())


def test_a_token_answer_nested_deeper_than_the_parser_goes_is_an_error(
    app: Flask, broken: tuple[BrokenPlatform, int]
) -> None:
    """The token endpoint's JSON is read like every platform answer (http.platform_json): this was a
    RecursionError, a 500 on the teachers' "refresh participants" and a paused grade worker."""
    platform, context_pk = broken
    platform.pages["members"] = (200, container(member("a")), None)
    platform.token_body = '{"access_token": ' + "[" * 100000 + "]" * 100000 + "}"
    assert refused(app, context_pk).code == "roster_no_token"
    assert snapshot(app, context_pk) == (None, ())


def test_what_a_lenient_reader_accepts(app: Flask, broken: tuple[BrokenPlatform, int]) -> None:
    """Numeric user ids, no status (Active), names in parts, no name or e-mail at all, full role URIs."""
    platform, context_pk = broken
    platform.pages["members"] = (
        200,
        container(
            {"user_id": 17, "roles": [LIS + "membership#Learner"]},
            member("b", given_name="Ben", family_name="Berg", email=None),
            member("c", LIS + "membership#Instructor", status="Inactive"),
            member("d", LIS + "institution/person#Learner", name=""),
            member("e", status="Deleted"),
        ),
        None,
    )

    result = refresh(app, context_pk)

    assert (result.members, result.learners) == (5, 4)
    entries = roster(app, context_pk)
    assert entries["17"].is_learner and entries["17"].status == "Active"
    assert (entries["b"].name, entries["b"].email) == ("Ben Berg", None)
    assert entries["c"].status == "Inactive" and not entries["c"].is_learner
    assert entries["d"].name is None and entries["d"].is_learner
    assert entries["e"].status == "Deleted"


def test_endless_paging_stops_at_the_page_cap(app: Flask, broken: tuple[BrokenPlatform, int]) -> None:
    platform, context_pk = broken
    app.config["NRPS_MAX_PAGES"] = 5
    for n in range(20):
        platform.pages[f"members/{n}" if n else "members"] = (
            200,
            container(member(f"u{n}")),
            f"members/{n + 1}",
        )

    assert refused(app, context_pk).code == "roster_too_large"
    assert len(platform.requests) == 5
    assert snapshot(app, context_pk) == (None, ())


def test_a_next_link_back_to_an_earlier_page_is_refused(
    app: Flask, broken: tuple[BrokenPlatform, int]
) -> None:
    platform, context_pk = broken
    platform.pages["members"] = (200, container(member("a")), "members/2")
    platform.pages["members/2"] = (200, container(member("b")), "members?limit=2")

    assert refused(app, context_pk).code == "roster_invalid"
    assert len(platform.requests) == 2


def test_the_token_never_goes_to_a_next_link_on_another_origin(
    app: Flask, broken: tuple[BrokenPlatform, int]
) -> None:
    platform, context_pk = broken
    elsewhere = BrokenPlatform()
    try:
        platform.pages["members"] = (200, container(member("a")), elsewhere.url + "/steal")

        assert refused(app, context_pk).code == "roster_invalid"
        assert elsewhere.requests == []
    finally:
        elsewhere.stop()


def test_the_page_size_is_asked_for_unless_the_url_says(
    app: Flask, broken: tuple[BrokenPlatform, int]
) -> None:
    platform, context_pk = broken
    platform.pages["members"] = (200, container(member("a")), None)
    refresh(app, context_pk)
    with session_scope(app, write=True) as s:
        context = s.get(Context, context_pk)
        assert context is not None
        context.nrps_url = platform.url + "/members?limit=50&role=Learner"
    refresh(app, context_pk)

    [(first, auth), (second, _)] = platform.requests
    assert first == "/members?limit=2" and auth == "Bearer t"
    assert second == "/members?limit=50&role=Learner"


# --- Roles ----------------------------------------------------------------------------------------------

LEARNER_CASES: list[tuple[list[str], bool]] = [
    (["Learner"], True),
    ([LIS + "membership#Learner"], True),
    ([LIS + "institution/person#Learner"], True),
    ([LIS + "membership/Learner#NonCreditLearner"], True),
    ([LIS + "membership#Learner", LIS + "membership#Instructor"], False),
    (["Learner", LIS + "membership/Instructor#TeachingAssistant"], False),
    (["Instructor"], False),
    ([LIS + "institution/person#Student"], False),
    (["http://example.org/roles#Learner"], False),
    ([], False),
]


@pytest.mark.parametrize(("roles", "expected"), LEARNER_CASES)
def test_who_counts_as_a_learner(roles: list[str], expected: bool) -> None:
    assert is_learner(roles) is expected


def test_bidi_overrides_are_dropped_from_member_names(app: Flask, broken: tuple[BrokenPlatform, int]) -> None:
    """A right-to-left override in a member's name reversed the rest of its gradebook line (lti_tool/text.py)."""
    platform, context_pk = broken
    platform.pages["members"] = (
        200,
        container(
            member("a", name="Anna \u202eAlbers\u202c"),
            member("b", given_name="\u2067Ben", family_name="Berg\u2069"),
            member("c", name="\u202e"),
        ),
        None,
    )
    refresh(app, context_pk)
    entries = roster(app, context_pk)
    assert (entries["a"].name, entries["b"].name, entries["c"].name) == ("Anna Albers", "Ben Berg", None)

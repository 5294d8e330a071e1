"""Grade delivery against the demo LMS over HTTP: the tool app (served, so the LMS can fetch its JWKS), a
demo LMS with Moodle's AGS semantics and fault injection, a course context with learners, and checks that
compare what the platform holds with what the tool meant to send.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from lti_tool import progress
from lti_tool.course.catalog import get_catalog
from lti_tool.course.model import Course
from lti_tool.db import session_scope
from lti_tool.demo_lms import close_demo_lms, create_demo_lms, serve_in_thread
from lti_tool.demo_lms.keys import generate_private_pem
from lti_tool.demo_lms.state import EXTENSION
from lti_tool.demo_lms.storage import User as LmsUser
from lti_tool.grading.outbox import WAITING, RowState
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.lti.provision import ProvisionedLaunch
from lti_tool.models import (
    Deployment,
    GradeOutbox,
    ReviewDecision,
    User,
)

from ..course.learner import work
from ..forms import find_form
from ..peer import LTI, ServerThread
from ..services import INSTRUCTOR_ROLE, LEARNER_ROLE, launch
from .hostile_lms import HostileLms

CLIENT_ID = "nama-tool"
DEPLOYMENT_ID = "1"
LMS_COURSE = "demo-course-1"
COURSE = "grundlagenkurs"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
ALL_SCOPES = [AGS + "lineitem", AGS + "lineitem.readonly", AGS + "result.readonly", AGS + "score"]
LEARNERS = ["4", "5", "6", "7"]  # the demo LMS's learners; "3" teaches, "2" is a site admin (not enrolled)


@pytest.fixture
def test_config(test_config: dict[str, Any]) -> dict[str, Any]:
    """Fast delivery: short polls and backoff. Generous HTTP time-outs (5 s): on a loaded machine (CI: two suites
    and the browser tests on two cores) requests that should succeed took longer than 1 s, e.g. a token request
    while the platform fetches the tool's key set from this process. A test about a slow platform sets a short read
    time-out itself, for the requests meant to outlast it. The lease stays above a row's time budget, 2 × (connect
    + read) = 20 s, as in production (120 s against 26 s), so a worker does not renew it before every row; a test
    about leases sets its own."""
    test_config.update(
        {
            "GRADE_POLL_SECONDS": 0.05,
            "GRADE_BACKOFF_BASE_SECONDS": 0.05,
            "GRADE_BACKOFF_CAP_SECONDS": 0.4,
            "GRADE_TOKEN_BACKOFF_BASE_SECONDS": 0.05,
            "GRADE_TOKEN_BACKOFF_CAP_SECONDS": 0.4,
            "GRADE_LEASE_SECONDS": 30,
            "GRADE_RECORD_EVERY": 3,
            "GRADE_HEARTBEAT_SECONDS": 1.0,
            "HTTP_CONNECT_TIMEOUT": 5.0,
            "HTTP_READ_TIMEOUT": 5.0,
        }
    )
    return test_config


@pytest.fixture(scope="session")
def lms_key_pem() -> str:
    return generate_private_pem()


class Lms:
    """The demo LMS served on a real socket, with the JSON helpers the tests read it through."""

    def __init__(
        self,
        tool_url: str,
        pem: str,
        *,
        scopes: Sequence[str] = ALL_SCOPES,
        tool_settings: Mapping[str, Any] | None = None,
        **config: Any,
    ) -> None:
        """`tool_settings` go into the tool's TOOLS entry (e.g. `send_name=False`); `config` is the LMS's."""
        settings: dict[str, Any] = {
            "TOOLS": [
                {
                    **(tool_settings or {}),
                    "client_id": CLIENT_ID,
                    "deployment_id": DEPLOYMENT_ID,
                    "name": "NaMa-Werkzeug",
                    "login_url": f"{tool_url}/lti/login",
                    "redirect_uris": [f"{tool_url}/lti/launch"],
                    "target_link_uri": f"{tool_url}/lti/launch",
                    "deep_link_url": f"{tool_url}/lti/launch",
                    "jwks_url": f"{tool_url}/.well-known/jwks.json",
                    "scopes": [*scopes],
                }
            ],
            "FAULTS_ENABLED": True,
            "PLATFORM_KEY_PEM": pem,
        }
        settings.update(config)
        self.app = create_demo_lms(settings)
        self.server = serve_in_thread(self.app)
        self.url = self.server.url
        self.port = self.server.port
        self.http = requests.Session()

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        """Serve again on the same port (the LMS keeps its state: it was only unreachable)."""
        self.server = serve_in_thread(self.app, port=self.port)

    def close(self) -> None:
        self.http.close()
        self.server.stop()
        close_demo_lms(self.app)

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(self.url + path, params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.get("/api/stats")
        return stats

    def scores(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.get("/api/scores")
        return rows

    def history(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.get("/api/score-history")
        return rows

    def faults(self, spec: dict[str, Any]) -> None:
        response = self.http.post(self.url + "/api/faults", json=spec, timeout=10)
        assert response.status_code == 200, response.text

    def clear_faults(self) -> None:
        self.http.delete(self.url + "/api/faults", timeout=10)

    def add_learners(self, count: int, first: int = 100) -> list[str]:
        """Enrol more learners (the seeded course has four)."""
        ids = [str(n) for n in range(first, first + count)]
        with self.app.extensions[EXTENSION].store.tx() as session:
            session.add_all(self.new_learner(user_id, "Learner") for user_id in ids)
        return ids

    @staticmethod
    def new_learner(user_id: str, role: str | None) -> LmsUser:
        """A person of the demo LMS, enrolled in its course with `role` (None: not enrolled)."""
        return LmsUser(
            id=user_id,
            username=f"learner{user_id}",
            full_name=f"Lernende {user_id}",
            given_name="Lernende",
            family_name=user_id,
            email=f"learner{user_id}@example.org",
            course_role=role,
        )

    @property
    def token_url(self) -> str:
        return self.url + "/mod/lti/token.php"

    @property
    def lineitems_url(self) -> str:
        return f"{self.url}/mod/lti/services.php/{LMS_COURSE}/lineitems?type_id=1"

    def activity_lineitem(self, activity_id: int = 1) -> str:
        activity = next(a for a in self.get("/api/activities") if a["id"] == activity_id)
        url: str = activity["line_items"][0]["url"]
        return url

    def token_requests(self) -> int:
        return int(self.stats()["token_requests"])


@pytest.fixture
def tool(app: Flask) -> Iterator[ServerThread]:
    server = ServerThread(app)
    yield server
    server.stop()


@pytest.fixture
def hostile() -> Iterator[HostileLms]:
    """A platform whose answers the test sets (hostile_lms.py)."""
    lms = HostileLms().start()
    yield lms
    assert lms.server
    lms.server.stop()


@pytest.fixture
def lms(tool: ServerThread, lms_key_pem: str) -> Iterator[Lms]:
    platform = Lms(tool.url, lms_key_pem)
    yield platform
    platform.close()


class Classroom:
    """The tool's side of the demo course: platform registration, context, the course activity, people."""

    def __init__(
        self, app: Flask, lms: Lms, *, scopes: list[str] | None = None, module_grade_items: bool = True
    ) -> None:
        """`module_grade_items`: the course activity asks for one grade item per module (custom parameter
        `module_grade_items=true`), so these tests also exercise the per-module items; off by default in the
        product (tests/grading/test_moodle_gradebook.py)."""
        self.app = app
        self.lms = lms
        self.course: Course = get_catalog(app).get(COURSE)  # type: ignore[assignment]
        self.scopes = list(ALL_SCOPES if scopes is None else scopes)
        spec = PlatformSpec(
            issuer=lms.url,
            client_id=CLIENT_ID,
            auth_login_url=lms.url + "/auth",
            auth_token_url=lms.token_url,
            jwks_url=lms.url + "/jwks",
            name="Demo-LMS",
        )
        with session_scope(app, write=True) as s:
            platform, deployment = add_platform(s, spec, DEPLOYMENT_ID)
            self.platform_id, self.deployment_id = platform.id, deployment.id
        self.links: dict[str, dict[str, Any]] = {}
        self.users: dict[str, int] = {}
        self.link_id = self.add_link(
            "1", module_id=None, lineitem_url=lms.activity_lineitem(1), module_grade_items=module_grade_items
        )

    def add_link(
        self,
        resource_link_id: str,
        *,
        module_id: str | None,
        lineitem_url: str | None,
        module_grade_items: bool = False,
    ) -> int:
        """An activity of the course (`module_id`: one module placed on its own), as its first launch (the
        course's teacher's) records it."""
        custom = {"module_grade_items": "true"} if module_grade_items else {}
        self.links[resource_link_id] = {
            "link": {"id": resource_link_id, "title": "Grundlagenkurs"},
            "lineitem": lineitem_url,
            "module_id": module_id,
            LTI + "custom": custom,
        }
        return self._launch("teacher", resource_link_id, instructor=True).resource_link_id or 0

    def _launch(self, sub: str, resource_link_id: str, *, instructor: bool) -> ProvisionedLaunch:
        launched = launch(
            self.app,
            self.deployment_id,
            sub,
            context={"id": LMS_COURSE, "title": "Demo-Kurs"},
            roles=(INSTRUCTOR_ROLE if instructor else LEARNER_ROLE,),
            lineitems=self.lms.lineitems_url,
            scopes=self.scopes,
            name=f"Person {sub}",
            **self.links[resource_link_id],
        )
        self.context_id = launched.context_id
        return launched

    def person(self, sub: str, *, instructor: bool = False, via: tuple[str, ...] = ("1",)) -> int:
        """Someone who launched the course's activities `via` (by default the course activity itself)."""
        for resource_link_id in via:
            user_id = self._launch(sub, resource_link_id, instructor=instructor).user_id
        self.users[sub] = user_id
        return user_id

    def learners(self, subs: list[str]) -> list[int]:
        return [self.person(sub) for sub in subs]

    def record(
        self,
        user_id: int,
        module_id: str,
        *,
        score: float | None = None,
        completed: bool = False,
        course_completed: bool = False,
    ) -> list[GradeOutbox]:
        """The learner's work through the progress services (tests/course/learner.py `work`), which queue the
        grades themselves when the work changes one. Returns the rows it queued that are still current (a later
        step of the same work supersedes an earlier one's). `course_completed` asserts the course completed."""
        learner = self.learner(user_id)
        with self.queueing() as queued:
            work(self.app, learner, self.course, module_id, score=score, completed=completed)
        if course_completed:
            with session_scope(self.app) as s:
                assert progress.course_state(s, learner, self.course).completed_at, "course not complete"
        return queued

    def review(
        self,
        user_id: int,
        module_id: str,
        *,
        reviewer: int,
        feedback: str = "Gut.",
        decision: ReviewDecision = ReviewDecision.ACCEPTED,
    ) -> list[GradeOutbox]:
        """The teacher's review of the learner's practice text (the service the gradebook calls)."""
        module = self.course.module(module_id)
        assert module is not None
        with self.queueing() as queued, session_scope(self.app, write=True) as s:
            progress.review_practice(
                s,
                self.learner(user_id),
                self.course,
                module,
                reviewer_id=reviewer,
                feedback=feedback,
                decision=decision,
            )
        return queued

    def learner(self, user_id: int) -> progress.Learner:
        return progress.Learner(user_id, self.context_id, self.platform_id, self.link_id)

    @contextlib.contextmanager
    def queueing(self) -> Iterator[list[GradeOutbox]]:
        """The grade rows queued inside the block that are still current after it (a later step of the same
        work supersedes an earlier one's)."""
        with session_scope(self.app) as s:
            before = s.scalar(select(func.max(GradeOutbox.id))) or 0
        queued: list[GradeOutbox] = []
        yield queued
        with session_scope(self.app) as s:
            added = s.scalars(select(GradeOutbox).where(GradeOutbox.id > before).order_by(GradeOutbox.id))
            queued += [row for row in added if row.state != RowState.SUPERSEDED]

    # --- looking at the outbox ---

    def rows(self) -> list[GradeOutbox]:
        with session_scope(self.app) as s:
            return list(s.scalars(select(GradeOutbox).order_by(GradeOutbox.id)))

    def count(self, *states: str) -> int:
        with session_scope(self.app) as s:
            return int(
                s.scalar(select(func.count()).select_from(GradeOutbox).where(GradeOutbox.state.in_(states)))
                or 0
            )


def deliver_all(app: Flask, *, timeout: float = 20.0, worker: Any = None) -> Any:
    """Run a worker in this thread until no row is pending or sending (rows in backoff are waited for)."""
    from lti_tool.grading.worker import Worker

    worker = worker or Worker(app, label="test")
    deadline = time.monotonic() + timeout
    while True:
        worker.drain()
        with session_scope(app) as s:
            waiting = s.scalar(
                select(func.count()).select_from(GradeOutbox).where(GradeOutbox.state.in_(list(WAITING)))
            )
        if not waiting:
            return worker
        if time.monotonic() > deadline:
            raise AssertionError(f"{waiting} grade(s) still waiting after {timeout} s")
        time.sleep(0.02)


def wait_until(predicate: Any, timeout: float = 20.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(step)


def assert_platform_has_exactly_the_newest(classroom: Classroom, *, failed_ok: bool = False) -> None:
    """The platform holds, for every (line item, user), the newest score the tool meant to send, each
    accepted score was one of ours and arrived once, and superseded scores never arrived."""
    rows = classroom.rows()
    waiting = [r.id for r in rows if r.state in WAITING]
    assert not waiting, f"rows still waiting: {waiting}"
    if not failed_ok:
        assert not [r for r in rows if r.state == "failed"], [(r.id, r.last_error) for r in rows]
    with session_scope(classroom.app) as s:
        subs = dict(s.execute(select(User.id, User.sub)).all())

    newest: dict[tuple[int, str], GradeOutbox] = {}
    for row in rows:
        if row.state in ("sent", "applied"):
            key = (row.user_id, row.target)
            if key not in newest or row.id > newest[key].id:
                newest[key] = row
    expected = {}
    for row in newest.values():
        # a later row of the same target that failed or was superseded would make this one not the newest
        later = [r for r in rows if (r.user_id, r.target) == (row.user_id, row.target) and r.id > row.id]
        assert all(r.state in (RowState.SUPERSEDED, RowState.FAILED) for r in later)
        assert row.lineitem_url
        expected[(row.lineitem_url, subs[row.user_id])] = row.payload

    held = {(r["line_item_url"], r["user_id"]): r for r in classroom.lms.scores()}
    assert set(held) == set(expected), sorted(set(held) ^ set(expected))
    for held_key, payload in expected.items():
        got = held[held_key]
        assert got["timestamp"] == payload["timestamp"], held_key
        assert got["activityProgress"] == payload["activityProgress"], held_key
        assert got["gradingProgress"] == payload["gradingProgress"], held_key
        assert got["comment"] == payload["comment"], held_key
        if payload["gradingProgress"] == "FullyGraded":
            assert got["scoreGiven"] == payload["scoreGiven"], held_key

    ours = {(r.lineitem_url, subs[r.user_id], r.payload["timestamp"]): r for r in rows if r.lineitem_url}
    seen: set[tuple[str, str, str]] = set()
    for event in classroom.lms.history():
        score = (event["line_item_url"], event["user_id"], event["timestamp"])
        assert score in ours, f"the platform accepted a score the tool did not send: {score}"
        assert score not in seen, f"accepted twice: {score}"
        assert ours[score].state in ("sent", "applied"), (ours[score].id, ours[score].state)
        seen.add(score)
    for score, row in ours.items():
        if row.state == "sent":
            assert score in seen, f"row {row.id} marked sent but the platform has no such score"


def launch_via_lms(lms: Lms, *, activity: int, user: str) -> requests.Response:
    """A browser launching the tool from the demo LMS: login initiation -> /auth -> form post to the tool."""
    browser = requests.Session()
    start = lms.get("/api/launch", activity=activity, user=user)
    login = browser.get(start["url"], allow_redirects=False, timeout=10)
    assert login.status_code == 302, login.text[:500]
    auth = browser.get(login.headers["Location"], timeout=10)
    assert auth.status_code == 200, auth.text[:500]
    form = find_form(auth, "id_token")
    response = browser.post(form.action, data=form.data(), allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text[:800]
    return response


def deployment_of(app: Flask) -> Deployment:
    with session_scope(app) as s:
        return s.scalars(select(Deployment)).one()

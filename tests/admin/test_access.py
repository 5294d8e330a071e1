"""Who gets into the operator area: nobody without a sign-in, no form without its CSRF token, no sign-in after it
expired, nothing through an LTI tool session; and what operators see: no learner names, texts or answers."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lti_tool.admin import signin
from lti_tool.cache import get_store
from lti_tool.db import session_scope
from lti_tool.lti.platforms import set_deployment_active
from lti_tool.models import Deployment, GradeOutbox, Operator, Platform, RegistrationLink, ToolKey

from ..forms import csrf_token
from ..peer import Launcher
from . import seed
from .conftest import PASSWORD, USERNAME, AdminClient

PAGES = [
    "/admin/",
    "/admin/platforms",
    "/admin/platforms/new",
    "/admin/registration-links",
    "/admin/keys",
    "/admin/keys/rotate",
    "/admin/grades",
    "/admin/health",
    "/admin/courses",
    "/admin/courses/grundlagenkurs/review",
    "/admin/courses/grundlagenkurs/review.pdf",
    "/admin/verarbeitungsverzeichnis",
    "/admin/verarbeitungsverzeichnis.html",
]


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    """One platform with an inactive deployment, a learner with a failed grade: something every action can change."""
    deployment = seed.platform(app, "https://moodle.dueren.example")
    learner = seed.learner(app, deployment, "sub-secret-learner")
    with session_scope(app, write=True) as s:
        platform = s.get_one(Platform, deployment.platform_id)
        waiting = set_deployment_active(s, platform, "waiting", False)
        current_kid = s.scalars(select(ToolKey.kid).where(ToolKey.state == "current")).one()
        return {
            "learner": learner,
            "active_pk": deployment.id,
            "waiting_pk": waiting.id,
            "current_kid": current_kid,
        }


def actions(world: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every POST of the operator area with data that would change something."""
    return [
        (
            "/admin/platforms/new",
            {
                "issuer": "https://evil.example",
                "client_id": "x",
                "deployment_id": "1",
                "auth_login_url": "https://evil.example/a",
                "auth_token_url": "https://evil.example/t",
                "jwks_url": "https://evil.example/j",
            },
        ),
        (f"/admin/deployments/{world['waiting_pk']}/approve", {}),
        (f"/admin/deployments/{world['active_pk']}/deactivate", {}),
        ("/admin/registration-links", {"note": "evil", "days": "30"}),
        ("/admin/keys/rotate", {"current_kid": world["current_kid"]}),
        ("/admin/grades/resend", {"row": world["learner"].failed_grade_id}),
        ("/admin/grades/resend", {"platform": world["learner"].platform_id}),
    ]


def snapshot(app: Flask) -> dict[str, Any]:
    with session_scope(app) as s:
        return {
            "platforms": s.scalar(select(func.count()).select_from(Platform)),
            "deployments": sorted(s.execute(select(Deployment.id, Deployment.active)).all()),
            "links": s.scalar(select(func.count()).select_from(RegistrationLink)),
            "keys": sorted(s.execute(select(ToolKey.kid, ToolKey.state)).all()),
            "outbox": sorted(s.execute(select(GradeOutbox.id, GradeOutbox.state)).all()),
        }


def test_every_route_of_the_operator_area_is_covered_here(app: Flask, world: dict[str, Any]) -> None:
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        # The certification register's routes: tests/register/test_access.py covers them the same way.
        if rule.endpoint.startswith("admin.") and not rule.endpoint.startswith("admin.register")
        for method in rule.methods - {"HEAD", "OPTIONS"}  # type: ignore[operator]
    }
    covered = {(p.replace("/courses/grundlagenkurs/", "/courses/<course_id>/"), "GET") for p in PAGES} | {
        ("/admin/login", "GET"),
        ("/admin/login", "POST"),
        ("/admin/logout", "POST"),
    }
    covered |= {
        (
            path.replace(str(world["waiting_pk"]), "<int:deployment_pk>").replace(
                str(world["active_pk"]), "<int:deployment_pk>"
            ),
            "POST",
        )
        for path, _ in actions(world)
    }
    assert routes == covered


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_signed_out_visitors_to_the_sign_in(anonymous: AdminClient, path: str) -> None:
    resp = anonymous.get(path)
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/admin/login?next=")
    assert resp.headers["Cache-Control"] == "no-store"


def test_actions_refuse_signed_out_visitors_and_change_nothing(
    app: Flask, anonymous: AdminClient, world: dict[str, Any]
) -> None:
    before = snapshot(app)
    for path, data in actions(world):
        # A valid CSRF token (from the sign-in page) does not stand in for a sign-in.
        resp = anonymous.post(path, data, page="/admin/login", any_token=True)
        assert resp.status_code == 303 and resp.headers["Location"].startswith("/admin/login"), path
    assert snapshot(app) == before


@pytest.mark.parametrize("token", [None, "", "forged-token", "from-another-session"])
def test_actions_refuse_a_missing_or_wrong_csrf_token(
    app: Flask, admin: AdminClient, world: dict[str, Any], token: str | None
) -> None:
    if token == "from-another-session":
        other = AdminClient(app)
        other.login()
        token = other.token("/admin/")
    before = snapshot(app)
    for path, data in [*actions(world), ("/admin/logout", {})]:
        form = dict(data) if token is None else {**data, "csrf_token": token}
        resp = admin.client.post(path, data=form)
        assert resp.status_code == 403, (path, resp.status_code)
        assert "csrf_failed" in resp.text and "Sicherheitstoken" in resp.text
        assert resp.headers["Cache-Control"] == "no-store"
    assert snapshot(app) == before
    assert admin.get("/admin/").status_code == 200  # still signed in: the forged sign-out did nothing


def test_the_sign_in_form_needs_its_csrf_token_too(anonymous: AdminClient) -> None:
    resp = anonymous.client.post("/admin/login", data={"username": USERNAME, "password": PASSWORD})
    assert resp.status_code == 403 and "csrf_failed" in resp.text
    assert anonymous.get("/admin/").status_code == 303


def test_an_expired_sign_in_opens_nothing(
    app: Flask, admin: AdminClient, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = admin.token("/admin/")
    later = time.time() + app.config["ADMIN_SESSION_SECONDS"] + 1
    monkeypatch.setattr(signin, "clock", lambda: later)
    for path in PAGES:
        resp = admin.get(path)
        assert resp.status_code == 303 and resp.headers["Location"].startswith("/admin/login"), path
    before = snapshot(app)
    for path, data in actions(world):
        resp = admin.client.post(path, data={**data, "csrf_token": token})
        assert resp.status_code == 303 and resp.headers["Location"].startswith("/admin/login"), path
    assert snapshot(app) == before


def test_an_lti_tool_session_gives_no_access(app: Flask, launcher: Launcher, world: dict[str, Any]) -> None:
    # A teacher's launch: the most a platform can grant.
    page = launcher.launch_and_follow(
        **{
            "https://purl.imsglobal.org/spec/lti/claim/roles": [
                "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
            ]
        }
    )
    assert page.status_code == 200 and "/s/" in page.url
    browser = launcher.browser
    session_token = page.url.split("/s/", 1)[1].split("/", 1)[0]
    tool_csrf = csrf_token(page.text)
    for path in PAGES:
        for url in (launcher.tool_url + path, f"{launcher.tool_url}{path}?sid={session_token}"):
            resp = browser.get(url, allow_redirects=False)
            assert resp.status_code == 303 and "/admin/login" in resp.headers["Location"], url
    assert browser.get(f"{launcher.tool_url}/s/{session_token}/admin/").status_code == 404
    before = snapshot(app)
    for path, data in actions(world):
        resp = browser.post(
            launcher.tool_url + path, data={**data, "csrf_token": tool_csrf}, allow_redirects=False
        )
        assert resp.status_code == 303 and "/admin/login" in resp.headers["Location"], path
    assert snapshot(app) == before
    assert not any(c.name == "nama_lti_admin" for c in browser.cookies)


def test_lti_posts_are_not_held_to_the_operator_areas_csrf(launcher: Launcher) -> None:
    """The launch is a cross-site form POST from the platform: Flask-WTF must not check it."""
    resp = launcher.launch()
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/s/")


def test_operators_see_no_names_texts_or_answers(
    app: Flask, admin: AdminClient, world: dict[str, Any]
) -> None:
    learner = world["learner"]
    # Someone whose first quiz attempt's grade is still waiting for the worker.
    second = seed.started(
        app,
        seed.platform(app, "https://moodle.dueren.example"),
        "sub-secret-second",
        name="Zweite Person",
        email="zweite@example.org",
    )
    with session_scope(app) as s:
        assert s.scalars(select(GradeOutbox.state).where(GradeOutbox.user_id == second)).all() == ["pending"]
    secrets = [
        learner.name,
        "Mustermann",
        learner.email,
        learner.practice_text,
        learner.feedback,
        learner.certificate_code,
        learner.session_token,
        "Zweite Person",
        "zweite@example.org",
    ]
    # (The review PDF is binary: its words are checked in tests/review; here only its bytes.)
    pages = {path: admin.get(path).get_data().decode("utf-8", "replace") for path in PAGES}
    pages["/admin/platforms (after an action)"] = admin.get("/admin/platforms").text
    for path, html in pages.items():
        for secret in secrets:
            assert secret not in html, (path, secret)
    assert learner.sub in pages["/admin/grades"]  # the LTI user id is what an operator needs
    assert "NaMa Grundlagen Düren" in pages["/admin/grades"]


def test_operator_pages_are_never_cached_or_framed(admin: AdminClient, anonymous: AdminClient) -> None:
    for client, path in [(admin, p) for p in PAGES] + [(anonymous, "/admin/login")]:
        resp = client.get(path)
        assert resp.headers["Cache-Control"] == "no-store", path
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], path
        assert resp.headers["Referrer-Policy"] == "same-origin", path


def test_operator_passwords_are_never_stored_in_the_clear(app: Flask, operator: str) -> None:
    with session_scope(app) as s:
        stored = s.scalars(select(Operator.password_hash)).one()
    assert PASSWORD not in stored and stored.startswith("scrypt:")


def test_the_cookie_names_a_sign_in_the_store_knows_only_by_its_hash(app: Flask, admin: AdminClient) -> None:
    cookie = admin.session_cookie()
    data = app.session_interface.get_signing_serializer(app).loads(cookie)  # type: ignore[attr-defined]
    assert set(data) <= {"sign_in", "csrf_token", "lang", "_permanent", "_flashes"}
    store = get_store(app)
    assert store.get(signin.KEY + data["sign_in"]) is None
    stored = store.get(signin.KEY + hashlib.sha256(data["sign_in"].encode()).hexdigest())
    assert stored is not None and stored["operator_id"]

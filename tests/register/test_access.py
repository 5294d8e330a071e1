"""Who reaches the certification register: only accounts with the office role, which reach nothing else of the
operator area (tried by URL, as someone would by editing the address); operators reach everything they did and
not the register; nobody signed out; every form needs its CSRF token."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lti_tool.db import session_scope
from lti_tool.models import Certificate, CertificateEvent, RegisterAudit

from ..admin.conftest import AdminClient
from ..admin.test_access import PAGES as OPERATOR_PAGES
from ..admin.test_access import actions as operator_actions
from ..admin.test_access import snapshot
from ..admin.test_access import world as world  # the fixture
from ..peer import Launcher
from .conftest import complete, issue_certificate

REGISTER_PAGES = [
    "/admin/register",
    "/admin/register/export.csv",
    "/admin/register/code?code=AAAA-BBBB-CCCC",
    "/admin/register/audit",
]


def register_pages(entry_id: int) -> list[str]:
    return [*REGISTER_PAGES, f"/admin/register/{entry_id}"]


def register_actions(entry_id: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"/admin/register/{entry_id}/revoke", {"reason": "Täuschung festgestellt"}),
        (f"/admin/register/{entry_id}/reinstate", {"reason": "Irrtum"}),
    ]


@pytest.fixture
def entry(app: Flask, launcher: Launcher) -> int:
    done = complete(app, launcher, "lea", context="k1")
    issue_certificate(done)
    return done.entry_id


def revocations(app: Flask) -> tuple[int, int, int]:
    with session_scope(app) as s:
        return (
            int(s.scalar(select(func.count()).select_from(CertificateEvent)) or 0),
            int(
                s.scalar(
                    select(func.count()).select_from(Certificate).where(Certificate.revoked_at.is_not(None))
                )
                or 0
            ),
            int(s.scalar(select(func.count()).select_from(RegisterAudit)) or 0),
        )


def test_every_register_route_is_covered_here(app: Flask, entry: int) -> None:
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.register")
        for method in rule.methods - {"HEAD", "OPTIONS"}  # type: ignore[operator]
    }
    covered = {(p.split("?")[0].replace(str(entry), "<int:entry_id>"), "GET") for p in register_pages(entry)}
    covered |= {(p.replace(str(entry), "<int:entry_id>"), "POST") for p, _ in register_actions(entry)}
    assert routes == covered


def test_the_office_reaches_nothing_of_the_operator_area(
    app: Flask,
    office: AdminClient,
    world: dict[str, Any],
    entry: int,
) -> None:
    landing = office.get("/admin/")
    assert landing.status_code == 303 and landing.headers["Location"] == "/admin/register"
    for path in OPERATOR_PAGES[1:]:
        resp = office.get(path)
        assert resp.status_code == 403, path
        assert "role_refused" in resp.text and "Ihr Konto öffnet diese Seite nicht." in resp.text
        assert resp.headers["Cache-Control"] == "no-store"
    before = snapshot(app)
    for path, data in operator_actions(world):
        # Even with a valid CSRF token of its own sign-in.
        resp = office.post(path, data, page="/admin/register", any_token=True)
        assert resp.status_code == 403, path
    assert snapshot(app) == before
    nav = office.get("/admin/register").text
    assert 'href="/admin/platforms"' not in nav and 'href="/admin/keys"' not in nav
    assert "Zertifizierungsregister" in nav and 'href="/admin/register/audit"' in nav


def test_operators_reach_everything_as_before_but_not_the_register(
    app: Flask, operator_client: AdminClient, entry: int
) -> None:
    for path in OPERATOR_PAGES:
        assert operator_client.get(path).status_code == 200, path
    for path in register_pages(entry):
        resp = operator_client.get(path)
        assert resp.status_code == 403 and "role_refused" in resp.text, path
        assert "Lea Schneider" not in resp.text
    before = revocations(app)
    for path, data in register_actions(entry):
        resp = operator_client.post(path, data, page="/admin/", any_token=True)
        assert resp.status_code == 403, path
    assert revocations(app) == before
    assert 'href="/admin/register"' not in operator_client.get("/admin/").text


def test_signed_out_visitors_reach_nothing_of_the_register(app: Flask, accounts: None, entry: int) -> None:
    anonymous = AdminClient(app)
    for path in register_pages(entry):
        resp = anonymous.get(path)
        assert resp.status_code == 303 and resp.headers["Location"].startswith("/admin/login?next="), path
    before = revocations(app)
    for path, data in register_actions(entry):
        resp = anonymous.post(path, data, page="/admin/login", any_token=True)
        assert resp.status_code == 303 and resp.headers["Location"].startswith("/admin/login"), path
    assert revocations(app) == before


@pytest.mark.parametrize("token", [None, "", "forged-token", "from-another-session"])
def test_register_forms_need_their_csrf_token(
    app: Flask, office: AdminClient, entry: int, token: str | None
) -> None:
    if token == "from-another-session":
        from .conftest import OFFICE, OFFICE_PASSWORD, signed_in

        token = signed_in(app, OFFICE, OFFICE_PASSWORD).token("/admin/register")
    before = revocations(app)
    for path, data in register_actions(entry):
        form = dict(data) if token is None else {**data, "csrf_token": token}
        resp = office.client.post(path, data=form)
        assert resp.status_code == 403 and "csrf_failed" in resp.text, path
    assert revocations(app) == before


def test_an_lti_session_opens_no_register_page(app: Flask, launcher: Launcher, entry: int) -> None:
    teacher = launcher.launch_and_follow(
        sub="teacher",
        **{
            "https://purl.imsglobal.org/spec/lti/claim/roles": [
                "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
            ]
        },
    )
    assert teacher.status_code == 200
    for path in register_pages(entry):
        resp = launcher.browser.get(launcher.tool_url + path, allow_redirects=False)
        assert resp.status_code == 303 and "/admin/login" in resp.headers["Location"], path


def test_register_pages_are_never_cached_or_framed(office: AdminClient, entry: int) -> None:
    for path in register_pages(entry):
        resp = office.get(path, follow_redirects=False)
        assert resp.headers["Cache-Control"] == "no-store", path
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], path


def test_office_accounts_are_made_like_operators_with_their_role(app: Flask, runner: Any) -> None:
    made = runner.invoke(
        args=["admin", "create-user", "stelle", "--role", "office", "--password-stdin"],
        input="Zertifizierung im Rheinland 2026!\n",
    )
    assert made.exit_code == 0 and "Certification office account stelle created" in made.output, made.output
    plain = runner.invoke(
        args=["admin", "create-user", "ops2", "--password-stdin"], input="correct horse battery staple\n"
    )
    assert plain.exit_code == 0 and "Operator ops2 created" in plain.output
    wrong = runner.invoke(
        args=["admin", "create-user", "x1", "--role", "admin", "--password-stdin"],
        input="correct horse battery staple\n",
    )
    assert wrong.exit_code != 0 and "'admin' is not one of 'operator', 'office'" in wrong.output
    listing = runner.invoke(args=["admin", "list-users"]).output
    assert "stelle  role office" in listing and "ops2  role operator" in listing
    from .conftest import signed_in

    office = signed_in(app, "stelle", "Zertifizierung im Rheinland 2026!")
    assert office.get("/admin/").headers["Location"] == "/admin/register"
    assert office.get("/admin/platforms").status_code == 403

"""Launches from a second, independent platform: lti1p3platform (tests/lti/lti1p3platform_peer.py), over real HTTP.

A requests.Session is the browser: it follows the platform's start link through the tool's OIDC login to the
platform's authorisation endpoint, and posts the auto-submitting forms (launch form, deep linking return form) as a
browser without JavaScript would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import pytest
import requests
from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.models import Context, Deployment, Membership, ResourceLink, ToolSession, User

from ..forms import find_form, submit
from ..peer import ServerThread
from .lti1p3platform_peer import INSTRUCTOR, LEARNER, LtiPlatformPeer

SESSION_PAGE = re.compile(r"/s/[A-Za-z0-9_-]{20,}/")


@pytest.fixture
def lms(app: Flask, tool_server: ServerThread) -> Iterator[LtiPlatformPeer]:
    """The lti1p3platform peer, registered with the tool (as `scripts/flask platform add` does)."""
    peer = LtiPlatformPeer().start().use_tool(tool_server.url)
    spec = PlatformSpec(
        issuer=peer.issuer,
        client_id=peer.client_id,
        auth_login_url=peer.url + "/auth",
        auth_token_url=peer.url + "/token",
        jwks_url=peer.url + "/jwks",
        name="lti1p3platform peer",
    )
    with session_scope(app, write=True) as s:
        add_platform(s, spec, peer.deployment_id)
    yield peer
    peer.stop()


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def launch(browser: requests.Session, lms: LtiPlatformPeer, start_url: str) -> requests.Response:
    """Start at the platform, end wherever the tool's launch sends the browser."""
    form_page = browser.get(start_url)  # platform -> tool /lti/login -> platform /auth
    assert form_page.status_code == 200, (form_page.status_code, form_page.text[:500])
    assert form_page.url.startswith(lms.url + "/auth?")
    assert find_form(form_page, "id_token").action == lms.tool_launch_url
    return submit(browser, form_page, "id_token")


def test_learner_launch_lands_on_course_start(
    app: Flask, lms: LtiPlatformPeer, browser: requests.Session
) -> None:
    page = launch(browser, lms, lms.launch_url(LEARNER, locale="en-GB"))
    assert page.status_code == 200, page.text[:800]
    path = urlsplit(page.url).path
    assert SESSION_PAGE.fullmatch(path), path
    assert "Jonas Weber" in page.text
    assert "Testkurs Nachhaltigkeit" in page.text

    # The token is lti1p3platform's: signed with the peer's key (kid = JWK thumbprint), aud and azp = client_id.
    (token,) = lms.id_tokens
    assert jwt.get_unverified_header(token)["kid"] == lms.conf().get_jwks()["keys"][0]["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["aud"], claims["azp"]) == (lms.client_id, lms.client_id)

    with session_scope(app) as s:
        user = s.scalars(select(User)).one()
        assert (user.sub, user.name, user.given_name, user.family_name, user.email) == (
            "lms-user-7",
            "Jonas Weber",
            "Jonas",
            "Weber",
            "jonas.weber@example.net",
        )
        ctx = s.scalars(select(Context)).one()
        assert (ctx.context_id, ctx.title, ctx.label) == ("kurs-42", "Nachhaltigkeit im Alltag", "NACH-42")
        # set_nrps / set_ags claims reached the tool
        assert ctx.nrps_url == lms.url + "/api/contexts/kurs-42/memberships"
        assert ctx.lineitems_url == lms.url + "/api/contexts/kurs-42/lineitems"
        assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in (ctx.ags_scopes or [])
        link = s.scalars(select(ResourceLink)).one()
        assert (link.resource_link_id, link.title, link.course_id, link.module_id) == (
            "link-9",
            "Grundlagen der Nachhaltigkeit",
            "grundlagenkurs",
            None,
        )
        assert link.lineitem_url == lms.url + "/api/contexts/kurs-42/lineitems/link-9"
        assert s.scalars(select(Membership)).one().is_instructor is False
        tool_session = s.scalars(select(ToolSession)).one()
        assert (tool_session.message_type, tool_session.locale) == ("LtiResourceLinkRequest", "en")


def test_instructor_lands_on_teacher_page(
    app: Flask, lms: LtiPlatformPeer, browser: requests.Session
) -> None:
    page = launch(browser, lms, lms.launch_url(INSTRUCTOR, locale="de-DE"))
    assert page.status_code == 200, page.text[:800]
    assert urlsplit(page.url).path.endswith("/lehrende/")
    assert "<h1>Notenübersicht</h1>" in page.text
    with session_scope(app) as s:
        assert s.scalars(select(Membership)).one().is_instructor is True
        # The name claims of the other library's launch are read (the gradebook's compact header names the course,
        # not the teacher, since issue 13).
        assert s.scalars(select(User.name)).one() == "Anna Berg"
        assert s.scalars(select(ToolSession)).one().locale == "de"


def open_picker(browser: requests.Session, lms: LtiPlatformPeer) -> requests.Response:
    page = launch(browser, lms, lms.deep_link_url(INSTRUCTOR))
    assert page.status_code == 200, page.text[:800]
    assert urlsplit(page.url).path.endswith("/auswahl/")
    return page


def test_deep_linking_launch_opens_picker(
    app: Flask, lms: LtiPlatformPeer, browser: requests.Session
) -> None:
    picker = open_picker(browser, lms)
    form = find_form(picker, "item")
    assert form.choices == {"item": ["course", "modul-a", "modul-b"]}  # accept_multiple: checkboxes
    assert dict(form.fields)["csrf_token"]
    claims = jwt.decode(lms.id_tokens[-1], options={"verify_signature": False})
    assert claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] == "LtiDeepLinkingRequest"
    with session_scope(app) as s:
        assert s.scalars(select(ToolSession)).one().message_type == "LtiDeepLinkingRequest"
        assert s.scalars(select(ResourceLink)).all() == []


def test_deep_linking_round_trip(lms: LtiPlatformPeer, browser: requests.Session) -> None:
    picker = open_picker(browser, lms)
    returning = submit(browser, picker, "item", item=["course", "modul-b"])
    assert returning.status_code == 200, returning.text[:800]
    assert find_form(returning, "JWT").action == lms.url + "/deep-link/return"

    done = submit(browser, returning, "JWT")
    assert (done.status_code, done.text) == (200, "2 activities added")
    launch_url = lms.tool_launch_url
    assert lms.deep_link_items == [
        {
            "type": "ltiResourceLink",
            "title": "Testkurs Nachhaltigkeit",
            "url": launch_url,
            "lineItem": {
                "scoreMaximum": 100,
                "label": "Testkurs Nachhaltigkeit",
                "resourceId": "grundlagenkurs",
                "tag": "grundlagenkurs",
            },
            "custom": {"course": "grundlagenkurs"},
        },
        {
            "type": "ltiResourceLink",
            "title": "Testkurs Nachhaltigkeit: 2. Modul b",
            "url": launch_url,
            "lineItem": {
                "scoreMaximum": 100,
                "label": "Testkurs Nachhaltigkeit: 2. Modul b",
                "resourceId": "modul-b",
                "tag": "grundlagenkurs",
            },
            "custom": {"course": "grundlagenkurs", "module": "modul-b"},
        },
    ]
    # The response answered one request; posting it again is refused by the platform.
    again = submit(browser, returning, "JWT")
    assert (again.status_code, again.text) == (
        400,
        "deep linking response answers no request of this platform",
    )
    assert len(lms.deep_link_items) == 2


def test_choosing_nothing_shows_the_picker_again_as_a_422(
    lms: LtiPlatformPeer, browser: requests.Session
) -> None:
    picker = open_picker(browser, lms)
    again = submit(browser, picker, "item")  # nothing ticked
    assert again.status_code == 422, again.text[:800]
    assert "Bitte wählen Sie mindestens einen Eintrag aus." in again.text
    assert find_form(again, "item").choices == {"item": ["course", "modul-a", "modul-b"]}


def test_unknown_deployment_is_refused(app: Flask, lms: LtiPlatformPeer, browser: requests.Session) -> None:
    resp = launch(browser, lms, lms.launch_url(LEARNER, deployment="lti1p3platform-other"))
    assert resp.status_code == 403, resp.text[:800]
    assert "deployment_unknown" in resp.text
    assert "platform approve" in resp.text
    with session_scope(app) as s:
        dep = s.scalars(select(Deployment).where(Deployment.deployment_id == "lti1p3platform-other")).one()
        assert dep.active is False
        assert s.scalars(select(ToolSession)).all() == []


def test_platform_refuses_foreign_redirect_uri(lms: LtiPlatformPeer, browser: requests.Session) -> None:
    """The adapter's own check (lti1p3platform does not compare redirect_uri with the tool's launch URL)."""
    to_tool = browser.get(lms.launch_url(LEARNER), allow_redirects=False)
    assert to_tool.status_code == 302 and to_tool.headers["Location"].startswith(lms.tool_login_url + "?")
    to_platform = browser.get(to_tool.headers["Location"], allow_redirects=False)
    assert to_platform.status_code == 302
    auth = urlsplit(to_platform.headers["Location"])
    params = dict(parse_qsl(auth.query))
    assert params["redirect_uri"] == lms.tool_launch_url
    forged = browser.get(
        lms.url + "/auth?" + urlencode({**params, "redirect_uri": "https://attacker.example/collect"})
    )
    assert forged.status_code == 400
    assert "redirect_uri" in forged.text
    # The login was used up by the forged request; the genuine one cannot follow it.
    assert browser.get(to_platform.headers["Location"]).status_code == 400
    assert lms.id_tokens == []

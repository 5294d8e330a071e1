"""Every message the tool renders escapes the values put into it.

Refusal messages are lazy translations with the request's values filled in (an issuer, a deployment id, a
custom parameter). Flask-Babel's LazyString tells Jinja it is safe markup, so those values reached the page as
HTML (a `<meta http-equiv="refresh">` in `iss` sent the browser elsewhere). `lti_tool.i18n.LazyText` is text;
these tests put markup into each reflected field of each area and look at the page a browser gets.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, render_template_string

from lti_tool.db import session_scope
from lti_tool.lti.registration import issue_link

from .admin.conftest import PASSWORD, AdminClient
from .gradebook.conftest import add_learner, launch_teacher, place
from .lti.moodle_registrar import MoodleRegistrar
from .peer import LTI, Launcher, ServerThread

MARKUP = '<b data-x="inj">inj</b>'
RAW = "<b data-x="
ESCAPED = "&lt;b data-x=&#34;inj&#34;&gt;"
PACKAGE = Path(__file__).resolve().parent.parent / "lti_tool"


def assert_escaped(html: str) -> None:
    assert RAW not in html, html[:2000]
    assert ESCAPED in html, html[:2000]


def test_no_module_uses_flask_babels_lazy_strings() -> None:
    """The mechanism: Flask-Babel's lazy strings are imported nowhere but in lti_tool/i18n.py."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "i18n.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "flask_babel":
                names = {alias.name for alias in node.names}
                if names & {"lazy_gettext", "lazy_ngettext", "lazy_pgettext", "lazy_npgettext"}:
                    offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_a_lazy_message_is_text_in_a_page_and_plain_in_json(app: Flask) -> None:
    from lti_tool.i18n import lazy_gettext

    message = lazy_gettext(
        "This learning platform is not registered with the tool (issuer %(iss)s).", iss=MARKUP
    )
    with app.test_request_context("/", headers={"Accept-Language": "de"}):
        assert_escaped(render_template_string("<p>{{ m }}</p>", m=message))
        assert MARKUP in str(message)  # the JSON answer and the log get the plain text


def test_login_reflects_the_issuer_as_text(launcher: Launcher) -> None:
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={"iss": MARKUP, "login_hint": "x", "target_link_uri": launcher.launch_url},
    )
    assert resp.status_code == 400 and "unknown_issuer" in resp.text
    assert_escaped(resp.text)


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({LTI + "message_type": MARKUP}, "message_type_unsupported"),
        ({LTI + "version": MARKUP}, "version_unsupported"),
        ({LTI + "deployment_id": MARKUP}, "deployment_unknown"),
        ({LTI + "custom": {"course": MARKUP}}, "unknown_course"),
        ({LTI + "custom": {"course": "grundlagenkurs", "module": MARKUP}}, "unknown_module"),
    ],
)
def test_launch_refusals_reflect_claims_as_text(
    launcher: Launcher, claims: dict[str, Any], code: str
) -> None:
    resp = launcher.launch(**claims)
    assert resp.status_code in (400, 403, 404) and code in resp.text, resp.text[:500]
    assert_escaped(resp.text)


def test_registration_reflects_the_platforms_issuer_as_text(app: Flask, tool_server: ServerThread) -> None:
    impostor = MoodleRegistrar(issuer_override="https://moodle.example.org/" + MARKUP)
    try:
        with session_scope(app, write=True) as s:
            token, _link = issue_link(s, 3600)
        resp = requests.get(
            tool_server.url + "/lti/register",
            params={
                "t": token,
                "openid_configuration": impostor.openid_configuration,
                "registration_token": impostor.registration_token(),
            },
        )
        assert resp.status_code == 400 and "registration_issuer_mismatch" in resp.text
        assert_escaped(resp.text)
    finally:
        impostor.stop()


def test_deep_linking_refusal_as_text(launcher: Launcher) -> None:
    """A teacher who opens the picker outside a deep-linking launch is refused; nothing is reflected raw."""
    teacher = launch_teacher(launcher, sub="teacher-dl")
    resp = teacher.get("auswahl/", params={"x": MARKUP})
    assert resp.status_code == 403 and "not_deep_linking" in resp.text and RAW not in resp.text


def test_admin_pages_show_a_platform_name_as_text(app: Flask) -> None:
    from lti_tool.admin.accounts import create_operator

    with session_scope(app, write=True) as s:
        create_operator(s, "ops", PASSWORD)
    admin = AdminClient(app)
    assert admin.login().status_code == 303
    form = {
        "issuer": "https://moodle.example.org",
        "client_id": "abc",
        "auth_login_url": "https://moodle.example.org/mod/lti/auth.php",
        "auth_token_url": "https://moodle.example.org/mod/lti/token.php",
        "jwks_url": "https://moodle.example.org/mod/lti/certs.php",
        "deployment_id": MARKUP,
        "name": MARKUP,
    }
    resp = admin.post("/admin/platforms/new", form, page="/admin/platforms/new")
    assert resp.status_code == 303
    listing = admin.get("/admin/platforms")
    assert listing.status_code == 200
    assert_escaped(listing.text)  # the flash message "Platform … added; deployment … is active" and the list


def test_gradebook_shows_the_platforms_reason_as_text(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    lea = add_learner(app, place(app), "learner-x", name="Lea", grade_state="failed", grade_error=MARKUP)
    page = teacher.get(
        f"lehrende/lernende/{lea}"
    )  # the gradebook's list names the failure, this page its reason
    assert page.status_code == 200
    assert_escaped(page.text)


@pytest.mark.parametrize("path", ["uebersicht?a=1", "m/modul-a/01-einstieg"])
def test_page_links_follow_the_configured_base_url_not_the_host_header(
    app: Flask, launcher: Launcher, path: str
) -> None:
    """With BASE_URL set, a request's `Host` header ends up in no link (the "open in a new window" link was
    request.url: the session's address on whatever host the request named)."""
    app.config["BASE_URL"] = launcher.tool_url
    start = launcher.launch_and_follow()
    assert start.status_code == 200
    url = start.url.split("/s/", 1)[0] + "/s/" + start.url.split("/s/", 1)[1].split("/", 1)[0] + "/" + path
    for _ in range(2):  # a lesson page is kept after the first request and filled in for the second
        resp = launcher.browser.get(url, headers={"Host": "evil.example"})
        assert resp.status_code == 200
        assert "evil.example" not in resp.text
        assert f'href="{url}" target="_blank"' in resp.text

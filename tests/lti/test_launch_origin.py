"""Login CSRF at /lti/launch: a state and id_token one person obtained, posted from another site into a browser
that sends no cookie, must not open that person's session there. Browsers send `Origin` with every POST; the
platform's form comes from the platform's origin (Moodle's auth.php answer), so that is the origin accepted."""

from __future__ import annotations

import requests
from flask import Flask

from ..forms import submit
from ..peer import Launcher
from .test_launch_refusals import assert_refused


def stolen_launch(launcher: Launcher) -> tuple[str, str]:
    """What an attacker has after logging in as themselves and not submitting the platform's form."""
    login = launcher.login()
    return launcher.peer.sign(launcher.claims(login.nonce, sub="attacker")), login.state


def victim_post(launcher: Launcher, token: str, state: str, origin: str | None) -> requests.Response:
    victim = requests.Session()  # a browser without the tool's cookie (third-party cookies blocked)
    headers = {"Origin": origin} if origin is not None else {}
    return victim.post(
        launcher.launch_url, data={"id_token": token, "state": state}, headers=headers, allow_redirects=False
    )


def test_a_launch_posted_from_another_site_is_refused(app: Flask, launcher: Launcher) -> None:
    token, state = stolen_launch(launcher)
    assert_refused(
        app, victim_post(launcher, token, state, "https://evil.example"), "launch_origin_foreign", 403
    )


def test_the_tools_own_origin_is_not_the_platforms(app: Flask, launcher: Launcher) -> None:
    token, state = stolen_launch(launcher)
    assert_refused(app, victim_post(launcher, token, state, launcher.tool_url), "launch_origin_foreign", 403)


def test_a_cookieless_launch_from_the_platforms_origin_works(launcher: Launcher) -> None:
    """Moodle in an iframe where third-party cookies are blocked: its form posts from Moodle's origin."""
    token, state = stolen_launch(launcher)
    resp = victim_post(launcher, token, state, launcher.platform_origin)
    assert resp.status_code == 303, resp.text[:500]


def test_origin_null_needs_the_browser_cookie(app: Flask, launcher: Launcher) -> None:
    """Anyone can make a browser send `Origin: null` (a sandboxed frame, a no-referrer page), so it is accepted
    only from the browser that began the login (its cookie matches the state)."""
    token, state = stolen_launch(launcher)
    assert_refused(app, victim_post(launcher, token, state, "null"), "launch_origin_hidden", 403)
    login = launcher.login()
    # Chromium sends the Secure cookie to http://127.0.0.1 (a trustworthy origin); requests needs it unflagged.
    cookie = login.response.cookies["nama_lti_browser"]
    launcher.browser.cookies.clear()
    launcher.browser.cookies.set("nama_lti_browser", cookie, path="/lti/")
    own = launcher.peer.sign(launcher.claims(login.nonce))
    assert launcher.post_launch(own, login.state, origin="null").status_code == 303


def test_no_origin_is_left_to_the_other_checks(launcher: Launcher) -> None:
    token, state = stolen_launch(launcher)
    assert victim_post(launcher, token, state, None).status_code == 303


def test_the_platforms_auto_submit_form_carries_its_origin(launcher: Launcher) -> None:
    """The test browser (tests/forms.py) sends Origin like Chromium: the origin of the page holding the form."""
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    form_page = requests.Response()
    form_page.url = launcher.peer.auth_url
    form_page._content = (
        f'<form action="{launcher.launch_url}" method="post"><input type="hidden" name="id_token" value="{token}">'
        f'<input type="hidden" name="state" value="{login.state}"></form>'
    ).encode()
    form_page.encoding = "utf-8"
    page = submit(launcher.browser, form_page, "id_token")
    assert page.status_code == 200 and "Lea Schneider" in page.text
    assert page.history[0].request.headers["Origin"] == launcher.platform_origin

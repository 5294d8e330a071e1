"""The operator area in headless Chromium: every page without an axe-core violation (WCAG 2.1 A/AA) at desktop
and phone width, and the main flows done with the keyboard only: sign in, approve a deployment, issue a
registration link, rotate the keys, send a failed grade again, sign out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.admin.accounts import create_operator
from lti_tool.db import session_scope
from lti_tool.grading.outbox import heartbeat
from lti_tool.lti.platforms import set_deployment_active
from lti_tool.lti.registration import issue_link
from lti_tool.models import (
    Deployment,
    GradeOutbox,
    Platform,
    RegistrationLink,
    ToolKey,
    utcnow,
)

from ..admin import seed
from ..peer import ServerThread
from .conftest import assert_no_axe_violations

pytestmark = pytest.mark.browser

USERNAME, PASSWORD = "betrieb", "ein langes Passwort für den Test"
PAGES = [
    ("/admin/", "overview"),
    ("/admin/platforms", "platforms"),
    ("/admin/platforms/new", "add platform"),
    ("/admin/registration-links", "registration links"),
    ("/admin/keys", "keys"),
    ("/admin/keys/rotate", "rotate keys"),
    ("/admin/grades", "grade outbox"),
    ("/admin/health", "health"),
]


def tab_to(page: Any, selector: str, *, limit: int = 60) -> None:
    """Move the focus with Tab (only) until it is on `selector`; the focus must be visible there."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(sel) => document.activeElement && document.activeElement.matches(sel)", selector):
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"focus on {selector} is not visible"
            return
    raise AssertionError(f"Tab never reached {selector}")


@pytest.fixture
def operated(app: Flask) -> dict[str, Any]:
    """An operator, a platform with a deployment awaiting approval, a learner whose grade failed, a worker."""
    deployment = seed.platform(app, "https://moodle.kreis-dueren.example")
    learner = seed.learner(app, deployment, "moodle-user-17")
    with session_scope(app, write=True) as s:
        create_operator(s, USERNAME, PASSWORD)
        waiting = set_deployment_active(s, s.get_one(Platform, deployment.platform_id), "2", False)
        heartbeat(s, "web-1", hostname="host-a", pid=11, started_at=utcnow(), delivered=0)
        _, old_link = issue_link(s, 86400, note="Alt")  # issued as the operator area does, then run out:
        old_link.expires_at = utcnow() - dt.timedelta(days=1)  # (time passing is what the test stands in for)
        s.flush()
        return {"learner": learner, "waiting_pk": waiting.id}


@pytest.fixture
def page_at(chromium: Any, tool_server: ServerThread) -> Iterator[Any]:
    contexts: list[Any] = []

    def open_page(width: int) -> Any:
        context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.base_url = tool_server.url
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in_by_keyboard(page: Any, password: str = PASSWORD) -> None:
    page.goto(page.base_url + "/admin/login")
    tab_to(page, "#username")
    page.keyboard.type(USERNAME)
    tab_to(page, "#password")
    page.keyboard.type(password)
    enter(page)


def enter(page: Any) -> None:
    """Press Enter on the focused link or button and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


@pytest.mark.parametrize("width", [1280, 360])
def test_every_operator_page_passes_axe(page_at: Any, operated: dict[str, Any], width: int) -> None:
    page = page_at(width)
    page.goto(page.base_url + "/admin/login")
    assert_no_axe_violations(page, f"sign-in ({width}px)")
    sign_in_by_keyboard(page, password="ein falsches Passwort!")
    assert "Benutzername oder Passwort ist falsch." in page.inner_text("main")
    assert_no_axe_violations(page, f"sign-in with error ({width}px)")
    sign_in_by_keyboard(page)
    assert page.url == page.base_url + "/admin/"
    for path, label in PAGES:
        page.goto(page.base_url + path)
        assert page.title().endswith("– NaMa NRW"), path
        assert_no_axe_violations(page, f"{label} ({width}px)")
    # Pages in their other states: a form with errors, a link just issued, messages after actions.
    page.goto(page.base_url + "/admin/platforms/new")
    page.click("main form button[type=submit]")
    page.wait_for_selector(".notice--error")
    assert_no_axe_violations(page, f"add platform with errors ({width}px)")
    page.goto(page.base_url + "/admin/registration-links")
    page.fill("#note", "Kreis Düren")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#issued-url")
    assert_no_axe_violations(page, f"registration link issued ({width}px)")
    page.goto(page.base_url + "/admin/grades?lang=en")
    assert_no_axe_violations(page, f"grade outbox in English ({width}px)")


@pytest.mark.parametrize("width", [1280, 360])
def test_layout_lines_up_sign_out_is_not_the_main_action_and_a_new_link_copies(
    page_at: Any, operated: dict[str, Any], width: int
) -> None:
    page = page_at(width)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in_by_keyboard(page)
    page.goto(page.base_url + "/admin/registration-links")
    page.fill("#note", "Kreis Düren")
    # The new page's stylesheets must have loaded before its computed styles are read: the element alone can be
    # there while admin.css is still on its way (seen once in CI under load: the browser's default button grey).
    with page.expect_navigation(wait_until="load"):
        page.click("main form button[type=submit]")
    page.wait_for_selector("#issued-url")

    # Header, content and footer start at the same left edge (their content boxes).
    edges = page.evaluate(
        """() => ['.site-header__inner', 'main', '.site-footer__inner'].map((sel) => {
            const el = document.querySelector(sel);
            return Math.round(el.getBoundingClientRect().left + parseFloat(getComputedStyle(el).paddingLeft));
        })"""
    )
    assert len(set(edges)) == 1, edges

    # "Sign out" does not look like the page's main action (the filled button of the form).
    def background(selector: str) -> str:
        return str(
            page.evaluate("(sel) => getComputedStyle(document.querySelector(sel)).backgroundColor", selector)
        )

    assert background("main form.admin-form button[type=submit]") == "rgb(11, 92, 46)"
    assert background(".admin-signout button") == "rgba(0, 0, 0, 0)"

    # The link just issued is copied with its button; the page says so.
    issued = page.input_value("#issued-url")
    page.click("button[data-copy=issued-url]")
    page.wait_for_function("() => document.querySelector('[data-copy-status]').textContent !== ''")
    assert page.inner_text("[data-copy-status]") == "Kopiert."
    assert page.evaluate("navigator.clipboard.readText()") == issued


def test_wide_tables_on_a_phone_keep_their_caption_in_sight_and_show_there_is_more(
    page_at: Any, operated: dict[str, Any]
) -> None:
    page = page_at(360)
    sign_in_by_keyboard(page)
    for path in ("/admin/platforms", "/admin/grades"):
        page.goto(page.base_url + path)
        regions = page.evaluate(
            """() => [...document.querySelectorAll('.table-wrap')].map((wrap) => ({
                wider: wrap.scrollWidth > wrap.clientWidth,
                shadow: getComputedStyle(wrap).backgroundImage.includes('gradient'),
                captionRight: Math.round(wrap.querySelector('caption').getBoundingClientRect().right),
                screen: document.documentElement.clientWidth,
            }))"""
        )
        assert any(r["wider"] for r in regions), (path, regions)  # the case this is about
        for r in regions:
            assert r["captionRight"] <= r["screen"], (path, r)  # the caption wraps on screen
            assert r["shadow"], (path, r)  # the edge shadow says there are more columns


@pytest.fixture
def keys_restored(app: Flask) -> Iterator[None]:
    with seed.keys_restored(app):
        yield


def test_main_flows_with_the_keyboard_only(
    app: Flask, page_at: Any, operated: dict[str, Any], keys_restored: None
) -> None:
    page = page_at(1280)
    sign_in_by_keyboard(page)
    assert "Angemeldet als betrieb" in page.inner_text("header")

    # Approve the deployment that waits.
    tab_to(page, '.admin-nav a[href="/admin/platforms"]')
    enter(page)
    page.wait_for_url("**/admin/platforms")
    tab_to(page, f'form[action="/admin/deployments/{operated["waiting_pk"]}/approve"] button')
    enter(page)
    page.wait_for_selector(".admin-messages")
    assert "Deployment 2 von Moodle moodle.kreis-dueren.example ist aktiv" in page.inner_text(
        ".admin-messages"
    )
    with session_scope(app) as s:
        assert s.get(Deployment, operated["waiting_pk"]).active  # type: ignore[union-attr]

    # Issue a registration link: type the note, choose 14 days with the arrow keys, send.
    tab_to(page, '.admin-nav a[href="/admin/registration-links"]')
    enter(page)
    page.wait_for_url("**/admin/registration-links")
    tab_to(page, "#note")
    page.keyboard.type("Stadt Aachen")
    tab_to(page, "#days")
    page.keyboard.press("ArrowDown")
    assert page.input_value("#days") == "14"
    tab_to(page, "main form button[type=submit]")
    enter(page)
    page.wait_for_selector("#issued-url")
    assert "/lti/register?t=" in page.input_value("#issued-url")
    with session_scope(app) as s:
        link = s.scalars(select(RegistrationLink).where(RegistrationLink.note == "Stadt Aachen")).one()
        assert dt.timedelta(days=13) < link.expires_at - utcnow() <= dt.timedelta(days=14)

    # Rotate the keys through the confirmation page.
    with session_scope(app) as s:
        upcoming = s.scalars(select(ToolKey.kid).where(ToolKey.state == "next")).one()
    tab_to(page, '.admin-nav a[href="/admin/keys"]')
    enter(page)
    page.wait_for_url("**/admin/keys")
    tab_to(page, 'a[href="/admin/keys/rotate"]')
    enter(page)
    page.wait_for_url("**/admin/keys/rotate")
    tab_to(page, "main form button[type=submit]")
    enter(page)
    page.wait_for_url("**/admin/keys")
    assert f"Ab jetzt signiert Schlüssel {upcoming}" in page.inner_text(".admin-messages")
    with session_scope(app) as s:
        assert s.scalars(select(ToolKey.kid).where(ToolKey.state == "current")).one() == upcoming

    # Send the failed grade again.
    failed_id = operated["learner"].failed_grade_id
    tab_to(page, '.admin-nav a[href="/admin/grades"]')
    enter(page)
    page.wait_for_url("**/admin/grades")
    tab_to(page, f'form:has(input[name=row][value="{failed_id}"]) button')
    enter(page)
    page.wait_for_selector(".admin-messages")
    assert "Erneut eingereihte Bewertungen: 1." in page.inner_text(".admin-messages")
    with session_scope(app) as s:
        assert s.scalars(select(GradeOutbox.state).order_by(GradeOutbox.id.desc())).first() == "pending"

    # Sign out.
    tab_to(page, ".admin-signout button")
    enter(page)
    page.wait_for_url("**/admin/login")
    assert "Sie sind abgemeldet." in page.inner_text("main")
    page.goto(page.base_url + "/admin/grades")
    assert page.url.startswith(page.base_url + "/admin/login")


def test_the_axe_check_finds_a_known_violation(chromium: Any) -> None:
    """The checks above mean something: the same harness flags an unlabelled field."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_content(
            "<!doctype html><html lang='de'><title>t</title><main><input type='text'></main></html>"
        )
        with pytest.raises(AssertionError, match="label"):
            assert_no_axe_violations(page, "a page with an unlabelled field")
    finally:
        context.close()

"""The certification register in headless Chromium: every page without an axe-core violation (WCAG 2.1 A/AA),
without sideways scrolling, at 1280 and 360 px, including a revoked certificate on the public check page and on
the learner's page; and the office's work done with the keyboard only: sign in, search, open a record, revoke
with a reason, read the audit trail, sign out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.models import Certificate
from lti_tool.register import entries

from ..peer import Launcher, ServerThread
from ..register.conftest import OFFICE, OFFICE_PASSWORD, complete, issue_certificate
from .test_admin_a11y import enter, tab_to
from .test_learner_a11y import check_page

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("NAMA_SCREENSHOTS", "")  # a folder: also save what the pages look like (for people)


@pytest.fixture
def register_world(app: Flask, launcher: Launcher, accounts: None) -> dict[str, Any]:
    lea = complete(
        app, launcher, "lea", name="Lea Schneider", context="k1", context_title="Düren Frühjahr 2026"
    )
    code = issue_certificate(lea)
    complete(app, launcher, "max", name="Maximilian Öztürk-Hohenstein", context="k2", context_title="Aachen")
    complete(
        app, launcher, "eva", name="Eva Wagner", email="eva.wagner@kreis-heinsberg.example", context="k2"
    )
    return {"lea": lea, "code": code}


@pytest.fixture
def accounts(app: Flask) -> None:
    from lti_tool.admin.accounts import Role, create_operator

    with session_scope(app, write=True) as s:
        create_operator(s, OFFICE, OFFICE_PASSWORD, Role.OFFICE)


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


def sign_in(page: Any) -> None:
    page.goto(page.base_url + "/admin/login")
    tab_to(page, "#username")
    page.keyboard.type(OFFICE)
    tab_to(page, "#password")
    page.keyboard.type(OFFICE_PASSWORD)
    enter(page)


def look(page: Any, name: str, width: int) -> None:
    """Check the page; with NAMA_SCREENSHOTS also keep a picture of it."""
    check_page(page.main_frame, name, width)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name.replace(' ', '-')}-{width}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 360])
def test_register_pages_pass_axe(
    page_at: Any, register_world: dict[str, Any], width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = page_at(width)
    sign_in(page)
    assert page.url == page.base_url + "/admin/register"
    assert "3 Abschlüsse" in page.inner_text("main")
    look(page, "register", width)
    page.goto(page.base_url + "/admin/register?q=%C3%B6zt%C3%BCrk")
    assert "1 Abschluss" in page.inner_text("main")
    look(page, "register search", width)
    page.goto(page.base_url + "/admin/register?von=2026-13-01&kurs=x")
    assert "Diese Filter wurden nicht angewendet" in page.inner_text("main")
    look(page, "register filter errors", width)
    page.goto(page.base_url + "/admin/register?q=niemand")
    look(page, "register nothing found", width)
    # Above the bound: "more than", and a pager without a last page.
    monkeypatch.setattr(entries, "COUNT_BOUND", 2)
    monkeypatch.setattr(entries, "PAGE_SIZE", 1)
    page.goto(page.base_url + "/admin/register?q=example&seite=2")
    assert "Mehr als 2 Abschlüsse" in page.inner_text("main") and "Seite 2" in page.inner_text("main")
    look(page, "register broad search", width)
    monkeypatch.undo()
    page.goto(page.base_url + "/admin/register/code?code=AAAA-BBBB-CCCC")
    look(page, "register code unknown", width)

    lea = register_world["lea"]
    page.goto(page.base_url + f"/admin/register/{lea.entry_id}")
    assert register_world["code"] in page.inner_text("main")
    look(page, "register record", width)
    page.click("main form button[type=submit]")  # no reason given
    page.wait_for_selector(".field__error")
    look(page, "register record reason missing", width)
    page.fill("#reason", "Die Quizze hat eine andere Person abgelegt.")
    page.click("main form button[type=submit]")
    page.wait_for_selector(".admin-messages")
    assert "ist widerrufen" in page.inner_text(".admin-messages")
    look(page, "register record revoked", width)
    page.goto(page.base_url + "/admin/register/audit")
    look(page, "register audit", width)
    page.goto(page.base_url + "/admin/register?lang=en")
    assert "Certification register" in page.inner_text("h1")
    look(page, "register english", width)

    public = page.context.new_page()
    public.goto(f"{page.base_url}/verify/{register_world['code']}")
    assert "Widerrufen." in public.inner_text("main")
    look(public, "verify revoked", width)
    learner = page.context.new_page()
    learner.goto(lea.learner.url("bescheinigung/"))
    assert "wurde am" in learner.inner_text("main") and "widerrufen" in learner.inner_text("main")
    look(learner, "certificate revoked", width)


def test_the_office_works_with_the_keyboard_only(
    app: Flask, page_at: Any, register_world: dict[str, Any]
) -> None:
    page = page_at(1280)
    sign_in(page)
    assert "Angemeldet als pruefstelle" in page.inner_text("header")

    # Search by name: type into the search field, Enter sends the form.
    tab_to(page, "#q")
    page.keyboard.type("schneider")
    enter(page)
    assert "1 Abschluss" in page.inner_text("main")

    # Open the record from the table.
    lea = register_world["lea"]
    tab_to(page, f'a[href="/admin/register/{lea.entry_id}"]')
    enter(page)
    page.wait_for_url(f"**/admin/register/{lea.entry_id}")

    # Revoke with a reason.
    tab_to(page, "#reason")
    page.keyboard.type("Täuschung festgestellt")
    tab_to(page, "main form button[type=submit]")
    enter(page)
    page.wait_for_selector(".admin-messages")
    assert "ist widerrufen" in page.inner_text(".admin-messages")
    with session_scope(app) as s:
        cert = s.scalars(select(Certificate)).first()
        assert cert is not None and cert.revoked_reason == "Täuschung festgestellt"

    # Look a code up.
    tab_to(page, '.admin-nav a[href="/admin/register"]')
    enter(page)
    tab_to(page, "#code")
    page.keyboard.type(register_world["code"].lower())
    enter(page)
    page.wait_for_url(f"**/admin/register/{lea.entry_id}")

    # The audit trail shows it, with the account's name.
    tab_to(page, '.admin-nav a[href="/admin/register/audit"]')
    enter(page)
    trail = page.inner_text("main")
    assert "hat die Bescheinigung widerrufen" in trail and "pruefstelle" in trail

    tab_to(page, ".admin-signout button")
    enter(page)
    page.wait_for_url("**/admin/login")

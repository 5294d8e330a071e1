"""The glossary, a course page, the practice task with its model answer after submitting, the exchange with its
compare prompt (inside the LMS's iframe) and the reviewer's view (operator area) in headless Chromium: no axe-core
violation (WCAG 2.1 A/AA) at 1280 and 360 px, nothing wider than the screen, one h1, and the links between them
work with the keyboard.

With NAMA_SCREENSHOTS=<folder> the pages are also saved as full-page PNGs there, to look at them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool.admin.accounts import create_operator
from lti_tool.db import session_scope

from ..course.learner import Learner
from ..peer import ServerThread
from .conftest import EmbeddingLms, assert_no_axe_violations, open_in_lms
from .test_learner_a11y import Keyboard, check_page, sticking_out

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("NAMA_SCREENSHOTS", "")


def look(target: Any, page: Any, name: str, width: int) -> None:
    """Save a full-page screenshot when NAMA_SCREENSHOTS names a folder (for people, not for the test)."""
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    if target is page:
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
        return
    alone = page.context.new_page()  # the frame's page on its own (the session travels in its URL)
    try:
        alone.goto(target.url)
        alone.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    finally:
        alone.close()


@pytest.mark.parametrize("width", [1280, 360])
def test_glossary_pages_model_answer_and_exchange_in_the_lms_iframe(
    app: Flask, lms: EmbeddingLms, chromium: Any, width: int
) -> None:
    for sub, name, text in (
        ("peer-1", "Jonas", "In unserer Kommune gibt es einen Klimabeirat, der zweimal im Jahr tagt."),
        ("peer-2", "Aylin", "Wir haben 2024 einen Nachhaltigkeitsbericht mit zwölf Indikatoren beschlossen."),
    ):
        peer = Learner.launch(lms.http_launcher(), sub=sub, given_name=name)
        assert peer.post("m/modul-a/praxis", {"text": text}).status_code == 200

    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "learner-1", given_name="Lea", name="Lea Schneider")
        keys = Keyboard(page, frame)

        keys.follow(".course-links a[href$='/seiten/anrechnung']", "/seiten/anrechnung")
        assert "Über die Anrechnung entscheidet" in frame.inner_text("main")
        check_page(frame, "course page", width)
        look(frame, page, "course-page", width)

        keys.follow("main .lesson__text a[href*='glossar#begriff-sdg']", "/glossar")
        assert frame.evaluate("location.hash") == "#begriff-sdg"
        assert "Ziele für nachhaltige Entwicklung" in frame.inner_text("#begriff-sdg")
        check_page(frame, "glossary", width)
        look(frame, page, "glossary", width)
        keys.follow(".letter-index a[href='#buchstabe-i']", "/glossar")
        assert frame.evaluate("location.hash") == "#buchstabe-i"

        # The model answer is not in the practice page before submitting, and is there afterwards.
        frame.goto(frame.url.split("/glossar")[0] + "/m/modul-a/praxis")
        frame.wait_for_load_state()
        assert frame.query_selector(".model-answer") is None
        keys.tab_to("#practice-text")
        page.keyboard.type(
            "Unsere Kommune hat 2024 einen Nachhaltigkeitsbericht beschlossen und prüft ihn jährlich."
        )
        keys.activate("main form button[type=submit]")
        frame.wait_for_url("**gespeichert=neu**")
        assert "Eine gute Antwort nennt die Kommune" in frame.inner_text(".model-answer")
        check_page(frame, "practice task with model answer", width)
        look(frame, page, "practice-model-answer", width)
        keys.follow(".notice a[href='#model-answer-title']", "#model-answer-title")

        keys.follow(".notice a[href$='/austausch']", "/m/modul-a/austausch")
        section = frame.inner_text(".exchange-round")
        assert "mindestens zwei Kolleg*innen" in section
        keys.activate(".own-answer summary")
        assert frame.is_visible(".own-answer .user-text")
        check_page(frame, "exchange with compare prompt", width)
        look(frame, page, "exchange", width)
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 360])
def test_reviewers_view_in_the_operator_area(
    app: Flask, tool_server: ServerThread, chromium: Any, width: int
) -> None:
    with session_scope(app, write=True) as s:
        create_operator(s, "pruefung", "ein langes Passwort für die Prüfung")
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(tool_server.url + "/admin/courses")
        page.fill("#username", "pruefung")
        page.fill("#password", "ein langes Passwort für die Prüfung")
        page.click("main button[type=submit]")
        page.wait_for_url("**/admin/courses")
        assert_no_axe_violations(page, f"course list at {width}px")
        look(page, page, "review-courses", width)

        page.click("a[href$='/grundlagenkurs/review']")
        page.wait_for_url("**/review")
        page.wait_for_load_state()
        assert_no_axe_violations(page, f"reviewer's view at {width}px")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"reviewer's view scrolls sideways by {overflow}px: {sticking_out(page)}"
        assert page.evaluate("document.querySelectorAll('h1').length") == 1
        page.click(".review-toc a[href='#modul.modul-a']")
        assert page.evaluate("location.hash") == "#modul.modul-a"
        look(page, page, "review", width)

        # The print layout: no operator navigation, every part on a new page, addresses of web links shown.
        page.emulate_media(media="print")
        assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).display") == "none"
        assert page.evaluate("getComputedStyle(document.querySelector('.review-part')).breakBefore") == "page"
        if SHOTS:
            page.pdf(path=f"{SHOTS}/review-print-{width}.pdf", format="A4")
    finally:
        context.close()

"""The assessment pages in headless Chromium inside the LMS's iframe: a result that did not pass and one that did,
the overview with progress, the ordering question's move buttons and what they announce, a quiz locked by the
course's attempt policy, a pool course's quiz and result, and the registration values page. axe-core finds nothing,
nothing scrolls sideways and no heading, table or legend breaks a word without a hyphen, at 1280 and 360 px."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from ..course.learner import Learner, take_quiz
from ..peer import LTI
from .conftest import EmbeddingLms, open_in_lms
from .test_learner_a11y import check_page

pytestmark = pytest.mark.browser


def _base(frame: Any) -> str:
    url = str(frame.url)
    return url.split("/s/")[0] + "/s/" + url.split("/s/")[1].split("/")[0]


def _go(frame: Any, url: str) -> None:
    frame.goto(url)
    frame.wait_for_load_state()


@pytest.mark.parametrize("width", [1280, 360])
def test_results_overview_and_ordering_in_the_lms(
    app: Flask, lms: EmbeddingLms, chromium: Any, width: int
) -> None:
    learner = Learner.launch(lms.http_launcher(), sub="learner-1", name="Lea Schneider")
    for lesson in ("01-einstieg", "02-vertiefung"):
        learner.get(f"m/modul-a/{lesson}")
    take_quiz(app, learner, "modul-a", right=1)
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "learner-1", name="Lea Schneider")
        base = _base(frame)

        _go(frame, base + "/m/modul-a/ergebnis")
        assert "Noch nicht bestanden" in frame.inner_text("#result-summary")
        check_page(frame, "result, not passed", width)

        _go(frame, base + "/m/modul-a/quiz")
        ordering = frame.locator("fieldset:has(ul.ordering)")
        items = ordering.locator(".ordering__item")
        first = items.nth(0).locator(".ordering__text").inner_text()
        assert items.nth(0).locator(".ordering__up").is_disabled()  # the first item cannot move further up
        items.nth(0).locator(".ordering__down").click()
        # the list shows the new order, the select says it, and the live region tells a screen reader
        assert items.nth(1).locator(".ordering__text").inner_text() == first
        assert items.nth(1).locator("select").input_value() == "2"
        live = ordering.locator("[aria-live=polite]").inner_text()
        assert "jetzt an Position 2 von" in live and first.replace("\xad", "") in live
        check_page(frame, "quiz with ordering buttons", width)

        take_quiz(app, learner, "modul-a")
        _go(frame, base + "/m/modul-a/ergebnis")
        assert "Bestanden" in frame.inner_text("#result-summary")
        check_page(frame, "result, passed", width)

        _go(frame, base + "/uebersicht")
        assert frame.locator("progress.course-progress__bar").get_attribute("max") == "2"
        check_page(frame, "overview with progress", width)

        page.goto(f"{lms.tool_url}/lti/config")
        check_page(page.main_frame, "registration values", width)
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 360])
def test_locked_quiz_and_pool_course_in_the_lms(
    app: Flask, lms: EmbeddingLms, chromium: Any, width: int
) -> None:
    takt = {LTI + "custom": {"course": "taktkurs"}}
    pool = {LTI + "custom": {"course": "poolkurs"}}
    learner = Learner.launch(lms.http_launcher(), sub="learner-2", name="Jonas Weber", **takt)
    take_quiz(app, learner, "takt", right=0, course_id="taktkurs")  # not passed: the course asks to wait
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "learner-2", name="Jonas Weber", **takt)
        _go(frame, _base(frame) + "/m/takt/quiz")
        assert frame.locator("form.quiz").count() == 0  # locked: no form to send
        check_page(frame, "quiz locked", width)

        frame = open_in_lms(page, lms, "learner-3", name="Mia Wagner", **pool)
        base = _base(frame)
        _go(frame, base + "/m/pool/quiz")
        assert frame.locator("fieldset.question").count() == 4  # drawn from the pool
        check_page(frame, "pool quiz", width)
        pool_learner = Learner.launch(lms.http_launcher(), sub="learner-3", name="Mia Wagner", **pool)
        take_quiz(app, pool_learner, "pool", right=4, course_id="poolkurs")
        _go(frame, base + "/m/pool/ergebnis")
        check_page(frame, "pool result", width)
    finally:
        context.close()


TEXT_SPACING = """() => {
  // WCAG 1.4.12: line height 1.5, paragraph spacing 2em, letter spacing 0.12em, word spacing 0.16em.
  const style = document.createElement('style');
  style.textContent = '* { line-height: 1.5 !important; letter-spacing: 0.12em !important; '
    + 'word-spacing: 0.16em !important; } p { margin-bottom: 2em !important; }';
  document.head.appendChild(style);
}"""


def test_text_spacing_at_320_px_and_the_language_state_in_forced_colours(
    app: Flask, lms: EmbeddingLms, chromium: Any
) -> None:
    """At 320 px with WCAG's text spacing the header, the quiz legends and the overview stay inside the page; in
    forced colours (where fills vanish) the chosen language is still marked: bold and underlined."""
    context = chromium.new_context(
        viewport={"width": 320, "height": 800}, locale="de-DE", forced_colors="active"
    )
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "learner-4", name="Lea Schneider")
        base = _base(frame)
        for path in ("/uebersicht", "/m/modul-a/quiz", "/m/modul-a/02-vertiefung"):
            _go(frame, base + path)
            frame.evaluate(TEXT_SPACING)
            overflow = frame.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px with text spacing at 320 px"
        pressed = frame.evaluate(
            """() => [...document.querySelectorAll('.language-switch button')].map(b => [
                b.getAttribute('aria-pressed'), getComputedStyle(b).textDecorationLine, getComputedStyle(b).fontWeight])"""
        )
        marks = {state: (decoration, weight) for state, decoration, weight in pressed}
        assert "underline" in marks["true"][0] and int(marks["true"][1]) >= 700
        assert "underline" not in marks["false"][0]
    finally:
        context.close()

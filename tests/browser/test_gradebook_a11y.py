"""A teacher in headless Chromium, inside the LMS's iframe on another site: the gradebook, a learner's page and
the review of a practice task without an axe-core violation (WCAG 2.1 A/AA) at desktop width and at 360 px (a
table that fits at 1280 px, one card per learner at 360 px: no sideways scrolling), and filter, sort, a learner's
page and back, the module cell's review link and the review done with the keyboard only."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.models import PracticeSubmission

from ..course.learner import Learner, take_quiz
from ..gradebook.conftest import add_learner, place, user_id
from ..peer import INSTRUCTOR, claim
from . import test_learner_a11y as learner_a11y
from .conftest import EmbeddingLms, assert_no_axe_violations, open_in_lms

pytestmark = pytest.mark.browser


def check_page(frame: Any, label: str, width: int) -> None:
    assert_no_axe_violations(frame, f"{label} at {width}px")
    overflow = frame.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{label} scrolls sideways by {overflow}px at {width}px"
    assert frame.evaluate("document.querySelectorAll('h1').length") == 1, label


def go(keys: Any, selector: str, url_part: str) -> None:
    """Activate a link or button with the keyboard and wait until the next page has loaded (not the old one:
    its URL may already contain `url_part`)."""
    keys.frame.evaluate("() => { window.namaLeaving = true; }")
    keys.activate(selector)
    keys.frame.wait_for_function("() => !window.namaLeaving && document.readyState === 'complete'")
    assert url_part in keys.frame.url, (url_part, keys.frame.url)


def focus_is_visible(frame: Any) -> bool:
    return bool(frame.evaluate("() => getComputedStyle(document.activeElement).outlineStyle !== 'none'"))


@pytest.fixture
def classroom(app: Flask, lms: EmbeddingLms) -> None:
    """Lea worked through module a over HTTP; more learners (one never launched, one with a failed grade)."""
    lea = Learner.launch(lms.http_launcher(), sub="lea", given_name="Lea", name="Lea Schneider")
    lea.get("m/modul-a/01-einstieg")
    take_quiz(app, lea, "modul-a", right=3)
    take_quiz(app, lea, "modul-a")
    lea.post("m/modul-a/praxis", {"text": "In unserer Kommune <b>gibt</b> es einen Klimabeirat."})
    where = place(app)
    add_learner(app, where, "rita", name="Rita Roster", email="rita@example.org", roster=True, launched=False)
    add_learner(app, where, "fay", name="Fay Fehler", started=("modul-b",), grade_state="failed")


@pytest.mark.parametrize("width", [1280, 360])
def test_gradebook_learner_and_review_pages(
    app: Flask, lms: EmbeddingLms, classroom: None, chromium: Any, width: int
) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "teacher-1", name="Tanja Lehrerin", **claim("roles", INSTRUCTOR))
        assert frame.url.endswith("/lehrende/")
        keys = learner_a11y.Keyboard(page, frame)
        check_page(frame, "gradebook", width)

        # The table fits: at 1280 px as a table, at 360 px as one card per learner (the table keeps its roles).
        region = ".table-wrap[role=region]"
        labelled_by = frame.get_attribute(region, "aria-labelledby")
        assert frame.inner_text(f"#{labelled_by}").startswith("Teilnehmer*innen und ihr Fortschritt")
        assert frame.evaluate(
            "s => { const r = document.querySelector(s); return r.scrollWidth <= r.clientWidth; }", region
        )
        layout = frame.evaluate(
            "() => getComputedStyle(document.querySelector('.gradebook-table tbody tr')).display"
        )
        assert layout == ("table-row" if width == 1280 else "grid"), layout
        # Each module cell: an icon and its meaning for screen readers (never the icon alone).
        cell = frame.inner_text(".gradebook-table__module-cell .visually-hidden")
        assert cell in ("abgeschlossen", "in Bearbeitung", "nicht begonnen") or cell.startswith(
            ("abgeschlossen", "in Bearbeitung")
        ), cell

        # Filter and sort with the keyboard: the form's selects and its button.
        keys.tab_to("#gradebook-filter")
        page.keyboard.press("End")  # the last option: failed deliveries
        keys.tab_to("#gradebook-sort")
        page.keyboard.press("End")  # the last option: last activity
        go(keys, ".gradebook-controls button[type=submit]", "filter=fehlgeschlagen")
        assert "sortierung=aktivitaet" in frame.url
        assert "Fay Fehler" in frame.inner_text("main") and "Lea Schneider" not in frame.inner_text("main")
        check_page(frame, "gradebook, failed deliveries", width)
        # A learner's page and back: the filter and sort stay.
        go(keys, "tbody th a", "/lernende/")
        assert "filter=fehlgeschlagen" in frame.url and frame.inner_text("h1") == "Fay Fehler"
        go(keys, ".breadcrumbs a", "filter=fehlgeschlagen")
        assert "sortierung=aktivitaet" in frame.url and "Fay Fehler" in frame.inner_text("main")
        go(keys, ".site-nav a[aria-current=page]", "/lehrende/")
        assert frame.url.endswith("/lehrende/")

        # The module cell of a text waiting for review leads to the review, and back to the gradebook.
        go(keys, "td a.module-state[href*='/praxis/modul-a']", "/praxis/modul-a")
        go(keys, ".site-nav a[href$='/lehrende/']", "/lehrende/")

        go(keys, f"tbody a[href$='/lernende/{user_id(app, 'lea')}']", "/lernende/")
        assert frame.inner_text("h1") == "Lea Schneider"
        check_page(frame, "learner page", width)
        keys.tab_to("details.attempt summary")
        assert focus_is_visible(frame)
        page.keyboard.press("Enter")
        frame.wait_for_function("() => document.querySelector('details.attempt').open")
        check_page(frame, "learner page with an attempt open", width)

        go(keys, "main a[href*='/praxis/modul-a']", "/praxis/modul-a")
        assert "<b>gibt</b>" in frame.inner_text(".user-text")  # the learner's text, shown as text
        check_page(frame, "review page", width)

        # Saving without feedback: the error summary gets the focus.
        go(keys, "main form button[type=submit]", "/praxis/modul-a")
        frame.wait_for_function(
            "s => document.activeElement && document.activeElement.matches(s)", arg=".error-summary"
        )
        check_page(frame, "review page with error", width)

        keys.tab_to("#feedback")
        assert focus_is_visible(frame)
        page.keyboard.type("Sehr konkret, danke!")
        go(keys, "main form button[value=annehmen]", "gespeichert=annehmen")
        frame.wait_for_function(
            "s => document.activeElement && document.activeElement.matches(s)", arg=".notice[data-autofocus]"
        )
        check_page(frame, "review saved", width)
        with session_scope(app) as s:
            submission = s.scalars(select(PracticeSubmission)).one()
            assert submission.reviewed_at is not None and submission.feedback == "Sehr konkret, danke!"

        # In English too.
        go(keys, ".language-switch button[value=en]", "gespeichert=annehmen")
        assert frame.evaluate("() => document.documentElement.lang") == "en"
        check_page(frame, "review page in English", width)
        go(keys, ".site-nav a[href$='/lehrende/']", "/lehrende/")
        assert frame.url.endswith("/lehrende/") and frame.inner_text("h1") == "Gradebook"
        check_page(frame, "gradebook in English", width)
    finally:
        context.close()

"""The review dialogue in headless Chromium inside the LMS's iframe, keyboard only: the teacher finds the answer in
the list of tasks waiting for review, asks for a revision; the learner reads why and revises; the teacher
accepts; the learner reads the review's history. No axe-core violation (WCAG 2.1 A/AA) on any of these pages at
1280 and 360 px, nothing scrolls sideways."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.models import PracticeReviewRound

from ..course.learner import Learner
from ..gradebook.conftest import add_learner, place
from ..peer import INSTRUCTOR, LTI
from . import test_learner_a11y as learner_a11y
from .conftest import EmbeddingLms, open_in_lms
from .test_gradebook_a11y import check_page, focus_is_visible, go

pytestmark = pytest.mark.browser


def open_practice(frame: Any) -> None:
    """From the landing page to module a's practice task, as the session's URL says (the launch lands on the
    course overview)."""
    base = re.match(r"^(https?://[^/]+/s/[^/]+/)", frame.url)
    assert base, frame.url
    frame.goto(base.group(1) + "m/modul-a/praxis")
    frame.wait_for_load_state()


def focus_lands_on(frame: Any, selector: str) -> None:
    frame.wait_for_function("s => document.activeElement && document.activeElement.matches(s)", arg=selector)


@pytest.mark.parametrize("width", [1280, 360])
def test_revision_and_acceptance_with_the_keyboard(
    app: Flask, lms: EmbeddingLms, chromium: Any, width: int
) -> None:
    lea = Learner.launch(lms.http_launcher(), sub="lea", given_name="Lea", name="Lea Schneider")
    assert lea.post("m/modul-a/praxis", {"text": "In unserer Kommune <b>gibt</b> es einen Klimabeirat."}).ok
    add_learner(
        app,
        place(app),
        "rita",
        name="Rita Revision",
        practice={"modul-b": "Ein Text von Rita über ihre Kommune."},
    )
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "teacher-1", name="Tanja Lehrerin", **{LTI + "roles": INSTRUCTOR})
        keys = learner_a11y.Keyboard(page, frame)
        go(keys, ".site-nav a[href$='/lehrende/praxis']", "/lehrende/praxis")
        assert "2 warten auf Ihre Prüfung" in frame.inner_text("main")
        check_page(frame, "tasks waiting for review", width)

        go(keys, "main .review-list a[href*='/praxis/modul-a']", "/praxis/modul-a")
        check_page(frame, "review page", width)
        # A decision without feedback: the error summary gets the focus.
        go(keys, "main form button[value=ueberarbeiten]", "/praxis/modul-a")
        focus_lands_on(frame, ".error-summary")
        check_page(frame, "review page with error", width)
        keys.tab_to("#feedback")
        assert focus_is_visible(frame)
        page.keyboard.type("Bitte nennen Sie, wer im Beirat sitzt.")
        go(keys, "main form button[value=ueberarbeiten]", "gespeichert=ueberarbeiten")
        focus_lands_on(frame, ".notice[data-autofocus]")
        assert "wartet auf die Teilnehmer*in" in frame.inner_text("main")
        check_page(frame, "revision asked", width)
        go(keys, "main .notice a[href$='/lehrende/praxis']", "/lehrende/praxis")
        go(keys, "main .tabs a[href*='liste=ueberarbeitung']", "liste=ueberarbeitung")
        assert "Lea Schneider" in frame.inner_text("main .review-list")
        check_page(frame, "tasks waiting for a revision", width)

        learner = open_in_lms(page, lms, "lea", given_name="Lea", name="Lea Schneider")
        keys = learner_a11y.Keyboard(page, learner)
        open_practice(learner)
        assert "Bitte nennen Sie, wer im Beirat sitzt." in learner.inner_text("main")
        check_page(learner, "practice page, revision asked", width)
        keys.tab_to("#practice-text")
        page.keyboard.press("Control+End")
        page.keyboard.type(" Im Beirat sitzen Rat, Verwaltung und Vereine.")
        go(keys, "main form button[type=submit]", "gespeichert=ueberarbeitet")
        check_page(learner, "practice page, revised", width)

        frame = open_in_lms(page, lms, "teacher-1", name="Tanja Lehrerin", **{LTI + "roles": INSTRUCTOR})
        keys = learner_a11y.Keyboard(page, frame)
        go(keys, ".site-nav a[href$='/lehrende/praxis']", "/lehrende/praxis")
        go(keys, "main .review-list a[href*='/praxis/modul-a']", "/praxis/modul-a")
        keys.tab_to(".review-round__text summary")
        page.keyboard.press("Enter")
        frame.wait_for_function("() => document.querySelector('.review-round__text').open")
        check_page(frame, "review page, second round, first text open", width)
        keys.tab_to("#feedback")
        page.keyboard.type("Danke, jetzt vollständig.")
        go(keys, "main form button[value=annehmen]", "gespeichert=annehmen")
        check_page(frame, "accepted", width)
        with session_scope(app) as s:
            decisions = s.scalars(select(PracticeReviewRound.decision).order_by(PracticeReviewRound.number))
            assert list(decisions) == ["revision", "accepted"]

        learner = open_in_lms(page, lms, "lea", given_name="Lea", name="Lea Schneider")
        keys = learner_a11y.Keyboard(page, learner)
        open_practice(learner)
        keys.tab_to(".review-history summary")
        page.keyboard.press("Enter")
        learner.wait_for_function("() => document.querySelector('.review-history').open")
        assert "Runde 1: Überarbeitung erbeten" in learner.inner_text("main")
        check_page(learner, "practice page, accepted, history open", width)
        go(keys, ".language-switch button[value=en]", "/m/modul-a/praxis")
        check_page(learner, "practice page in English", width)
    finally:
        context.close()

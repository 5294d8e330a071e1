"""The exchange with replies in headless Chromium inside the LMS's iframe, keyboard only: a learner reads a new
reply to her answer, shows her municipality, replies to a colleague (first without text: the error summary
takes the focus); the instructor hides a reply with a reason and shows it again. No axe-core violation (WCAG 2.1
A/AA) on any of these pages at 1280 and 360 px, nothing scrolls sideways."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.models import ExchangeReply, PracticeSubmission, User

from ..course.learner import Learner
from ..peer import INSTRUCTOR, LTI
from . import test_learner_a11y as learner_a11y
from .conftest import EmbeddingLms, open_in_lms
from .test_gradebook_a11y import check_page, focus_is_visible, go

pytestmark = pytest.mark.browser


def open_exchange(frame: Any) -> None:
    base = re.match(r"^(https?://[^/]+/s/[^/]+/)", frame.url)
    assert base, frame.url
    frame.goto(base.group(1) + "m/modul-a/austausch")
    frame.wait_for_load_state()


def focus_lands_on(frame: Any, selector: str) -> None:
    frame.wait_for_function("s => document.activeElement && document.activeElement.matches(s)", arg=selector)


def answer_of(app: Flask, sub: str) -> int:
    with session_scope(app) as s:
        return int(
            s.scalars(
                select(PracticeSubmission.id)
                .join(User, User.id == PracticeSubmission.user_id)
                .where(User.sub == sub)
            ).one()
        )


@pytest.mark.parametrize("width", [1280, 360])
def test_replies_municipality_and_hiding_with_the_keyboard(
    app: Flask, lms: EmbeddingLms, chromium: Any, width: int
) -> None:
    launcher = lms.http_launcher()
    anna = Learner.launch(launcher, sub="anna", given_name="Anna", name="Anna Albers")
    ben = Learner.launch(launcher, sub="ben", given_name="Ben", name="Ben Berger")
    assert anna.post("m/modul-a/praxis", {"text": "Bei uns gibt es einen Klimabeirat und ein Leitbild."}).ok
    assert ben.post(
        "m/modul-a/praxis", {"text": "Unsere Stadt hat ein Nachhaltigkeitsbüro mit zwei Stellen."}
    ).ok
    assert ben.post(
        "m/modul-a/austausch/antworten",
        {"antwort": str(answer_of(app, "anna")), "text": "Wer sitzt im Beirat?"},
    ).ok
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "anna", given_name="Anna", name="Anna Albers")
        keys = learner_a11y.Keyboard(page, frame)
        open_exchange(frame)
        assert "1 neuer Kommentar" in frame.inner_text("main")
        check_page(frame, "exchange with a new reply", width)

        keys.tab_to("#municipality")
        assert focus_is_visible(frame)
        page.keyboard.type("Kreis Düren")
        go(keys, "main .municipality button[value=speichern]", "gespeichert=kommune")
        focus_lands_on(frame, ".notice[data-autofocus]")
        check_page(frame, "municipality shown", width)

        # A reply without text: the error summary takes the focus, the form stays open.
        ben_answer = answer_of(app, "ben")
        keys.tab_to(f"#antwort-{ben_answer} .reply-form summary")
        page.keyboard.press("Enter")
        frame.wait_for_function(f"() => document.querySelector('#antwort-{ben_answer} .reply-form').open")
        go(keys, f"#antwort-{ben_answer} .reply-form button[type=submit]", "/austausch/antworten")
        focus_lands_on(frame, ".error-summary")
        check_page(frame, "reply without text", width)
        keys.tab_to(f"#reply-text-{ben_answer}")
        page.keyboard.type("Bei uns sind es drei Stellen.")
        go(keys, f"#antwort-{ben_answer} .reply-form button[type=submit]", "gespeichert=antwort")
        focus_lands_on(frame, ".notice[data-autofocus]")
        check_page(frame, "reply sent", width)
        assert "(Kreis Düren)" in frame.inner_text(f"#antwort-{ben_answer}")

        frame = open_in_lms(page, lms, "teacher-1", name="Tanja Lehrerin", **{LTI + "roles": INSTRUCTOR})
        keys = learner_a11y.Keyboard(page, frame)
        go(keys, ".site-nav a[href$='/lehrende/praxis']", "/lehrende/praxis")
        go(keys, "main a[href$='/lehrende/austausch/modul-a']", "/lehrende/austausch/modul-a")
        check_page(frame, "exchange moderation", width)
        with session_scope(app) as s:
            reply_id = s.scalars(
                select(ExchangeReply.id).where(ExchangeReply.text == "Wer sitzt im Beirat?")
            ).one()
        keys.tab_to(f"#erwiderung-{reply_id} .hide-form summary")
        page.keyboard.press("Enter")
        frame.wait_for_function(f"() => document.querySelector('#erwiderung-{reply_id} .hide-form').open")
        keys.tab_to(f"#reason-reply-{reply_id}")
        page.keyboard.type("Bitte Fragen im Forum des Kurses stellen.")
        go(keys, f"#erwiderung-{reply_id} .hide-form button[value=ausblenden]", "gespeichert=ausblenden")
        focus_lands_on(frame, ".notice[data-autofocus]")
        check_page(frame, "reply hidden", width)
        go(keys, f"#erwiderung-{reply_id} button[value=einblenden]", "gespeichert=einblenden")
        check_page(frame, "reply shown again", width)
        go(keys, ".language-switch button[value=en]", "gespeichert=einblenden")
        check_page(frame, "exchange moderation in English", width)
    finally:
        context.close()

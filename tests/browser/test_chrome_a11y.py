"""The tool's chrome inside the LMS's iframe on a phone: the header keeps its controls in two rows (the link to a
new window says "Neues Fenster", its accessible name still the whole "In neuem Fenster öffnen" that contains it),
the breadcrumb trail is the way back only, and the page's content starts on the first screen. At 1280 px the
trail and the link are whole."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from .conftest import EmbeddingLms, open_in_lms
from .test_learner_a11y import check_page

pytestmark = pytest.mark.browser

VISIBLE_CRUMBS = """
() => [...document.querySelectorAll('.breadcrumbs li')]
  .filter(li => li.getClientRects().length > 0)
  .map(li => li.innerText.replace(/\\u00ad/g, '').trim())
"""


@pytest.mark.parametrize("width", [1280, 360])
def test_header_and_breadcrumbs_leave_room_for_the_content(
    app: Flask, lms: EmbeddingLms, chromium: Any, width: int
) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 800}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "learner-1", name="Lea Schneider")
        base = frame.url.split("/s/")[0] + "/s/" + frame.url.split("/s/")[1].split("/")[0]
        frame.goto(base + "/m/modul-a/quiz")
        frame.wait_for_load_state()
        check_page(frame, "quiz", width)

        link = frame.get_by_role("link", name="In neuem Fenster öffnen (öffnet ein neues Fenster)")
        assert link.count() == 1
        shown = link.evaluate(
            "a => [...a.children].filter(s => s.getBoundingClientRect().width > 1).map(s => s.textContent).join('')"
        ).strip()
        header = frame.locator(".site-header").bounding_box()
        crumbs = frame.evaluate(VISIBLE_CRUMBS)
        first_question = frame.locator("fieldset.question").first.bounding_box()
        assert header is not None and first_question is not None
        if width == 360:
            assert shown == "Neues Fenster"
            assert header["height"] <= 100, header  # two rows: the link and the language; "Sitzung beenden"
            assert crumbs == ["Modul a"]  # the way back; "Quiz" is the heading right below
            assert first_question["y"] < 800, first_question  # the first question starts on the first screen
        else:
            assert shown == "In neuem Fenster öffnen"
            assert crumbs == ["Kursübersicht", "Modul a", "Quiz"]
            assert header["height"] <= 60, header
    finally:
        context.close()

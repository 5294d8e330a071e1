"""The guides in headless Chromium, as a Moodle administrator, a teacher or a learner opens them (a page of its
own, outside the LMS's frame), in German and English: axe-core finds nothing, nothing scrolls sideways, one h1, and
no heading or table cell breaks a word without a hyphen, at 1280 and 360 px. The learner's link on the course
overview opens the learners' guide in a new window."""

from __future__ import annotations

import os
from typing import Any

import pytest

from lti_tool.guides.loader import GUIDE_IDS

from .conftest import EmbeddingLms, open_in_lms
from .test_learner_a11y import check_page

pytestmark = pytest.mark.browser
# Where to keep screenshots for a person to look at (not kept by default; never committed).
SHOTS = os.environ.get("NAMA_GUIDE_SCREENSHOTS")


@pytest.mark.parametrize("width", [1280, 360])
def test_every_guide_in_both_languages(lms: EmbeddingLms, chromium: Any, width: int) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        for language in ("de", "en"):
            page.goto(f"{lms.tool_url}/anleitungen/?lang={language}")
            check_page(page.main_frame, f"guide list ({language})", width)
            if SHOTS:
                page.screenshot(path=f"{SHOTS}/index-{language}-{width}.png", full_page=True)
                page.goto(f"{lms.tool_url}/lti/config?lang={language}")
                page.screenshot(path=f"{SHOTS}/config-{language}-{width}.png")
            for guide_id in GUIDE_IDS:
                page.goto(f"{lms.tool_url}/anleitungen/{guide_id}?lang={language}")
                assert page.locator("html").get_attribute("lang") == language
                check_page(page.main_frame, f"guide {guide_id} ({language})", width)
                if SHOTS:
                    page.screenshot(path=f"{SHOTS}/{guide_id}-{language}-{width}.png", full_page=True)
    finally:
        context.close()


def test_the_course_overview_opens_the_learners_guide_in_a_new_window(
    lms: EmbeddingLms, chromium: Any
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "learner-guide", name="Lea Schneider")
        with context.expect_page() as opened:
            frame.get_by_role("link", name="Anleitung: Ablauf, Abschluss und Teilnahmebescheinigung").click()
        guide = opened.value
        guide.wait_for_load_state()
        assert "/anleitungen/teilnehmende?lang=de" in guide.url
        assert guide.locator("h1").inner_text().replace("\u00ad", "") == "Was Sie im Kurs erwartet"
        if (
            SHOTS
        ):  # the overview in a window of its own (its session travels in the URL), for a person to look at
            guide.goto(frame.url)
            guide.screenshot(path=f"{SHOTS}/overview-with-guide-link.png", full_page=True)
    finally:
        context.close()

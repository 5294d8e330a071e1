"""Privacy notice, imprint, accessibility statement, the data-flow description and the record of processing
activities in headless Chromium: no axe-core violation (WCAG 2.1 A/AA), nothing scrolling sideways, one h1, no
word torn without a hyphen, at 1280 and 360 px; from a course page inside the LMS's frame the footer opens the
privacy notice in a new window, in the session's language."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from lti_tool.admin.accounts import create_operator
from lti_tool.db import session_scope

from .conftest import EmbeddingLms, open_in_lms
from .test_admin_a11y import PASSWORD, USERNAME
from .test_learner_a11y import check_page

pytestmark = pytest.mark.browser

PAGES = [
    ("/datenschutz", "privacy notice"),
    ("/datenschutz?lang=en", "privacy notice (English)"),
    ("/impressum", "imprint"),
    ("/barrierefreiheit", "accessibility statement"),
    ("/barrierefreiheit?lang=en", "accessibility statement (English)"),
    ("/datenschutz/datenfluss", "data flow"),
]


@pytest.mark.parametrize("width", [1280, 360])
def test_legal_pages_pass_axe_and_open_from_the_lms_frame(
    app: Flask, lms: EmbeddingLms, chromium: Any, width: int
) -> None:
    with session_scope(app, write=True) as s:
        create_operator(s, USERNAME, PASSWORD)
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        for path, label in PAGES:
            page.goto(lms.tool_url + path)
            assert page.title().endswith("– NaMa NRW"), path
            check_page(page.main_frame, label, width)

        page.goto(lms.tool_url + "/admin/login")
        page.fill("#username", USERNAME)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.goto(lms.tool_url + "/admin/verarbeitungsverzeichnis")
        assert page.inner_text("h1").replace("\xad", "") == "Verzeichnis von Verarbeitungstätigkeiten"
        check_page(page.main_frame, "record of processing activities", width)

        frame = open_in_lms(page, lms, "learner-legal")
        with context.expect_page() as opened:
            frame.click("footer >> text=Datenschutz")
        notice = opened.value
        notice.wait_for_load_state()
        assert notice.url == lms.tool_url + "/datenschutz?lang=de"
        assert notice.inner_text("h1").replace("\xad", "") == "Datenschutzerklärung"
        check_page(notice.main_frame, "privacy notice opened from the LMS frame", width)
    finally:
        context.close()

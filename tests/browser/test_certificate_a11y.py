"""The certificate pages in headless Chromium: the learner's page inside the LMS iframe (before and after the
course is complete) and the public check page; axe-core (WCAG 2.1 A/AA) finds nothing, at 1280 and 360 px."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from ..certificate.test_certificate import complete_course
from .conftest import EmbeddingLms, open_in_lms
from .test_learner_a11y import Keyboard, check_page

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 360])
def test_certificate_pages_have_no_axe_violations(
    app: Flask, lms: EmbeddingLms, chromium: Any, width: int
) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "learner-1", given_name="Lea", name="Lea Schneider")
        base = frame.url.split("/s/")[0] + "/s/" + frame.url.split("/s/")[1].split("/")[0]

        frame.goto(base + "/bescheinigung/")
        assert "sobald Sie alle Pflichtmodule" in frame.inner_text("main")
        check_page(frame, "certificate, not yet", width)

        complete_course(app, "learner-1")
        frame.goto(base + "/uebersicht")
        keys = Keyboard(page, frame)
        keys.follow("a[href*='/bescheinigung/']", "/bescheinigung/")  # the overview leads there by keyboard
        text = frame.inner_text("main")
        assert "Bescheinigung herunterladen" in text
        check_page(frame, "certificate, issued", width)
        code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", text)
        assert code

        public = context.new_page()  # anyone, outside the LMS, without a session
        public.goto(f"{lms.tool_url}/verify/{code.group(0)}")
        assert "Echt." in public.inner_text("main")
        check_page(public.main_frame, "verification, genuine", width)
        public.goto(f"{lms.tool_url}/verify/AAAA-BBBB-CCCC")
        check_page(public.main_frame, "verification, unknown code", width)
        public.goto(f"{lms.tool_url}/verify/")
        check_page(public.main_frame, "verification form", width)
    finally:
        context.close()

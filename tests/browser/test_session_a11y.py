"""The warning before a session ends (WCAG 2.2.1 Timing Adjustable), in Chromium inside the LMS's iframe: it
appears before the end, is an alertdialog screen readers announce, takes the keyboard focus, passes axe at
1280 and 360 px, and "Continue working" (Enter) puts the end off on the server and says so."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.models import ToolSession, utcnow

from .conftest import EmbeddingLms, assert_no_axe_violations, open_in_lms

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [1280, 360])
def test_the_session_warning_can_be_answered_with_the_keyboard(
    app: Flask, lms: EmbeddingLms, chromium: Any, width: int
) -> None:
    app.config.update(SESSION_IDLE_SECONDS=40, SESSION_WARNING_SECONDS=36)  # the warning after ~4 s
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "learner-1", given_name="Lea", name="Lea Schneider")
        warning = frame.wait_for_selector("#session-warning:not([hidden])", timeout=15000)
        assert warning is not None and warning.get_attribute("role") == "alertdialog"
        assert "Ihre Sitzung endet in" in warning.inner_text() and "Weiterarbeiten" in warning.inner_text()
        frame.wait_for_function(
            "() => document.activeElement && document.activeElement.id === 'session-extend'"
        )
        assert_no_axe_violations(frame, f"session warning at {width}px")
        overflow = frame.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0

        with session_scope(app) as s:
            before = s.scalars(select(ToolSession.last_seen_at)).one()
        assert before is not None
        page.keyboard.press("Enter")  # "Continue working"
        frame.wait_for_selector("#session-warning", state="hidden")
        frame.wait_for_function("() => document.getElementById('session-status').textContent.length > 0")
        assert frame.inner_text("#session-status") == "Ihre Sitzung bleibt offen."
        with session_scope(app) as s:
            after = s.scalars(select(ToolSession.last_seen_at)).one()
        assert after is not None and after > before and utcnow() - after < dt.timedelta(seconds=30)
    finally:
        context.close()

"""Learner pages kept rendered (lti_tool/fragments.py `page`): a page served from the kept HTML is the page a
fresh render gives, with the request's own session token, CSRF token, address and seconds left, in German and
in English; a learner never gets another's token."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from lti_tool import fragments
from lti_tool.auth import SessionClock

from ..forms import csrf_token
from ..peer import Launcher, claim
from .learner import Learner

PAGES = [
    ("lesson", "m/modul-a/01-einstieg"),
    ("last lesson of a module", "m/modul-a/02-vertiefung"),
    ("lesson with a query string", "m/modul-b/01-einstieg?from=overview"),
]


def raw(learner: Learner, path: str, **headers: str) -> str:
    """The page's HTML as sent (the soft hyphens left in)."""
    response = learner.http.get(learner.url(path), headers=headers)
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return response.text


def kept(app: Flask) -> dict[Any, Any]:
    pages = app.extensions.get("nama_pages")
    return pages.pages if pages is not None else {}


@pytest.mark.parametrize("locale", ["de", "en"])
def test_a_kept_page_is_the_page_rendered_afresh(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    # The seconds left change from one request to the next: fixed here, so two renders can be compared whole.
    monkeypatch.setattr(fragments, "session_clock", lambda: SessionClock(1234, 5678, 300))
    first = Learner.launch(launcher, "user-1", **claim("launch_presentation", {"locale": locale}))
    other = Learner.launch(launcher, "user-2", **claim("launch_presentation", {"locale": locale}))
    for what, path in PAGES:
        for headers in ({}, {"Sec-Fetch-Dest": "document"}):
            raw(first, path, **headers)  # renders and keeps it
            before = len(kept(app))
            served = raw(other, path, **headers)  # from the kept page
            assert len(kept(app)) == before and any(kept(app).values()), what
            app.config["PAGE_CACHE"] = False
            try:
                afresh = raw(other, path, **headers)
            finally:
                app.config["PAGE_CACHE"] = True
            assert served == afresh, what
            assert f'<html lang="{locale}">' in served
            assert other.sid in served and first.sid not in served, what
            assert csrf_token(served) == other.csrf != first.csrf
            assert 'data-idle="1234" data-absolute="5678" data-warn="300"' in served
            assert ("Open in a new window" in served or "In neuem Fenster öffnen" in served) == (not headers)


def test_a_page_showing_a_marker_otherwise_is_rendered_every_time(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link werkzeug builds itself quotes the session token's marker: such a page is not kept, and still
    right."""
    learner = Learner.launch(launcher)
    real = fragments.page_url
    monkeypatch.setattr(fragments, "page_url", lambda: real().replace("\ue000", "%EE%80%80"))
    app.jinja_env.globals["page_url"] = fragments.page_url
    try:
        page = raw(learner, "m/modul-a/01-einstieg")
        assert learner.url("m/modul-a/01-einstieg") in page
        assert not any(kept(app).values()) and kept(app)
    finally:
        app.jinja_env.globals["page_url"] = real

"""Parts of learner pages kept rendered (lti_tool/fragments.py `part`), on the real course (its review shows
hints with links to lessons after a failed attempt): the quiz form's questions and the result's answered
questions served from the kept HTML are the ones rendered afresh, in German and in English, with the learner's own
session token in the hints' links."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool import fragments
from lti_tool.auth import SessionClock

from ..peer import Launcher, claim
from .learner import Learner, take_quiz
from .test_page_cache import raw

CONTENT = Path(__file__).resolve().parents[2] / "content"


@pytest.fixture
def test_config(test_config: dict[str, Any]) -> dict[str, Any]:
    return {**test_config, "CONTENT_DIR": str(CONTENT)}


def parts(app: Flask) -> int:
    found = app.extensions.get("nama_parts")
    return len(found.pages) if found is not None else 0


def afresh(app: Flask, learner: Learner, path: str) -> str:
    app.config["PAGE_CACHE"] = False
    try:
        return raw(learner, path)
    finally:
        app.config["PAGE_CACHE"] = True


@pytest.mark.parametrize("locale", ["de", "en"])
def test_kept_quiz_questions_and_results_are_the_ones_rendered_afresh(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    """The quiz form's questions and the result's answered questions are kept per question, order and answer
    (fragments.part); the hints' links carry the learner's own session token."""
    monkeypatch.setattr(fragments, "session_clock", lambda: SessionClock(1234, 5678, 300))
    first = Learner.launch(launcher, "user-1", **claim("launch_presentation", {"locale": locale}))
    other = Learner.launch(launcher, "user-2", **claim("launch_presentation", {"locale": locale}))
    for learner in (first, other):
        raw(learner, "m/agenda-2030/quiz")  # a new attempt: its questions rendered and kept
        before = parts(app)
        form = raw(learner, "m/agenda-2030/quiz")  # the same open attempt: every question from the kept ones
        assert parts(app) == before and before > 0
        assert form == afresh(app, learner, "m/agenda-2030/quiz")
        take_quiz(app, learner, "agenda-2030", right=1)
        raw(learner, "m/agenda-2030/ergebnis")
        before = parts(app)
        result = raw(learner, "m/agenda-2030/ergebnis")
        assert parts(app) == before
        assert result == afresh(app, learner, "m/agenda-2030/ergebnis")
        hints = re.findall(r'<p class="hint__lesson"><a href="([^"]+)"', result)  # "Read again: <lesson>"
        assert hints and all(f"/s/{learner.sid}/m/agenda-2030/" in href for href in hints)
    assert first.sid not in result

"""The quiz form put together from kept parts (lti_tool/course/quiz_parts.py) is the form rendered afresh: for
other learners' attempts (other option orders), when the form comes back with problems and the learner's ticks and
positions, in German and in English, with course text that needs escaping."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool import fragments
from lti_tool.auth import SessionClock
from lti_tool.course import quiz_parts

from ..conftest import CONTENT_DIR
from ..peer import Launcher, claim
from .learner import Learner, attempt_id, quiz_answers

PROMPT = "Welche <Antwort> & \"Aussage\" ist 'richtig'?"
OPTION = 'Richtig & <b>fett</b> "zitiert"'
STRAY = "Aussage \ue000p\ue001 B"


@pytest.fixture
def test_config(test_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    quiz = content / "grundlagenkurs" / "modul-a" / "quiz.toml"
    text = quiz.read_text(encoding="utf-8")
    text = text.replace('prompt = "Welche Antwort ist richtig?"', "prompt = " + json.dumps(PROMPT), 1)
    text = text.replace('text = "Richtig"', "text = " + json.dumps(OPTION), 1)
    # Course text showing the parts' marker for an option's place: that part is rendered every time instead.
    text = text.replace('text = "Aussage B"', "text = " + json.dumps(STRAY), 1)
    quiz.write_text(text, encoding="utf-8")
    test_config["CONTENT_DIR"] = str(content)
    return test_config


def served_and_afresh(app: Flask, learner: Learner, method: str, data: Any = None) -> tuple[str, str, int]:
    """The page from the kept parts, then rendered afresh (the same request twice; neither changes anything)."""

    def send() -> Any:
        if method == "GET":
            return learner.http.get(learner.url("m/modul-a/quiz"))
        return learner.http.post(learner.url("m/modul-a/quiz"), data=[*data, ("csrf_token", learner.csrf)])

    served = send()
    app.config["PAGE_CACHE"] = False
    try:
        afresh = send()
    finally:
        app.config["PAGE_CACHE"] = True
    assert served.status_code == afresh.status_code, (served.status_code, afresh.status_code)
    return served.text, afresh.text, served.status_code


@pytest.mark.parametrize("locale", ["de", "en"])
def test_the_form_from_kept_parts_is_the_form_rendered_afresh(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    # The seconds left change from one request to the next: fixed here, so two renders can be compared whole.
    monkeypatch.setattr(fragments, "session_clock", lambda: SessionClock(1234, 5678, 300))
    learners = [
        Learner.launch(launcher, f"user-{n}", **claim("launch_presentation", {"locale": locale}))
        for n in (1, 2, 3)
    ]
    kept = 0
    for learner in learners:
        served, afresh, status = served_and_afresh(app, learner, "GET")
        assert status == 200 and served == afresh
        assert "&lt;Antwort&gt; &amp; &#34;Aussage&#34; ist &#39;richtig&#39;?" in served
        assert "Richtig &amp; &lt;b&gt;fett&lt;/b&gt; &#34;zitiert&#34;" in served
        assert STRAY in served
        parts = app.extensions[quiz_parts._STORE]
        assert len(parts) >= kept and not any(part and "/s/" in part for part in parts.values())
        assert None in parts.values()  # the option showing a marker is not kept
        kept = len(parts)
        # Back with problems: the questions answered keep their ticks and positions, the others say what is wrong.
        good = quiz_answers(app, "modul-a", attempt_id(served))
        for dropped in ("q2", "q1", "q4.", "q3"):
            fields = [(k, v) for k, v in good if not k.startswith(dropped)]
            served, afresh, status = served_and_afresh(app, learner, "POST", fields)
            assert status == 422 and served == afresh, dropped
            assert " checked" in served and " selected" in served
        swapped = [(k, v) for k, v in good if not k.startswith("q4.")] + [
            ("q4.1", "2"),
            ("q4.2", "1"),
            ("q4.3", "3"),
        ]
        served, afresh, status = served_and_afresh(app, learner, "POST", [*swapped, ("q9", "1")])
        assert status == 422 and served == afresh

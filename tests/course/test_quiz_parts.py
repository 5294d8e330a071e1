"""The quiz form and the quiz result put together from kept parts (lti_tool/course/quiz_parts.py) in kept pages
(fragments.page) are the pages rendered afresh: for other learners' attempts (other option orders, other answers,
other best results), when the form comes back with problems and the learner's ticks and positions, for results
passed and failed with every block the review can show, in German and in English, with course text that needs
escaping."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool import fragments
from lti_tool.auth import SessionClock
from lti_tool.course import quiz_parts

from ..conftest import CONTENT_DIR
from ..forms import csrf_token
from ..peer import Launcher, claim
from .learner import Learner, attempt_id, quiz_answers

PROMPT = "Welche <Antwort> & \"Aussage\" ist 'richtig'?"
OPTION = 'Richtig & <b>fett</b> "zitiert"'
STRAY = "Aussage \ue000p\ue001 B"
ESCAPED_OPTION = "Richtig &amp; &lt;b&gt;fett&lt;/b&gt; &#34;zitiert&#34;"
HINT = 'Lesen Sie <noch> einmal & "genau" nach.'


# What the result shows: every block (not passed: the answers without a verdict and the hints; passed: verdicts,
# the right answer, the explanations), or only the answers and whether each question was right.
REVIEWS = {
    "every block": (
        "\n[review.failed]\nanswers = true\ncorrectness = true\nhints = true\nexplanations = false\n"
        "correct_answers = false\n\n[review.passed]\nanswers = true\ncorrectness = true\nhints = true\n"
        "explanations = true\ncorrect_answers = true\n"
    ),
    "verdicts only": (
        "\n[review.failed]\nanswers = true\ncorrectness = true\nhints = false\nexplanations = false\n"
        "correct_answers = false\n\n[review.passed]\nanswers = true\ncorrectness = true\nhints = false\n"
        "explanations = false\ncorrect_answers = false\n"
    ),
}


@pytest.fixture(params=list(REVIEWS))
def review(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def test_config(test_config: dict[str, Any], tmp_path: Path, review: str) -> dict[str, Any]:
    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    quiz = content / "grundlagenkurs" / "modul-a" / "quiz.toml"
    text = quiz.read_text(encoding="utf-8")
    text = text.replace('prompt = "Welche Antwort ist richtig?"', "prompt = " + json.dumps(PROMPT), 1)
    text = text.replace('text = "Richtig"', "text = " + json.dumps(OPTION), 1)
    # Course text showing the parts' marker for an option's place: that part is rendered every time instead.
    text = text.replace('text = "Aussage B"', "text = " + json.dumps(STRAY), 1)
    quiz.write_text(text, encoding="utf-8")
    # Every question with a hint linking to a lesson.
    for quiz in (content / "grundlagenkurs").glob("*/quiz.toml"):
        text = re.sub(
            r"(?m)^(prompt = .*)$",
            lambda m: m.group(1) + "\nhint = " + json.dumps(HINT) + '\nlesson = "01-einstieg"',
            quiz.read_text(encoding="utf-8"),
        )
        quiz.write_text(text, encoding="utf-8")
    settings = content / "grundlagenkurs" / "course.toml"
    toml = settings.read_text(encoding="utf-8")
    first_table = toml.index("\n[")
    settings.write_text(toml[:first_table] + "\n" + REVIEWS[review] + toml[first_table:], encoding="utf-8")
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
        parts = app.extensions[quiz_parts._STORE].parts
        assert len(parts) >= kept and not any(part and "/s/" in "".join(part[0]) for part in parts.values())
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


def page_served_and_afresh(app: Flask, learner: Learner, url: str) -> tuple[str, str]:
    """The page from the kept page and parts, then rendered afresh (a GET twice; neither changes anything)."""
    served = learner.http.get(url)
    app.config["PAGE_CACHE"] = False
    try:
        afresh = learner.http.get(url)
    finally:
        app.config["PAGE_CACHE"] = True
    assert served.status_code == afresh.status_code == 200, (served.status_code, afresh.status_code)
    return served.text, afresh.text


def learner_pages(app: Flask) -> int:
    pages = app.extensions.get("nama_learner_pages")
    return len(pages.pages) if pages is not None else 0


@pytest.mark.parametrize("locale", ["de", "en"])
def test_the_result_from_kept_parts_is_the_result_rendered_afresh(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch, locale: str, review: str
) -> None:
    """The result page and the form around the questions are kept pages (fragments.page) with the attempt's
    numbers, answers and questions put in: the second learner going the first one's way is served from the
    pages the first one's visits kept; the third goes another way."""
    monkeypatch.setattr(fragments, "session_clock", lambda: SessionClock(1234, 5678, 300))
    learners = [
        Learner.launch(launcher, f"user-{n}", **claim("launch_presentation", {"locale": locale}))
        for n in (1, 2, 3)
    ]
    # Passed, all right (explanations) and one wrong (the right answer too); not passed (answers without a
    # verdict, the hints with their link to the lesson); again, the same answers (items kept from before). Each
    # attempt after the first shows the best result so far and the attempts when the best is another's.
    ways = [(5, 2, 4, 0, 2), (5, 2, 4, 0, 2), (4, 2, 0, 5, 4)]
    seen: set[tuple[bool, bool, bool, bool]] = set()
    shown_texts: set[str] = set()
    for learner, way in zip(learners, ways, strict=True):
        before = learner_pages(app)
        for right in way:
            served, afresh = page_served_and_afresh(app, learner, learner.url("m/modul-a/quiz"))
            assert served == afresh, right
            fields = quiz_answers(app, "modul-a", attempt_id(served), right)
            results = []
            for _ in range(2):  # the second time: "already submitted", the same result
                submitted = learner.http.post(
                    learner.url("m/modul-a/quiz"),
                    data=[*fields, ("csrf_token", learner.csrf)],
                    allow_redirects=False,
                )
                assert submitted.status_code == 303
                results.append(learner.url(submitted.headers["Location"]))
            assert "doppelt=1" in results[1] and "doppelt" not in results[0]
            for url in results:
                served, afresh = page_served_and_afresh(app, learner, url)
                assert served == afresh, (right, url)
                assert learner.sid in served and csrf_token(served) == learner.csrf
            hint_link = f'<a href="/s/{learner.sid}/m/modul-a/01-einstieg">'
            seen.add(
                (
                    'class="hint"' in served,
                    hint_link in served and "/s/" not in served.replace(f"/s/{learner.sid}/", ""),
                    "result-item__explanations" in served,
                    "result-answer__mark" in served,
                )
            )
            assert "&lt;Antwort&gt; &amp; &#34;Aussage&#34; ist &#39;richtig&#39;?" in served
            shown_texts.update(text for text in (ESCAPED_OPTION, STRAY) if text in served)
        if learner is learners[1]:  # the first one's way: every form and result page from theirs
            assert learner_pages(app) == before
        else:
            assert learner_pages(app) > before
    assert shown_texts == {ESCAPED_OPTION, STRAY}
    if (
        review == "every block"
    ):  # both reviews shown, each block at least once, every hint with its own session
        assert (True, True, False, False) in seen and (False, False, True, True) in seen
    else:
        assert seen == {(False, False, False, False)}
    parts = app.extensions[quiz_parts._STORE].parts
    kept = [part for part in parts.values() if part is not None]
    assert kept and not any("/s/" in "".join(statics) for statics, _ in kept)
    assert None in parts.values()  # the items showing a marker (STRAY) are not kept


def test_kept_parts_hold_at_most_their_characters_and_the_oldest_go_first() -> None:
    store = quiz_parts.KeptParts(max_chars=1_000, key_chars=lambda key: len(key[1]))
    part = (("<li>" + "x" * 50, "</li>"), ("n",))
    for number in range(10):
        store.keep((number, "y" * 40), part)  # with the entry's own cost, ~300 characters each
        assert store.chars <= 1_000 and store.chars == sum(store.sizes.values())
    assert list(store.parts) == [(n, "y" * 40) for n in (7, 8, 9)]  # the newest three
    assert store.sizes[(9, "y" * 40)] == 54 + 5 + 40 + quiz_parts._ENTRY_CHARS  # its text, its key's text
    store.keep((9, "y" * 40), part)  # kept already: counted once
    assert len(store) == 3 and store.chars == sum(store.sizes.values())
    store.keep((10, "y" * 2_000), part)  # never fits: not kept, nothing pushed out
    assert (10, "y" * 2_000) not in store.parts and len(store) == 3

"""A new edition of the course replaces quiz questions and lesson texts while learners are in the middle of it
(as the Grundlagenkurs' second edition did): what they did under the old edition stays readable and counts.

The state is built over HTTP with the old edition; then the tool starts again with the new edition on the same
database (a deployment), and the learner and the teacher launch again.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool import create_app

from ..conftest import CLIENT_ID, CONTENT_DIR, DEPLOYMENT_ID
from ..peer import INSTRUCTOR, Launcher, PeerPlatform, ServerThread, claim
from .learner import Learner, take_quiz

NEW_QUIZ = """\
[[questions]]
id = "neu-{n}"
kind = "single"
prompt = "Neue Frage {n}?"
  [[questions.options]]
  id = "ja"
  text = "Ja"
  correct = true
  explanation = "Ja."
  [[questions.options]]
  id = "nein"
  text = "Nein"
  explanation = "Nein."
"""


@pytest.fixture
def editions(tmp_path: Path) -> tuple[Path, Path]:
    """The fixture course as it was (old) and a second edition: every quiz question replaced, lesson texts
    rewritten, one lesson renamed."""
    old = tmp_path / "old"
    new = tmp_path / "new"
    shutil.copytree(CONTENT_DIR, old)
    shutil.copytree(CONTENT_DIR, new)
    for module_id in ("modul-a", "modul-b"):
        quiz = new / "grundlagenkurs" / module_id / "quiz.toml"
        quiz.write_text("\n".join(NEW_QUIZ.format(n=n) for n in range(1, 6)), encoding="utf-8")
    lessons = new / "grundlagenkurs" / "modul-a" / "lessons"
    first = lessons / "01-einstieg.md"
    _, front, _ = first.read_text(encoding="utf-8").split("+++\n", 2)
    first.write_text(f"+++\n{front}+++\nGanz neuer Text der zweiten Auflage.\n", encoding="utf-8")
    (lessons / "02-vertiefung.md").rename(lessons / "02-neu.md")
    return old, new


@pytest.fixture
def test_config(test_config: dict[str, Any], editions: tuple[Path, Path]) -> dict[str, Any]:
    return {**test_config, "CONTENT_DIR": str(editions[0])}


@pytest.fixture
def second_edition(
    test_config: dict[str, Any], editions: tuple[Path, Path], registered: PeerPlatform
) -> Iterator[Launcher]:
    """The tool restarted on the same database with the new edition, and a launcher for it."""
    app = create_app({**test_config, "CONTENT_DIR": str(editions[1])})
    server = ServerThread(app)
    yield Launcher(server.url, registered, CLIENT_ID, DEPLOYMENT_ID)
    server.stop()
    app.extensions["nama_db"].dispose()


def _module_items(html: str) -> list[str]:
    return [item.split("</li>")[0] for item in html.split('class="module-list__item')[1:]]


def _best(item: str) -> str:
    found = re.search(r"Quiz (\d+\s*%)", item)
    return found.group(1).replace("\xa0", " ") if found else ""


def _result_url(page: Any) -> str:
    assert page.status_code == 200, page.text[:500]
    assert "/ergebnis?versuch=" in page.url, page.url
    return str(page.url).split("/s/", 1)[1].split("/", 1)[1]


def test_attempts_under_old_question_ids_stay_readable_and_count(
    app: Flask, launcher: Launcher, editions: tuple[Path, Path], request: pytest.FixtureRequest
) -> None:
    learner = Learner.launch(launcher, name="Lea Schneider")
    for lesson in ("01-einstieg", "02-vertiefung"):
        assert learner.get(f"m/modul-a/{lesson}").status_code == 200
    failed = _result_url(take_quiz(app, learner, "modul-a", right=0))
    passed = _result_url(take_quiz(app, learner, "modul-a"))
    assert learner.post("m/modul-a/praxis", {"text": "Unsere Kommune hat einen Nachhaltigkeitsbericht."}).ok
    other = _result_url(take_quiz(app, learner, "modul-b", right=1))
    before = _module_items(learner.get("uebersicht").text)
    assert "Abgeschlossen" in before[0] and "Abgeschlossen" not in before[1]
    scores_before = [_best(item) for item in before]
    assert scores_before[0] == "100 %" and scores_before[1] not in ("", "100 %")

    new = request.getfixturevalue("second_edition")
    again = Learner.launch(new, name="Lea Schneider")
    page = again.get("uebersicht")
    assert page.status_code == 200
    # modul-a stays complete (sticky) with its best score, though none of its questions exists any more
    after = _module_items(page.text)
    assert "Abgeschlossen" in after[0] and "Abgeschlossen" not in after[1]
    assert [_best(item) for item in after] == scores_before
    for path in ("m/modul-a/", "m/modul-b/", "m/modul-a/02-neu", "m/modul-a/ergebnis", "m/modul-b/ergebnis"):
        shown = again.get(path)
        assert shown.status_code == 200, (path, shown.status_code, shown.text[:300])
    for path in (failed, passed, other):
        shown = again.get(path)
        assert shown.status_code == 200, (path, shown.text[:300])
        # the score and verdict stay; the questions are gone, and the page says so instead of listing them
        assert "geändert" in shown.text, shown.text
    assert re.search(r"100\s*%", again.get(passed).text)
    # the module that was not passed gets a fresh attempt with the new questions
    quiz = again.get("m/modul-b/quiz")
    assert quiz.status_code == 200 and "Neue Frage" in quiz.text

    teacher = Learner.launch(new, sub="teacher-1", name="Tanja Lehrerin", **claim("roles", INSTRUCTOR))
    book = teacher.page
    assert book.status_code == 200 and "Lea Schneider" in book.text
    assert re.search(r"100\s*%", book.text)
    detail = re.search(r'href="[^"]*/(lehrende/lernende/\d+)"', book.text)
    assert detail, book.text[:2000]
    shown = teacher.get(detail.group(1))
    assert shown.status_code == 200 and "Lea Schneider" in shown.text
    assert "Neue Frage" not in shown.text  # the old attempts are listed under their old question ids
    csv = teacher.get("lehrende/export/notenliste.csv")
    assert csv.status_code == 200 and "Lea Schneider" in csv.text

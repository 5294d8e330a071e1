"""Small course folders built in tmp_path: a valid two-module course that each test breaks in one place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

COURSE_TOML = """\
id = "kurs"
title = "Testkurs"
language = "de"
description = "Ein kleiner Kurs. Zuerst [Modul eins](module:eins)."
issuer = "LAG 21 NRW"
pass_mark = 80
modules = ["eins", "zwei"]
required_modules = ["eins", "zwei"]
practice_required = true
practice_review_required = false

[sources.S1]
title = "Quelle eins"
url = "https://example.org/eins"

[sources.S2]
title = "Quelle zwei"
url = "http://example.org/zwei"
"""

MODULE_TOML = """\
title = "Modul {name}"
minutes = 20
objectives = ["Sie können etwas erklären."]
summary = "Worum es geht."

[practice]
title = "Praxisaufgabe"
prompt = "Beschreiben Sie Ihre Kommune. Siehe [Lektion](module:eins/01-start)."
min_length = 200
max_length = 5000
"""

LESSON_START = """\
+++
title = "Der Start"
sources = ["S1"]
+++
## Worum es geht

Text mit [Quelle](https://example.org/eins) und [weiter](module:zwei/01-start).
"""

LESSON_WEITER = """\
+++
title = "Weiter"
sources = ["S1", "S2"]
+++
Noch mehr Text, zurück zum [Start](module:eins/01-start).
"""

QUIZ_TOML = """\
[[questions]]
id = "eins"
kind = "single"
prompt = "Welche Zahl?"
sources = ["S1"]

  [[questions.options]]
  id = "a"
  text = "Eins"
  correct = true
  explanation = "Richtig, siehe [Start](module:eins/01-start)."

  [[questions.options]]
  id = "b"
  text = "Zwei"
  correct = false
  explanation = "Falsch."

[[questions]]
id = "mehrere"
kind = "multiple"
prompt = "Welche?"

  [[questions.options]]
  id = "a"
  text = "A"
  correct = true
  explanation = "Ja."

  [[questions.options]]
  id = "b"
  text = "B"
  correct = true
  explanation = "Ja."

  [[questions.options]]
  id = "c"
  text = "C"
  explanation = "Nein."

[[questions]]
id = "wahr"
kind = "truefalse"
prompt = "Stimmt das?"

  [[questions.options]]
  id = "true"
  text = "Richtig"
  correct = false
  explanation = "Nein."

  [[questions.options]]
  id = "false"
  text = "Falsch"
  correct = true
  explanation = "Genau."

[[questions]]
id = "reihe"
kind = "ordering"
prompt = "Ordnen Sie."

  [[questions.options]]
  id = "erst"
  text = "Erst"
  explanation = "Am Anfang."

  [[questions.options]]
  id = "dann"
  text = "Dann"
  explanation = "In der Mitte."

  [[questions.options]]
  id = "zuletzt"
  text = "Zuletzt"
  explanation = "Am Ende."
"""


def course_files() -> dict[str, str]:
    files = {"kurs/course.toml": COURSE_TOML}
    for name in ("eins", "zwei"):
        files[f"kurs/{name}/module.toml"] = MODULE_TOML.format(name=name)
        files[f"kurs/{name}/lessons/01-start.md"] = LESSON_START
        files[f"kurs/{name}/lessons/02-weiter.md"] = LESSON_WEITER
        files[f"kurs/{name}/quiz.toml"] = QUIZ_TOML
    return files


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """A content folder holding the valid course `kurs`."""
    root = tmp_path / "content"
    write_files(root, course_files())
    return root


@pytest.fixture
def course_dir(content_dir: Path) -> Path:
    return content_dir / "kurs"


@pytest.fixture
def edit(course_dir: Path) -> Callable[[str, str, str], None]:
    """edit(file, old, new): replace `old` (which must occur) in a file of the course."""

    def replace(name: str, old: str, new: str) -> None:
        path = course_dir / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return replace

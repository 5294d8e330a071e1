"""`scripts/flask course check`, driven through a bare Flask app with the command group added."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from lti_tool.course import cli
from lti_tool.course.cli import course_cli

from .conftest import course_files, write_files


def make_runner(**config: object) -> FlaskCliRunner:
    app = Flask(__name__)
    app.config.update(config)
    app.cli.add_command(course_cli)
    return app.test_cli_runner()


def test_check_a_good_course_folder(course_dir: Path) -> None:
    result = make_runner().invoke(args=["course", "check", str(course_dir)])
    assert result.exit_code == 0, result.output
    assert result.output == "OK: Testkurs (2 Module, 4 Lektionen, 8 Fragen)\n"


def test_check_a_content_folder_with_several_courses(content_dir: Path) -> None:
    files = {name.replace("kurs/", "klein/", 1): text for name, text in course_files().items()}
    files["klein/course.toml"] = (
        files["klein/course.toml"]
        .replace('id = "kurs"', 'id = "klein"')
        .replace('title = "Testkurs"', 'title = "Kleiner Kurs"')
        .replace('["eins", "zwei"]', '["eins"]')
    )
    files = {name: text for name, text in files.items() if not name.startswith("klein/zwei/")}
    files["klein/eins/lessons/01-start.md"] = files["klein/eins/lessons/01-start.md"].replace("zwei", "eins")
    write_files(content_dir, files)

    result = make_runner().invoke(args=["course", "check", str(content_dir)])

    assert result.exit_code == 0, result.output
    assert result.output == (
        "OK: Kleiner Kurs (1 Modul, 2 Lektionen, 4 Fragen)\nOK: Testkurs (2 Module, 4 Lektionen, 8 Fragen)\n"
    )


def test_problems_one_per_line_and_exit_code_1(
    content_dir: Path, edit: Callable[[str, str, str], None]
) -> None:
    edit("course.toml", "pass_mark = 80", "pass_mark = 0")
    edit("eins/quiz.toml", '  explanation = "Falsch."\n', "")
    write_files(
        content_dir, {"gut/" + name.removeprefix("kurs/"): text for name, text in course_files().items()}
    )
    gut = content_dir / "gut" / "course.toml"
    gut.write_text(gut.read_text(encoding="utf-8").replace('id = "kurs"', 'id = "gut"'), encoding="utf-8")

    result = make_runner().invoke(args=["course", "check", str(content_dir)])

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "OK: Testkurs (2 Module, 4 Lektionen, 8 Fragen)",
        "kurs/course.toml: pass_mark: must be between 1 and 100 (percent), not 0",
        "kurs/eins/quiz.toml: questions[1].options[2].explanation: missing",
    ]


def test_default_path_is_the_configured_content_dir(content_dir: Path) -> None:
    result = make_runner(CONTENT_DIR=str(content_dir)).invoke(args=["course", "check"])
    assert result.exit_code == 0, result.output
    assert result.output == "OK: Testkurs (2 Module, 4 Lektionen, 8 Fragen)\n"


def test_default_path_without_config_is_the_repository_content_folder(
    monkeypatch: pytest.MonkeyPatch, content_dir: Path
) -> None:
    assert Path(__file__).resolve().parents[2] / "content" == cli.REPO_CONTENT_DIR
    monkeypatch.setattr(cli, "REPO_CONTENT_DIR", content_dir)
    result = make_runner().invoke(args=["course", "check"])
    assert result.output == "OK: Testkurs (2 Module, 4 Lektionen, 8 Fragen)\n"


def test_missing_path_and_empty_content_folder(tmp_path: Path) -> None:
    runner = make_runner()
    missing = runner.invoke(args=["course", "check", str(tmp_path / "fehlt")])
    assert missing.exit_code == 1
    assert missing.output == f"{(tmp_path / 'fehlt').as_posix()}: folder not found\n"

    empty = runner.invoke(args=["course", "check", str(tmp_path)])
    assert empty.exit_code == 1
    assert "no course folder" in empty.output

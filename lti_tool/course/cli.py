"""`scripts/flask course check [PATH]`: list every problem of one course folder or of a whole content folder."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .fields import CourseError, Problem
from .loader import course_folders, load_course
from .model import Course

REPO_CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"

course_cli = AppGroup("course", help="Course content: check course folders against content/FORMAT.md.")


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def summary(course: Course) -> str:
    lessons = sum(len(module.lessons) for module in course.modules)
    questions = sum(len(module.quiz.questions) for module in course.modules)
    counts = ", ".join(
        (
            _count(len(course.modules), "Modul", "Module"),
            _count(lessons, "Lektion", "Lektionen"),
            _count(questions, "Frage", "Fragen"),
        )
    )
    return f"OK: {course.title} ({counts})"


def default_content_dir() -> Path:
    configured = current_app.config.get("CONTENT_DIR")
    return Path(configured) if configured else REPO_CONTENT_DIR


@course_cli.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def check_command(path: Path | None) -> None:
    """Check PATH: one course folder, or a content folder holding several.

    Prints every problem as "file: field: message" and one OK line per good course; exits with 1 if there
    is any problem. Default PATH: the app's CONTENT_DIR, else the repository's content/ folder.
    """
    path = path or default_content_dir()
    if (path / "course.toml").is_file():
        folders = [path]
    elif path.is_dir():
        folders = course_folders(path)
    else:
        click.echo(Problem(path.as_posix(), "", "folder not found"))
        raise SystemExit(1)
    if not folders:
        click.echo(Problem(path.as_posix(), "", "no course folder (with a course.toml) found"))
        raise SystemExit(1)

    failed = False
    for folder in folders:
        try:
            course = load_course(folder)
        except CourseError as error:
            failed = True
            for problem in error.problems:
                click.echo(problem)
        else:
            click.echo(summary(course))
    if failed:
        raise SystemExit(1)

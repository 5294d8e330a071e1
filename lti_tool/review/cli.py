"""`scripts/flask course export-review`: the review document of a course as an HTML file (opens in any browser, prints
with the print layout) or a PDF, for reviewers who do not use the operator area."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app, render_template

from ..course.catalog import get_catalog
from ..course.cli import course_cli
from ..course.fields import CourseError
from ..course.loader import load_course
from ..course.model import Course
from .document import ReviewDocument

STATIC = Path(__file__).resolve().parents[1] / "static"


def render_html(course: Course) -> str:
    """The standalone review document (styles inside, no links back to the tool). Needs a request context."""
    stylesheet = "\n".join(
        (STATIC / name).read_text(encoding="utf-8") for name in ("style.css", "review.css")
    )
    return render_template(
        "review/standalone.html", course=course, doc=ReviewDocument(course), stylesheet=stylesheet
    )


def _find_course(course_id: str | None, path: Path | None) -> Course:
    if path is not None:
        try:
            return load_course(path)
        except CourseError as error:
            for problem in error.problems:
                click.echo(problem, err=True)
            raise click.ClickException(
                f"{path} has {len(error.problems)} problem(s) (listed above); fix them first"
            ) from error
    catalog = get_catalog()
    wanted = course_id or current_app.config["DEFAULT_COURSE"]
    course = catalog.get(wanted)
    if course is None:
        known = ", ".join(sorted(catalog.courses)) or "none"
        raise click.ClickException(
            f"no course {wanted!r} in {current_app.config['CONTENT_DIR']} (courses: {known})"
        )
    return course


@course_cli.command("export-review")
@click.option("--course", "course_id", help="Course ID in the content folder (default: the default course).")
@click.option(
    "--path",
    type=click.Path(path_type=Path, file_okay=False),
    help="A course folder to export instead (e.g. a draft); it must pass `course check`.",
)
@click.option(
    "--format", "file_format", type=click.Choice(["html", "pdf"]), default="html", show_default=True
)
@click.option(
    "--lang",
    type=click.Choice(["de", "en"]),
    default="de",
    show_default=True,
    help="Language of the document's own words.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="File to write; '-' for standard output. Default: <course>-pruefansicht.<format> here.",
)
def export_review(
    course_id: str | None, path: Path | None, file_format: str, lang: str, output: Path | None
) -> None:
    """Write the whole course as one document for review: lessons, every question of the pools with its key,
    hints and explanations, practice tasks with model answers and checklists, glossary, pages and sources."""
    if course_id and path:
        raise click.UsageError("give either --course or --path, not both")
    course = _find_course(course_id, path)
    from .pdf import render_pdf  # fpdf2 (~20 MB): not in every process that registers this command
    from .views import cached_pdf

    with current_app.test_request_context(f"/?lang={lang}"):
        if file_format == "html":
            data = render_html(course).encode("utf-8")
        elif path is None:
            data = cached_pdf(course)  # the operator area serves the same file from then on
        else:
            data = render_pdf(ReviewDocument(course))  # a draft: not kept
    if output is not None and str(output) == "-":
        with click.open_file("-", "wb") as stream:
            stream.write(data)
        return
    target = output or Path(f"{course.id}-pruefansicht.{file_format}")
    target.write_bytes(data)
    click.echo(f"{target}: review document of {course.title} ({file_format.upper()}, {len(data):,} bytes)")

"""The reviewer's view in the operator area: `/admin/courses` lists the courses this tool serves, each readable
as one document (`/admin/courses/<id>/review`) and downloadable as a PDF (`…/review.pdf`).

The routes join the operator area's blueprint, so they share its guard (signed-in operators only), headers
(no-store, never framed) and layout. fpdf2 needs tens of seconds for a course the size of the Grundlagenkurs, so a
PDF is kept in the instance folder under the content's fingerprint (one per course and language; a new version
replaces the old file) and made once per content version, for every process.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Response, current_app, render_template
from flask_babel import get_locale

from ..admin.views import bp
from ..course.catalog import get_catalog
from ..course.model import Course
from ..errors import NotFound
from ..i18n import lazy_gettext as _l
from .document import ReviewDocument


def _course(course_id: str) -> Course:
    course = get_catalog().get(course_id)
    if course is None:
        raise NotFound(
            _l("This tool serves no course with this ID."),
            hint=_l("Choose a course from the list of courses."),
        )
    return course


def pdf_filename(course: Course) -> str:
    return f"{course.id}-pruefansicht.pdf"


def cached_pdf(course: Course) -> bytes:
    """The review PDF of the course in the current language, from the instance folder or made now (and kept)."""
    doc = ReviewDocument(course)
    folder = Path(current_app.instance_path) / "review"
    stem = f"{course.id}-{get_locale() or 'de'}"
    path = folder / f"{stem}-{doc.fingerprint}.pdf"
    if path.is_file():
        return bytes(path.read_bytes())
    from .pdf import render_pdf  # fpdf2: ~20 MB a web process needs only for PDFs, loaded with the first one

    data = render_pdf(doc)
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(path)  # atomic: another process may be writing the same file
    for older in folder.glob(f"{stem}-*.pdf"):
        if older != path:
            older.unlink(missing_ok=True)
    return data


@bp.get("/courses")
def courses() -> str:
    catalog = get_catalog()
    return render_template(
        "review/courses.html",
        courses=sorted(catalog.courses.values(), key=lambda course: course.title.casefold()),
        section="admin.courses",
    )


@bp.get("/courses/<course_id>/review")
def course_review(course_id: str) -> str:
    course = _course(course_id)
    return render_template(
        "review/page.html", course=course, doc=ReviewDocument(course), section="admin.courses"
    )


@bp.get("/courses/<course_id>/review.pdf")
def course_review_pdf(course_id: str) -> Response:
    course = _course(course_id)

    return Response(
        cached_pdf(course),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{pdf_filename(course)}"'},
    )

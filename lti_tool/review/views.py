"""The reviewer's view in the operator area: `/admin/courses` lists the courses this tool serves, each readable
as one document (`/admin/courses/<id>/review`) and downloadable as a PDF (`…/review.pdf`).

The routes join the operator area's blueprint, so they share its guard (signed-in operators only), headers
(no-store, never framed) and layout.
"""

from __future__ import annotations

from flask import Response, render_template

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
    from .pdf import render_pdf  # fpdf2: ~20 MB a web process needs only for PDFs, loaded with the first one

    return Response(
        render_pdf(ReviewDocument(course)),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{pdf_filename(course)}"'},
    )

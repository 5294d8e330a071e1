"""Instructor start page under /s/<sid>/lehrende/."""

from __future__ import annotations

from flask import Flask, render_template

from ..auth import current_visitor, instructor_required, session_blueprint
from ..course.catalog import get_catalog

bp = session_blueprint("instructor", __name__, "/lehrende")


@bp.get("/")
@instructor_required
def start() -> str:
    visitor = current_visitor()
    course = get_catalog().get(visitor.course_id)
    assert course is not None
    return render_template("gradebook/start.html", course=course, visitor=visitor)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

"""Learner pages under /s/<sid>/: the course overview (more pages are added as the course grows)."""

from __future__ import annotations

from flask import Flask, render_template

from ..auth import current_visitor, session_blueprint
from .catalog import get_catalog

bp = session_blueprint("learner", __name__)


@bp.get("/")
def start() -> str:
    visitor = current_visitor()
    course = get_catalog().get(visitor.course_id)
    assert course is not None  # the launch checked it
    modules = course.modules
    if visitor.session.module_id:
        modules = tuple(m for m in modules if m.id == visitor.session.module_id)
    return render_template("course/start.html", course=course, modules=modules, visitor=visitor)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

"""Public pages that need no session: the tool's home page."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    demo = current_app.config.get("DEMO_LMS_URL") if current_app.config.get("DEMO_LMS") else None
    return render_template("index.html", demo_lms_url=demo)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

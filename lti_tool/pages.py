"""Public pages that need no session: the tool's home page, and its icon where browsers look for it."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    demo = current_app.config.get("DEMO_LMS_URL") if current_app.config.get("DEMO_LMS") else None
    return render_template("index.html", demo_lms_url=demo)


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico on their own (for a PDF or JSON answer too); pages link the icon in <head>."""
    return current_app.send_static_file("favicon.ico")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

"""Public pages every German web service needs, linked in the footer of every page: the privacy notice
(`/datenschutz`, Art. 13 and 14 GDPR), the imprint (`/impressum`, § 5 DDG) and the accessibility statement
(`/barrierefreiheit`, § 10b BGG NRW / § 12b BGG with BITV 2.0), plus the data-flow description an LMS admin
hands to their data-protection officer (`/datenschutz/datenfluss`).

They need no session: inside the LMS's frame the footer opens them in a new window (the LMS's frame may show
only session pages, lti_tool/security.py), in the session's language (`?lang=`).
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template

from ..course.catalog import get_catalog
from . import accessibility, notice
from .settings import get_legal
from .settings import init_app as init_settings

bp = Blueprint("legal", __name__)


def _context() -> dict[str, object]:
    return {"legal": get_legal()}


@bp.get("/datenschutz")
def privacy() -> str:
    views = notice.personal_data(current_app.config)
    return render_template(
        "legal/privacy.html",
        tables=views,
        recipients=notice.recipients(views),
        access_log=bool(current_app.config.get("ACCESS_LOG")),
        as_of=notice.AS_OF,
        **_context(),
    )


@bp.get("/datenschutz/datenfluss")
def data_flow() -> str:
    return render_template(
        "legal/data_flow.html",
        claims=notice.launch_claims_kept(),
        roster_fields=notice.roster_fields_kept(),
        score_fields=notice.score_fields(),
        lineitem_fields=notice.lineitem_fields(),
        **_context(),
    )


@bp.get("/impressum")
def imprint() -> str:
    catalog = get_catalog()
    courses = sorted(catalog.courses.values(), key=lambda course: course.title.casefold())
    return render_template("legal/imprint.html", courses=courses, **_context())


@bp.get("/barrierefreiheit")
def accessibility_statement() -> str:
    return render_template(
        "legal/accessibility.html",
        statement=accessibility.STATEMENT,
        **_context(),
    )


def capitalize_first(text: str) -> str:
    """The first letter in upper case, the rest as it is (Jinja's `capitalize` lowers the rest)."""
    return text[:1].upper() + text[1:]


def init_app(app: Flask) -> None:
    init_settings(app)
    app.register_blueprint(bp)
    app.jinja_env.filters["capitalize_first"] = capitalize_first

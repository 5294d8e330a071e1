"""The guides as public pages: /anleitungen/ (the list) and /anleitungen/<id> for Moodle administrators, teachers
and learners, in the page's language (German, or English with ?lang=en). No session: anyone may read them, and
the tool's pages link them (/lti/config, the operator area, the learner and teacher pages).

The guides' text lives in `guides/` beside the course content (lti_tool/guides/loader.py says how it is written);
rendering fills in this installation's URLs and the default course's figures and goes through the course
Markdown renderer and its sanitiser.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from flask import Blueprint, Flask, current_app, render_template, url_for
from markupsafe import Markup

from ..course.catalog import get_catalog
from ..course.markdown import LinkResolver, render_markdown
from ..errors import NotFound
from ..i18n import lazy_gettext as _l
from .loader import (
    GUIDE_IDS,
    GUIDE_LINK,
    LANGUAGES,
    PLACEHOLDER,
    TOOL_LINK,
    TOOL_PAGES,
    TOOL_VALUES,
    Guide,
    load_guides,
)

bp = Blueprint("guides", __name__, url_prefix="/anleitungen")
EXTENSION = "nama_guides"


def guides(app: Flask | None = None) -> dict[tuple[str, str], Guide]:
    loaded: dict[tuple[str, str], Guide] = (app or current_app).extensions[EXTENSION]
    return loaded


def page_language() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    language = locale.language if locale else LANGUAGES[0]
    return language if language in LANGUAGES else LANGUAGES[0]


def guide_url(guide_id: str, language: str | None = None) -> str:
    """The guide's address in the given (or the page's) language: what the tool's pages link."""
    return url_for("guides.show", guide_id=guide_id, lang=language or page_language())


def _values(language: str) -> dict[str, str]:
    from ..lti.toolinfo import tool_info
    from ..lti.views import external_url

    info = tool_info(external_url)
    values = {f"tool:{name}": str(info[name]) for name in TOOL_VALUES}
    config = current_app.config
    values["setting:idle_minutes"] = str(int(config["SESSION_IDLE_SECONDS"]) // 60)
    values["setting:warning_minutes"] = str(int(config["SESSION_WARNING_SECONDS"]) // 60)
    values["setting:session_hours"] = format_decimal(
        int(config["SESSION_LIFETIME_SECONDS"]) / 3600, locale=language
    )
    course = get_catalog().get(str(current_app.config["DEFAULT_COURSE"]))
    assert course is not None  # the catalog refuses to start without the default course
    workload = course.workload
    values.update(
        {
            "course:id": course.id,
            "course:title": course.title,
            "course:modules": str(len(course.modules)),
            "course:pass_mark": str(course.pass_mark),
            "course:hours": format_decimal(workload.hours, locale=language) if workload else "–",
            "course:teaching_units": str(workload.teaching_units) if workload else "–",
        }
    )
    return values


def _resolve(language: str) -> LinkResolver:
    """`guide:<id>` and `tool:<page>` links of a guide in `language` (the operator area has no ?lang=)."""

    def resolve(target: str) -> str | None:
        if (match := GUIDE_LINK.fullmatch(target)) and match["id"] in GUIDE_IDS:
            return url_for("guides.show", guide_id=match["id"], lang=language)
        if (match := TOOL_LINK.fullmatch(target)) and match["page"] in TOOL_PAGES:
            endpoint = TOOL_PAGES[match["page"]]
            return url_for(endpoint) if endpoint.startswith("admin.") else url_for(endpoint, lang=language)
        return None

    return resolve


def render_guide(guide: Guide) -> Markup:
    values = _values(guide.language)
    text = PLACEHOLDER.sub(lambda m: values[m.group(0)[2:-2]], guide.body)
    html = render_markdown(
        text, link_base="course", language=guide.language, resolve_link=_resolve(guide.language)
    )
    return Markup(html)  # noqa: S704  (sanitised by render_markdown)


TITLES: dict[str, Any] = {
    "moodle-administration": _l("For Moodle administrators"),
    "lehrende": _l("For teachers"),
    "teilnehmende": _l("For learners"),
}


@bp.get("/")
def index() -> str:
    language = page_language()
    listed = [(guide_id, TITLES[guide_id], guides()[(guide_id, language)].title) for guide_id in GUIDE_IDS]
    return render_template("guides/index.html", listed=listed, language=language)


@bp.get("/<guide_id>")
def show(guide_id: str) -> str:
    language = page_language()
    guide = guides().get((guide_id, language))
    if guide is None:
        raise NotFound(_l("There is no guide at this address."), code="guide_not_found")
    others = [(other, TITLES[other]) for other in GUIDE_IDS if other != guide_id]
    return render_template(
        "guides/guide.html", guide=guide, html=render_guide(guide), others=others, language=language
    )


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = load_guides()
    app.register_blueprint(bp)
    app.jinja_env.globals["guide_url"] = guide_url

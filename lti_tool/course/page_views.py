"""The course's glossary (`glossar`) and its course pages (`seiten/<page>`), beside the modules.

Both sit at the session root, where markdown.py's `glossary:` and `page:` links point. Reading them records no
progress: they are reference pages, not steps towards completion.
"""

from __future__ import annotations

from flask import render_template

from ..errors import NotFound
from ..i18n import lazy_gettext as _l
from .markdown import GLOSSARY_PATH, PAGES_PATH, TERM_ANCHOR
from .reference import glossary_letters
from .views import bp, here


@bp.get(f"/{GLOSSARY_PATH}")
def glossary() -> str:
    where = here()
    course = where.course
    if not course.glossary:
        raise NotFound(
            _l("This course has no glossary."),
            hint=_l("Please go back to the course overview."),
        )
    return render_template(
        "course/glossary.html",
        course=course,
        letters=glossary_letters(course),
        term_anchor=TERM_ANCHOR,
        single=where.single_module,
    )


@bp.get(f"/{PAGES_PATH}/<page_id>")
def course_page(page_id: str) -> str:
    where = here()
    course = where.course
    page = course.page(page_id)
    if page is None:
        raise NotFound(
            _l("This course has no such page."),
            hint=_l("Please go back to the course overview and choose a page from there."),
        )
    return render_template("course/page.html", course=course, page=page, single=where.single_module)

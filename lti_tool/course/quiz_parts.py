"""The quiz form's questions, put together from parts rendered once.

Rendering eight questions with their options through the template was most of a quiz form's CPU (~700 pieces of
output, ~300 escapes, the prompts' and options' soft hyphens). A question's HTML depends on the attempt through its
place in the attempt (its number: pools draw questions), the order of its options (shuffled per attempt) and, when
the form comes back with a problem, what the learner had chosen; a whole question is seldom shown the same way
twice. Its parts are: its start (prompt, hints, error), each option, and its end. Each part is rendered once per
interface language from `templates/course/_quiz_question.html`, with markers for the question's number and the
option's place (so one kept part serves every place), and kept per app; a form is its parts in the attempt's
order with its numbers put in. The same HTML as rendering them every time (which PAGE_CACHE=False does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Sequence
from typing import Any, cast

from flask import current_app
from markupsafe import Markup

from .model import Course, Module
from .quizform import ShownOption, ShownQuestion

TEMPLATE = "course/_quiz_question.html"
_STORE = "nama_quiz_parts"
# Kept parts of a process, at most (a question of four options: its start, each option with and without a tick,
# an ordering item at each preselected position; the Grundlagenkurs's quizzes in two languages are a few
# thousand): beyond it they are all forgotten and kept again as asked for.
_MAX_PARTS = 20_000
# While a part is rendered to keep: the question's number and the option's place (Unicode private-use
# characters, as in lti_tool/fragments.py: untouched by escaping and by soft hyphens).
_NUMBER = "\ue000n\ue001"
_PLACE = "\ue000p\ue001"


Render = Callable[[ShownQuestion, ShownOption | None], Markup]


def _macros() -> Any:
    return current_app.jinja_env.get_template(TEMPLATE).module


def _filled(part: str, q: ShownQuestion, o: ShownOption | None) -> str:
    part = part.replace(_NUMBER, str(q.number))
    return part.replace(_PLACE, str(o.number)) if o is not None else part


def _marked_question(q: ShownQuestion) -> ShownQuestion:
    field = f"q{_NUMBER}"  # as quizform.shown_questions names it
    return dataclasses.replace(q, number=cast(int, _NUMBER), field=field, dom_id=field)


def _marked_option(q: ShownQuestion, o: ShownOption) -> ShownOption:
    ordering = q.question.kind == "ordering"
    return dataclasses.replace(  # as quizform.shown_questions names them
        o,
        number=cast(int, _PLACE),
        field=f"q{_NUMBER}.{_PLACE}" if ordering else f"q{_NUMBER}",
        dom_id=f"q{_NUMBER}-{_PLACE}",
    )


def questions_html(course: Course, module: Module, shown: Sequence[ShownQuestion]) -> Markup:
    """The form's questions as `templates/course/_quiz_question.html` renders them, in the attempt's order."""
    from ..i18n import _current_locale

    macros = _macros()
    language = course.language
    total = len(shown)

    def start(q: ShownQuestion, o: ShownOption | None) -> Markup:
        return cast(Markup, macros.question_start(q, total, language))

    def option(q: ShownQuestion, o: ShownOption | None) -> Markup:
        return cast(Markup, macros.question_option(q, o, language))

    def end(q: ShownQuestion, o: ShownOption | None) -> Markup:
        return cast(Markup, macros.question_end(q))

    parts: dict[Hashable, str | None] | None = None  # None: rendered every time
    if current_app.config.get("PAGE_CACHE", True):
        parts = current_app.extensions.get(_STORE)
        if parts is None or len(parts) > _MAX_PARTS:
            parts = current_app.extensions[_STORE] = {}
    locale = _current_locale()
    out: list[str] = []
    for q in shown:
        question = q.question
        ordering = question.kind == "ordering"
        # What a part shows besides the markers: the question (by its ids: the catalog is loaded once per app,
        # like this store) and the interface language; the start also the number of questions and the problem,
        # an option its tick and, in an ordering question, the position preselected.
        which = (locale, course.id, module.id, question.id)
        out.append(_part(parts, (*which, total, q.problem), start, q))
        for o in q.options:
            key = (*which, o.option.id, o.checked, o.position if ordering else None)
            out.append(_part(parts, key, option, q, o))
        out.append(_part(parts, ("end", ordering), end, q))
    return Markup("".join(out))  # noqa: S704  # the template's output, escaped by it


def _part(
    parts: dict[Hashable, str | None] | None,
    key: Hashable,
    render: Render,
    q: ShownQuestion,
    o: ShownOption | None = None,
) -> str:
    """The kept part with this form's numbers put in. On its first use it is rendered with markers, and kept if
    that is the part as rendered with the numbers (not so when course text shows a marker)."""
    if parts is None:
        return str(render(q, o))
    try:
        kept = parts[key]
    except KeyError:
        real = str(render(q, o))
        marked = str(render(_marked_question(q), _marked_option(q, o) if o is not None else None))
        parts[key] = marked if _filled(marked, q, o) == real else None
        return real
    return _filled(kept, q, o) if kept is not None else str(render(q, o))

"""The quiz form's questions and the quiz result's answers, put together from parts rendered once.

Rendering eight questions with their options through the template was most of a quiz form's CPU (~700 pieces of
output, ~300 escapes, the prompts' and options' soft hyphens), and the same for the result page's answers. A
question's HTML depends on the attempt through its place in the attempt (its number: pools draw questions), the
order of its options (shuffled per attempt) and what the learner chose; a whole question is seldom shown the same
way twice. So it is split into parts that are.

The form's question: its start (prompt, hints, error), each option, and its end, from
`templates/course/_quiz_question.html`, with markers for the question's number and the option's place (so one kept
part serves every place). The result's question (`templates/course/_quiz_result_item.html`): the item with markers
for its number, its hint's link to a lesson (it carries the session token) and its two lists (the learner's answer,
the explanations), and each item of those lists. Each part is rendered once per interface language and kept per
app; a page gets its parts in the attempt's order with its own values put in. The same HTML as rendering them
every time (which PAGE_CACHE=False does).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, cast

from flask import current_app, url_for
from markupsafe import Markup, escape

from .model import Course, Module
from .quizform import ShownOption, ShownQuestion
from .review import ReviewedOption, ReviewedQuestion

TEMPLATE = "course/_quiz_question.html"
RESULT_TEMPLATE = "course/_quiz_result_item.html"
_STORE = "nama_quiz_parts"
# Kept parts of a process, at most this many characters (their text and what their keys hold of course or
# learner text): a question of four options has its start, each option with and without a tick, an ordering item
# at each preselected position; on the result page each answer and explanation as chosen or not. In
# bench/load.py's soak (the Grundlagenkurs in German) a process keeps ~1,500 of them after ten minutes, ~1.45 MB with
# their keys, still growing (bench/FINDINGS.md, steps 18 and 19); a million characters (~1.3 MB) holds the parts
# most asked for. Beyond the bound the oldest kept go first.
_MAX_PARTS_CHARS = 1_000_000
# While a part is rendered to keep: what differs between two uses of it (Unicode private-use characters, as in
# lti_tool/fragments.py: untouched by escaping and by soft hyphens). A part is kept as its text between them.
_MARK = "\ue000{}\ue001"
_MARKS = re.compile("\ue000(\\w+)\ue001")
_NUMBER = _MARK.format("n")  # the question's number
_PLACE = _MARK.format("p")  # the option's place (the form)
_LESSON = _MARK.format("h")  # the hint's link (the result)
_ANSWER = _MARK.format("a")  # the learner's answer's items (the result)
_EXPLAINED = _MARK.format("e")  # the explanations' items (the result)
# What an entry costs besides its text, counted as characters: the key's tuple, the kept tuples, the dict slot.
_ENTRY_CHARS = 200

# A kept part: its text between the markers and the markers' names; None: rendered every time.
_Kept = tuple[tuple[str, ...], tuple[str, ...]] | None
Render = Callable[[ShownQuestion, ShownOption | None], Markup]


class KeptParts:
    """The parts of one kind a process keeps, at most `max_chars` characters of text: a part that does not fit
    pushes out the oldest kept (parts whose key no page asks for any more, such as an exchange answer before its
    latest reply, are the oldest). `key_chars(key)`: the characters of text a key holds (an exchange answer's),
    counted with the part's. Looking up needs no lock (one dict read); keeping takes one."""

    __slots__ = ("_lock", "chars", "key_chars", "max_chars", "parts", "sizes")

    def __init__(self, max_chars: int, key_chars: Callable[[Any], int] | None = None) -> None:
        self.parts: dict[Hashable, _Kept] = {}
        self.sizes: dict[Hashable, int] = {}
        self.chars = 0
        self.max_chars = max_chars
        self.key_chars = key_chars
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.parts)

    def keep(self, key: Hashable, kept: _Kept) -> None:
        size = _ENTRY_CHARS + (sum(map(len, kept[0])) if kept else 0)
        if self.key_chars is not None:
            size += self.key_chars(key)
        with self._lock:
            if key in self.sizes or size > self.max_chars:
                return
            while self.chars + size > self.max_chars:
                oldest = next(iter(self.sizes))
                self.chars -= self.sizes.pop(oldest)
                del self.parts[oldest]
            self.parts[key] = kept
            self.sizes[key] = size
            self.chars += size


def parts_store(
    name: str = _STORE, max_chars: int = _MAX_PARTS_CHARS, key_chars: Callable[[Any], int] | None = None
) -> KeptParts | None:
    """The app's kept parts of one kind (KeptParts' arguments the first time); None: rendered every time
    (PAGE_CACHE=False)."""
    if not current_app.config.get("PAGE_CACHE", True):
        return None
    parts: KeptParts | None = current_app.extensions.get(name)
    if parts is None:
        parts = current_app.extensions.setdefault(name, KeptParts(max_chars, key_chars))
    return parts


def _macros(name: str) -> Any:
    return current_app.jinja_env.get_template(name).module


def kept_part(
    parts: KeptParts | None,
    key: Hashable,
    render: Callable[[bool], str],
    values: Mapping[str, str],
) -> str:
    """The part kept under `key` with this use's `values` (HTML, by marker name) put in. `render(marked)` renders
    it with the values (False) or the markers (True). On its first use it is rendered both ways, and kept if the
    marked one with the values put in is the real one (not so when course text shows a marker)."""
    if parts is None:
        return render(False)
    try:
        kept = parts.parts[key]
    except KeyError:
        real = render(False)
        split = _MARKS.split(render(True) if values else real)
        statics, names = tuple(split[0::2]), tuple(split[1::2])
        found = (statics, names) if values.keys() >= set(names) else None
        parts.keep(key, found if found is not None and _filled(found, values) == real else None)
        return real
    return _filled(kept, values) if kept is not None else render(False)


def _filled(kept: tuple[tuple[str, ...], tuple[str, ...]], values: Mapping[str, str]) -> str:
    statics, names = kept
    out = [statics[0]]
    for name, static in zip(names, statics[1:], strict=True):
        out.append(values[name])
        out.append(static)
    return "".join(out)


# --- The form ----------------------------------------------------------------------------------------------


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

    macros = _macros(TEMPLATE)
    language = course.language
    total = len(shown)

    def start(q: ShownQuestion, o: ShownOption | None) -> Markup:
        return cast(Markup, macros.question_start(q, total, language))

    def option(q: ShownQuestion, o: ShownOption | None) -> Markup:
        return cast(Markup, macros.question_option(q, o, language))

    def end(q: ShownQuestion, o: ShownOption | None) -> Markup:
        return cast(Markup, macros.question_end(q))

    parts = parts_store()
    locale = _current_locale()
    out: list[str] = []
    for q in shown:
        question = q.question
        ordering = question.kind == "ordering"
        # What a part shows besides the markers: the question (by its ids: the catalog is loaded once per app,
        # like this store) and the interface language; the start also the number of questions and the problem,
        # an option its tick and, in an ordering question, the position preselected.
        which = (locale, course.id, module.id, question.id)
        number = {"n": str(q.number)}
        out.append(_part(parts, (*which, total, q.problem), start, q, None, number))
        for o in q.options:
            key = (*which, o.option.id, o.checked, o.position if ordering else None)
            out.append(_part(parts, key, option, q, o, {**number, "p": str(o.number)}))
        out.append(_part(parts, ("end", ordering), end, q, None, number))
    return Markup("".join(out))  # noqa: S704  # the template's output, escaped by it


def _part(
    parts: KeptParts | None,
    key: Hashable,
    render: Render,
    q: ShownQuestion,
    o: ShownOption | None,
    values: Mapping[str, str],
) -> str:
    def rendered(marked: bool) -> str:
        if marked:
            return str(render(_marked_question(q), _marked_option(q, o) if o is not None else None))
        return str(render(q, o))

    return kept_part(parts, key, rendered, values)


# --- The result --------------------------------------------------------------------------------------------


def answers_html(course: Course, module: Module, reviewed: Sequence[ReviewedQuestion]) -> Markup:
    """The result page's answers as `templates/course/_quiz_result_item.html` renders them (review.py decided
    what they show)."""
    from ..i18n import _current_locale

    macros = _macros(RESULT_TEMPLATE)
    language = course.language
    parts = parts_store()
    locale = _current_locale()
    out: list[str] = []
    for q in reviewed:
        ordering = q.kind == "ordering"
        # An item of a list shows the option's text and verdict, an explanation also whether it was chosen, its
        # explanation and, in an ordering question, its place: the same text elsewhere is the same item.
        answer_items = "".join(
            kept_part(
                parts,
                ("answer", locale, language, ordering, o.text, o.correct),
                functools.partial(_list_item, macros.answer_item, q, o, language),
                _NO_VALUES,
            )
            for o in q.answer
        )
        explained_items = "".join(
            kept_part(
                parts,
                (
                    "explained",
                    locale,
                    language,
                    ordering,
                    o.text,
                    o.explanation_html,
                    o.correct,
                    o.chosen,
                    o.position if ordering else None,
                ),
                functools.partial(_list_item, macros.explained_item, q, o, language),
                _NO_VALUES,
            )
            for o in q.explained
        )
        href = (
            url_for("learner.lesson", module_id=module.id, lesson_id=q.hint_lesson.id)
            if q.hint_html and q.hint_lesson
            else ""
        )
        values = {"n": str(q.number), "h": str(escape(href)), "a": answer_items, "e": explained_items}
        # The item shows the question (by its ids, as the form's parts do), whether it was right and which of its
        # blocks the review shows (a hint's and a solution's text are the question's).
        key = (
            "item",
            locale,
            course.id,
            module.id,
            q.question_id,
            q.correct,
            bool(q.answer),
            bool(q.hint_html),
            q.hint_lesson is not None,
            bool(q.solution),
            bool(q.explained),
        )
        out.append(
            kept_part(parts, key, functools.partial(_item, macros.result_item, q, language, values), values)
        )
    return Markup("".join(out))  # noqa: S704  # the template's output, escaped by it


_NO_VALUES: Mapping[str, str] = {}


def _list_item(macro: Any, q: ReviewedQuestion, o: ReviewedOption, language: str, marked: bool) -> str:
    return str(macro(q, o, language))  # no markers: the same both ways


def _item(macro: Any, q: ReviewedQuestion, language: str, values: Mapping[str, str], marked: bool) -> str:
    if marked:
        q = dataclasses.replace(q, number=cast(int, _NUMBER))
        holes = (_LESSON, _ANSWER, _EXPLAINED)
    else:
        holes = (values["h"], values["a"], values["e"])  # escaped: the link here, the items by their template
    return str(macro(q, language, *(Markup(hole) for hole in holes)))  # noqa: S704

"""What the review document shows, derived from the course model: anchors for every part, the course's internal
links turned into links inside the document, headings of the course text moved below the document's own, and
the figures a reviewer needs (pool sizes, applied questions, where each source is cited).

Rendered by templates/review/_document.html (HTML) and by pdf.py; needs Flask-Babel's locale for its words.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from flask_babel import gettext, ngettext

from ..course.markdown import LinkBase, internal_href
from ..course.model import Course, Module, Page, Source, Topic
from ..course.reference import Letter, glossary_letters
from ..i18n import BERLIN, berlin_date

# Anchors inside the document. Identifiers never contain a dot, so "<module>.<lesson>" is unambiguous.
COURSE_ANCHOR = "kurs"
GLOSSARY_ANCHOR = "glossar"
SOURCES_ANCHOR = "quellen"


def module_anchor(module_id: str) -> str:
    return f"modul.{module_id}"


def lesson_anchor(module_id: str, lesson_id: str) -> str:
    return f"lektion.{module_id}.{lesson_id}"


def quiz_anchor(module_id: str) -> str:
    return f"quiz.{module_id}"


def question_anchor(module_id: str, question_id: str) -> str:
    return f"frage.{module_id}.{question_id}"


def practice_anchor(module_id: str) -> str:
    return f"praxis.{module_id}"


def term_anchor(term_id: str) -> str:
    return f"begriff.{term_id}"


def page_anchor(page_id: str) -> str:
    return f"seite.{page_id}"


def source_anchor(source_id: str) -> str:
    return f"quelle.{source_id}"


_HREF = re.compile(r'href="([^"]*)"')
_HEADING = re.compile(r"<(/?)h([1-6])\b")


def shift_headings(html: str, by: int) -> str:
    """Course text starts its headings at h2; inside the document it sits `by` levels deeper (at most h6)."""
    return _HEADING.sub(lambda m: f"<{m[1]}h{min(6, int(m[2]) + by)}", html)


def _link_targets(course: Course) -> Iterator[tuple[str, str]]:
    """(internal link target as an author writes it, anchor in the document) for everything a text may link to."""
    for module in course.modules:
        yield f"module:{module.id}", module_anchor(module.id)
        for lesson in module.lessons:
            yield f"module:{module.id}/{lesson.id}", lesson_anchor(module.id, lesson.id)
    for term in course.glossary:
        yield f"glossary:{term.id}", term_anchor(term.id)
    for page in course.pages:
        yield f"page:{page.id}", page_anchor(page.id)


def _anchors_by_href(course: Course) -> dict[LinkBase, dict[str, str]]:
    """For each link base, the href the loader rendered for each target (markdown.internal_href) -> anchor."""
    targets = list(_link_targets(course))
    result: dict[LinkBase, dict[str, str]] = {}
    bases: tuple[LinkBase, ...] = ("module", "course", "page")
    for base in bases:
        result[base] = {
            href: anchor for target, anchor in targets if (href := internal_href(target, base)) is not None
        }
    return result


@dataclass
class ReviewDocument:
    """The course as the review document presents it (one per rendering)."""

    course: Course
    made_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(BERLIN))

    course_anchor = COURSE_ANCHOR
    glossary_anchor = GLOSSARY_ANCHOR
    sources_anchor = SOURCES_ANCHOR
    module_anchor = staticmethod(module_anchor)
    lesson_anchor = staticmethod(lesson_anchor)
    quiz_anchor = staticmethod(quiz_anchor)
    question_anchor = staticmethod(question_anchor)
    practice_anchor = staticmethod(practice_anchor)
    term_anchor = staticmethod(term_anchor)
    page_anchor = staticmethod(page_anchor)
    source_anchor = staticmethod(source_anchor)

    # --- Course text inside the document --------------------------------------------------------------

    @cached_property
    def _anchors(self) -> dict[LinkBase, dict[str, str]]:
        return _anchors_by_href(self.course)

    def relink(self, html: str, base: LinkBase) -> str:
        """Internal links of a text rendered for `base` now point at the part of this document."""
        known = self._anchors[base]

        def replace(match: re.Match[str]) -> str:
            anchor = known.get(match[1])
            return f'href="#{anchor}"' if anchor else match[0]

        return _HREF.sub(replace, html)

    def module_html(self, html: str, shift: int = 2) -> str:
        """Text shown in a module (lessons, explanations, hints, practice): under an h3."""
        return shift_headings(self.relink(html, "module"), shift)

    def course_html(self, html: str, shift: int = 2) -> str:
        """Text shown at the course level (description, glossary)."""
        return shift_headings(self.relink(html, "course"), shift)

    def page_html(self, html: str, shift: int = 2) -> str:
        return shift_headings(self.relink(html, "page"), shift)

    # --- Facts --------------------------------------------------------------------------------------

    @cached_property
    def fingerprint(self) -> str:
        """Names this state of the course's content (everything the loader built from the files, not where they
        lie): a reviewer's remarks and a cached PDF belong to one fingerprint."""
        content = repr(dataclasses.replace(self.course, path=Path()))
        return hashlib.sha256(content.encode("utf-8")).hexdigest()[:12]

    @property
    def made_on(self) -> str:
        return berlin_date(self.made_at)

    @property
    def counts(self) -> str:
        course = self.course
        parts = [
            ngettext("%(num)s module", "%(num)s modules", len(course.modules)),
            ngettext("%(num)s lesson", "%(num)s lessons", sum(len(m.lessons) for m in course.modules)),
            ngettext(
                "%(num)s question", "%(num)s questions", sum(len(m.quiz.questions) for m in course.modules)
            ),
            ngettext("%(num)s course page", "%(num)s course pages", len(course.pages)),
            ngettext("%(num)s glossary entry", "%(num)s glossary entries", len(course.glossary)),
            ngettext("%(num)s source", "%(num)s sources", len(course.sources)),
        ]
        return ", ".join(parts)

    @property
    def required_modules(self) -> str:
        required = [m for m in self.course.modules if m.id in self.course.required_module_ids]
        if len(required) == len(self.course.modules):
            return str(gettext("all"))
        return ", ".join(str(m.position) for m in required) or str(gettext("none"))

    @property
    def workload(self) -> str:
        workload = self.course.workload
        if workload is None:
            return ""
        return str(
            gettext(
                "%(hours)s hours (%(units)s teaching units of 45 minutes)",
                hours=f"{workload.hours:g}".replace(".", ","),
                units=workload.teaching_units,
            )
        )

    @property
    def pages(self) -> tuple[Page, ...]:
        return self.course.pages

    @cached_property
    def letters(self) -> list[Letter]:
        return glossary_letters(self.course)

    @property
    def sources(self) -> list[Source]:
        return list(self.course.sources.values())

    def kind_label(self, kind: str) -> str:
        labels = {
            "single": gettext("single choice"),
            "multiple": gettext("multiple choice"),
            "truefalse": gettext("true or false"),
            "ordering": gettext("ordering"),
        }
        return str(labels.get(kind, kind))

    def pool_summary(self, module: Module) -> str:
        quiz = module.quiz
        total = len(quiz.questions)
        applied = sum(1 for question in quiz.questions if question.applied)
        drawn = ngettext(
            "An attempt draws %(num)s question",
            "An attempt draws %(num)s questions",
            quiz.questions_per_attempt,
        )
        pool = ngettext("from a pool of %(num)s.", "from a pool of %(num)s.", total)
        share = gettext("Applied questions: %(applied)s of %(total)s.", applied=applied, total=total)
        return f"{drawn} {pool} {share}"

    def topic_summary(self, module: Module, topic: Topic) -> str:
        count = len(module.quiz.topic_questions(topic.id))
        return str(gettext("%(draw)s of %(count)s questions drawn per attempt", draw=topic.draw, count=count))

    def topic_title(self, module: Module, topic_id: str) -> str:
        topic = next((t for t in module.quiz.topics if t.id == topic_id), None)
        return topic.title if topic else topic_id

    def practice_label(self, module: Module) -> str:
        """ "Practice task:" before the task's title, unless the title says so itself ("Praxisaufgabe: …")."""
        label = str(gettext("Practice task:"))
        says_so = module.practice.title.casefold().startswith(label.rstrip(":").casefold())
        return "" if says_so else label

    def practice_title(self, module: Module) -> str:
        label = self.practice_label(module)
        return f"{label} {module.practice.title}" if label else module.practice.title

    def lesson_title(self, module: Module, lesson_id: str) -> str:
        lesson = module.lesson(lesson_id)
        return lesson.title if lesson else lesson_id

    @cached_property
    def _citations(self) -> dict[str, list[tuple[str, str]]]:
        """Source id -> (label, anchor) of every place that cites it, in document order."""
        places: dict[str, list[tuple[str, str]]] = {}

        def add(sources: tuple[Source, ...], label: str, anchor: str) -> None:
            for source in sources:
                entry = (label, anchor)
                if entry not in places.setdefault(source.id, []):
                    places[source.id].append(entry)

        for page in self.pages:
            add(page.sources, page.title, page_anchor(page.id))
        for module in self.course.modules:
            for lesson in module.lessons:
                label = f"{module.position}.{lesson.position} {lesson.title}"
                add(lesson.sources, label, lesson_anchor(module.id, lesson.id))
            for number, question in enumerate(module.quiz.questions, start=1):
                label = gettext("Module %(module)s, question %(n)s", module=module.position, n=number)
                add(question.sources, label, question_anchor(module.id, question.id))
        for term in self.course.glossary:
            add(term.sources, term.term, term_anchor(term.id))
        return places

    def cited_in(self, source_id: str) -> list[tuple[str, str]]:
        return self._citations.get(source_id, [])

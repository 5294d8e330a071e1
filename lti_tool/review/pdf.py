"""The review document as a PDF (fpdf2, as the certificate): the same parts as the HTML view, with a table of
contents, PDF bookmarks for every module and part, page numbers, and DejaVu fonts for every German character.

Course text arrives as the sanitised HTML the loader rendered; fpdf2's HTML renderer writes it. Links inside the
course become plain text (the bookmarks and the contents lead there), links to the web stay links and print
their address, so a paper copy still names every source.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from html import unescape
from pathlib import Path

from flask_babel import gettext, ngettext
from fpdf import FPDF, FontFace, TextStyle
from fpdf.errors import FPDFException
from fpdf.outline import OutlineSection

from ..certificate.pdf import FONTS as CERTIFICATE_FONTS
from ..course.model import Module, Question, Source
from .document import ReviewDocument

FONTS = Path(__file__).resolve().parent / "fonts"
# fpdf2 subsets fonts with fontTools, which reports every step at INFO: noise in a CLI export or a web log.
logging.getLogger("fontTools").setLevel(logging.WARNING)
FAMILY = "DejaVu"
MONO = "DejaVuMono"
INK = (27, 31, 36)
MUTED = (74, 83, 97)
GREEN = (11, 92, 46)
RED = (161, 22, 27)

_HIDDEN_SPAN = re.compile(r'<span class="visually-hidden">.*?</span>', re.S)
_INTERNAL_LINK = re.compile(r'<a href="#[^"]*">(.*?)</a>', re.S)
_EXTERNAL_LINK = re.compile(r'(<a href="((?:https?|mailto):[^"]*)"[^>]*>)(.*?)</a>', re.S)
_SPAN = re.compile(r"</?span\b[^>]*>")
_TABLE_PARTS = re.compile(r"</?(?:thead|tbody)>")
_CELL = re.compile(r"(<t[dh]\b[^>]*>)(.*?)(</t[dh]>)", re.S)
_ANY_TAG = re.compile(r"<[^>]+>")
log = logging.getLogger(__name__)


def plain_text(html: str) -> str:
    return " ".join(unescape(_ANY_TAG.sub(" ", _HIDDEN_SPAN.sub("", html))).split())


def pdf_html(html: str) -> str:
    """Course HTML as fpdf2 writes it: no screen-reader-only words, internal links as text, the address of every
    web link after its text, no spans (fpdf2 knows no span), tables without thead/tbody and with plain-text cells."""
    html = _HIDDEN_SPAN.sub("", html)
    html = _INTERNAL_LINK.sub(r"\1", html)

    def external(match: re.Match[str]) -> str:
        opening, url, text = match[1], match[2], match[3]
        address = url.removeprefix("mailto:")
        shown = text if re.sub(r"<[^>]+>", "", text).strip() == address else f"{text} ({address})"
        return f'<a href="{url}">{shown}</a>' if opening else shown

    html = _EXTERNAL_LINK.sub(external, html)
    html = _SPAN.sub("", html)
    # fpdf2 writes table cells as plain text only (emphasis or a link inside a cell is refused).
    html = _CELL.sub(lambda m: m[1] + _ANY_TAG.sub("", m[2]) + m[3], html)
    return _TABLE_PARTS.sub("", html)


class ReviewPdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.writing_contents = False
        self.add_font(FAMILY, "", str(CERTIFICATE_FONTS / "DejaVuSans.ttf"))
        self.add_font(FAMILY, "B", str(CERTIFICATE_FONTS / "DejaVuSans-Bold.ttf"))
        self.add_font(FAMILY, "I", str(FONTS / "DejaVuSans-Oblique.ttf"))
        self.add_font(FAMILY, "BI", str(FONTS / "DejaVuSans-BoldOblique.ttf"))
        # Code inside a heading or emphasis asks for a bold or italic monospace: the regular face serves.
        for style in ("", "B", "I", "BI"):
            self.add_font(MONO, style, str(FONTS / "DejaVuSansMono.ttf"))
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_text_color(*INK)
        self.set_font(FAMILY, "", 10)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED)
        # The contents are written last (at output), into pages made at the end and then moved forward:
        # their numbers would be wrong, so they get none.
        number = "" if self.writing_contents else f" · {self.page_no()}/{{nb}}"
        self.cell(0, 5, f"{self.footer_text}{number}", align="C")
        self.set_text_color(*INK)

    @property
    def width(self) -> float:
        return float(self.w - self.l_margin - self.r_margin)

    def heading(self, text: str, level: int, *, outline: str | None = None, new_page: bool = False) -> None:
        """A heading; levels 0–2 also go into the bookmarks and the contents."""
        sizes = {0: 17.0, 1: 13.5, 2: 11.5, 3: 10.5}
        if new_page or self.get_y() > self.h - 45:
            self.add_page()
        else:
            self.ln(3 if level >= 2 else 5)
        if level <= 2:
            self.start_section(outline or text, level=level)
        self.set_font(FAMILY, "B", sizes.get(level, 10.5))
        self.set_text_color(*(GREEN if level <= 1 else INK))
        self.multi_cell(
            self.width, sizes.get(level, 10.5) * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT"
        )
        self.set_text_color(*INK)
        self.set_font(FAMILY, "", 10)
        self.ln(1)

    def line_of(
        self, text: str, *, size: float = 9, color: tuple[int, int, int] = MUTED, style: str = ""
    ) -> None:
        self.set_font(FAMILY, style, size)
        self.set_text_color(*color)
        self.multi_cell(self.width, size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(*INK)
        self.set_font(FAMILY, "", 10)

    def html(self, html: str, *, indent: float = 0) -> None:
        if not html.strip():
            return
        left = self.l_margin
        if indent:
            self.set_left_margin(left + indent)
            self.set_x(left + indent)
        try:
            self._write_html(pdf_html(html))
        except (
            NotImplementedError,
            FPDFException,
        ) as exc:  # a construct fpdf2 cannot lay out: the words still go in
            log.warning("review PDF: course HTML written as plain text (%s)", exc)
            self.set_font(FAMILY, "", 10)
            self.multi_cell(self.w - self.r_margin - self.get_x(), 5, plain_text(html), align="L")
            self.ln(2)
        if indent:
            self.set_left_margin(left)
            self.set_x(left)

    def _write_html(self, html: str) -> None:
        self.write_html(
            html,
            font_family=FAMILY,
            li_prefix_color=INK,
            tag_styles={
                "a": FontFace(color=GREEN, emphasis="UNDERLINE"),
                "code": FontFace(family=MONO),
                "blockquote": TextStyle(color=MUTED, l_margin=6, t_margin=2, b_margin=2),
                "h1": TextStyle(font_family=FAMILY, font_style="B", font_size_pt=12, color=INK, t_margin=4),
                "h2": TextStyle(font_family=FAMILY, font_style="B", font_size_pt=11.5, color=INK, t_margin=4),
                "h3": TextStyle(font_family=FAMILY, font_style="B", font_size_pt=11, color=INK, t_margin=3),
                "h4": TextStyle(font_family=FAMILY, font_style="B", font_size_pt=10.5, color=INK, t_margin=3),
                "h5": TextStyle(font_family=FAMILY, font_style="B", font_size_pt=10, color=INK, t_margin=2),
                "h6": TextStyle(font_family=FAMILY, font_style="B", font_size_pt=10, color=INK, t_margin=2),
                "pre": TextStyle(font_family=MONO, t_margin=2),
            },
        )

    def source_refs(self, sources: tuple[Source, ...]) -> None:
        if sources:
            label = ngettext("Source:", "Sources:", len(sources))
            self.line_of(f"{label} {', '.join(source.id for source in sources)}", size=8.5)


TOC_HEADING = 10.0  # mm
TOC_LINE = 5.5  # mm: every entry of the contents is one line (long titles are shortened), so the
# number of pages the contents need follows from the number of entries alone.


def _toc_lines(pdf: ReviewPdf, entries: Sequence[tuple[str, int, str, int | None]]) -> None:
    """The contents: (title, level, page label, link) per entry, title and page number joined by dots."""
    pdf.set_font(FAMILY, "B", 14)
    pdf.set_x(pdf.l_margin)
    pdf.cell(0, TOC_HEADING, gettext("Contents"), new_x="LMARGIN", new_y="NEXT")
    for name, level, label, link in entries:
        pdf.set_font(FAMILY, "B" if level == 0 else "", 10)
        indent = 6.0 * level
        number_width = pdf.get_string_width(label) + 2
        room = pdf.width - indent - number_width - 4
        title = name
        while pdf.get_string_width(title) > room and len(title) > 1:
            title = title[:-2].rstrip() + "…"
        dots = "." * max(0, int((room - pdf.get_string_width(title)) / pdf.get_string_width(".")))
        pdf.set_x(pdf.l_margin + indent)
        pdf.cell(pdf.get_string_width(title) + 1, TOC_LINE, title, link=link or "")
        pdf.set_text_color(*MUTED)
        pdf.cell(room - pdf.get_string_width(title) + 3, TOC_LINE, dots, align="R")
        pdf.set_text_color(*INK)
        pdf.cell(number_width, TOC_LINE, label, align="R", link=link or "", new_x="LMARGIN", new_y="NEXT")


def _toc(pdf: FPDF, outline: list[OutlineSection]) -> None:
    assert isinstance(pdf, ReviewPdf)
    pdf.writing_contents = True
    entries = [
        (
            section.name,
            section.level,
            pdf.pages[section.page_number].get_label(),
            pdf.add_link(page=section.page_number),
        )
        for section in outline
        if section.level <= 1
    ]
    _toc_lines(pdf, entries)


def _toc_pages(pdf: ReviewPdf, entries: int) -> int:
    """How many pages the contents take: fpdf2's own page-break rule (a line that would pass the trigger goes on
    a new page) applied to the heading and one line of TOC_LINE per entry."""
    pages, y = 1, pdf.t_margin + TOC_HEADING
    for _ in range(entries):
        if y + TOC_LINE > pdf.page_break_trigger:
            pages, y = pages + 1, pdf.t_margin
        y += TOC_LINE
    return pages


def _toc_entries(doc: ReviewDocument) -> int:
    """The headings of level 0 and 1 that render_pdf writes (keep in step with it)."""
    course = doc.course
    count = 1 + (1 + len(doc.pages) if doc.pages else 0) + (1 if doc.letters else 0) + 1
    return count + sum(3 + len(module.lessons) for module in course.modules)


def _question(pdf: ReviewPdf, doc: ReviewDocument, module: Module, number: int, question: Question) -> None:
    if pdf.get_y() > pdf.h - 60:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_draw_color(201, 209, 217)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(1.5)
    pdf.set_font(FAMILY, "B", 10.5)
    pdf.multi_cell(
        pdf.width,
        5.5,
        f"{gettext('Question %(n)s', n=number)}: {question.prompt}",
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    meta = [question.id, doc.kind_label(question.kind)]
    if question.topic:
        meta.append(f"{gettext('Topic:')} {doc.topic_title(module, question.topic)}")
    meta.append(
        gettext("Applied question (a municipal situation to judge)")
        if question.applied
        else gettext("Knowledge question")
    )
    pdf.line_of(" · ".join(meta), size=8.5)
    if question.kind == "ordering":
        pdf.line_of(gettext("Right order:"), size=9.5, color=INK, style="B")
    for position, option in enumerate(question.options, start=1):
        if question.kind == "ordering":
            mark, color = f"{position}.", INK
        elif option.correct:
            mark, color = f"✓ {gettext('right')}:", GREEN
        else:
            mark, color = f"✗ {gettext('wrong')}:", RED
        pdf.set_font(FAMILY, "B", 9.5)
        pdf.set_text_color(*color)
        pdf.set_x(pdf.l_margin + 4)
        pdf.multi_cell(
            pdf.width - 4, 5, f"{mark} {option.text}  [{option.id}]", align="L", new_x="LMARGIN", new_y="NEXT"
        )
        pdf.set_text_color(*INK)
        pdf.set_font(FAMILY, "", 9.5)
        pdf.html(doc.module_html(option.explanation_html), indent=9)
    hint = doc.module_html(question.hint_html) if question.hint_html else ""
    if hint:
        pdf.line_of(gettext("Hint (after an attempt that did not pass):"), size=9.5, color=INK, style="B")
        pdf.html(hint, indent=4)
        if question.lesson_id:
            pdf.line_of(f"{gettext('Sends the learner to:')} {doc.lesson_title(module, question.lesson_id)}")
    else:
        pdf.line_of(gettext("No hint."), size=9.5, color=RED)
    pdf.source_refs(question.sources)


def render_pdf(doc: ReviewDocument) -> bytes:
    pdf = ReviewPdf(footer_text=f"{gettext('Course for review:')} {doc.course.title}")
    try:
        _write(pdf, doc)
        return bytes(pdf.output())  # closes the font files
    except BaseException:
        for font in pdf.fonts.values():  # a document that is never written keeps its font files open
            close = getattr(font, "close", None)
            if close is not None:
                close()
        raise


def _write(pdf: ReviewPdf, doc: ReviewDocument) -> None:
    course = doc.course
    pdf.set_title(pdf.footer_text)
    pdf.set_author(course.issuer)
    pdf.set_creator("nama-lti")
    pdf.set_lang(course.language)
    pdf.set_display_mode("fullpage")

    pdf.add_page()
    pdf.line_of(
        gettext("Review copy for the course's owners – not for learners"), size=10, color=RED, style="B"
    )
    pdf.ln(4)
    pdf.set_font(FAMILY, "B", 20)
    pdf.set_text_color(*GREEN)
    pdf.multi_cell(pdf.width, 10, course.title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    pdf.ln(4)
    for label, value in (
        (gettext("Course ID"), course.id),
        (gettext("Issuer"), course.issuer),
        (gettext("Made on"), doc.made_on),
        (gettext("Content fingerprint"), doc.fingerprint),
        (gettext("Contents"), doc.counts),
    ):
        pdf.set_font(FAMILY, "B", 10)
        pdf.cell(40, 6, label)
        pdf.set_font(FAMILY, "", 10)
        pdf.multi_cell(pdf.width - 40, 6, value, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.line_of(
        gettext(
            "This document shows everything the course contains, including what learners see only after a quiz "
            "attempt: the key of every question (marked ✓ right / ✗ wrong), the hints, the explanation of every "
            "option and the model answers of the practice tasks. The IDs (in monospace) name the files and "
            "entries, so that remarks can point to them."
        ),
        size=9.5,
        color=INK,
    )
    pdf.add_page()
    pdf.insert_toc_placeholder(_toc, pages=_toc_pages(pdf, _toc_entries(doc)))

    pdf.heading(gettext("About the course"), 0, new_page=True)
    pdf.line_of(f"{course.id}/course.toml", size=8.5)
    pdf.heading(gettext("Description (on the course overview)"), 3)
    pdf.html(doc.course_html(course.description_html))
    pdf.heading(gettext("Settings"), 3)
    settings = [
        (gettext("Pass mark of a quiz"), f"{course.pass_mark} %"),
        (gettext("Modules required for completion"), doc.required_modules),
        (
            gettext("Practice task required for a module"),
            gettext("yes") if course.practice_required else gettext("no"),
        ),
        (
            gettext("Grade waits for a teacher's review of the practice task"),
            gettext("yes") if course.practice_review_required else gettext("no"),
        ),
    ]
    if doc.workload:
        settings.append((gettext("Workload"), doc.workload))
    for label, value in settings:
        pdf.line_of(f"{label}: {value}", size=10, color=INK)

    if doc.pages:
        pdf.heading(gettext("Course pages"), 0, new_page=True)
        for page in doc.pages:
            pdf.heading(page.title, 1)
            pdf.line_of(f"pages/{page.id}.md", size=8.5)
            pdf.html(doc.page_html(page.html))
            pdf.source_refs(page.sources)

    for module in course.modules:
        heading = f"{gettext('Module %(n)s:', n=module.position)} {module.title}"
        pdf.heading(heading, 0, new_page=True)
        pdf.line_of(f"{module.id}/module.toml · {gettext('about %(n)s min.', n=module.minutes)}", size=8.5)
        if module.summary:
            pdf.line_of(module.summary, size=10, color=INK)
        pdf.heading(gettext("Learning objectives"), 3)
        pdf.html("<ul>" + "".join(f"<li>{_escape(o)}</li>" for o in module.objectives) + "</ul>")
        for lesson in module.lessons:
            pdf.heading(f"{gettext('Lesson %(n)s:', n=lesson.position)} {lesson.title}", 1)
            pdf.line_of(f"{module.id}/lessons/{lesson.id}.md", size=8.5)
            pdf.html(doc.module_html(lesson.html))
            pdf.source_refs(lesson.sources)
        pdf.heading(
            gettext("Quiz: question pool"), 1, outline=f"{gettext('Quiz: question pool')} ({module.position})"
        )
        pdf.line_of(f"{module.id}/quiz.toml", size=8.5)
        pdf.line_of(doc.pool_summary(module), size=10, color=INK)
        for topic in module.quiz.topics:
            pdf.line_of(
                f"{topic.title} ({topic.id}): {doc.topic_summary(module, topic)}", size=9.5, color=INK
            )
        for number, question in enumerate(module.quiz.questions, start=1):
            _question(pdf, doc, module, number, question)
        practice = module.practice
        pdf.heading(doc.practice_title(module), 1)
        pdf.line_of(
            gettext(
                "At least %(min)s and at most %(max)s characters.",
                min=practice.min_length,
                max=practice.max_length,
            ),
            size=8.5,
        )
        pdf.html(doc.module_html(practice.prompt_html))
        pdf.heading(gettext("Model answer (shown after submitting)"), 3)
        if practice.model_answer_html:
            pdf.html(doc.module_html(practice.model_answer_html))
        else:
            pdf.line_of(gettext("None."), size=10, color=INK)
        pdf.heading(gettext("Checklist (shown after submitting)"), 3)
        if practice.checklist:
            pdf.html("<ul>" + "".join(f"<li>{_escape(point)}</li>" for point in practice.checklist) + "</ul>")
        else:
            pdf.line_of(gettext("None."), size=10, color=INK)

    if doc.letters:
        pdf.heading(gettext("Glossary"), 0, new_page=True)
        pdf.line_of(f"{course.id}/glossary.toml", size=8.5)
        for group in doc.letters:
            for term in group.terms:
                if pdf.get_y() > pdf.h - 40:
                    pdf.add_page()
                pdf.ln(2)
                pdf.set_font(FAMILY, "B", 10.5)
                name = f"{term.term} – {term.expansion}" if term.expansion else term.term
                pdf.multi_cell(
                    pdf.width, 5.5, f"{name}  [{term.id}]", align="L", new_x="LMARGIN", new_y="NEXT"
                )
                pdf.set_font(FAMILY, "", 10)
                pdf.html(doc.course_html(term.definition_html), indent=4)
                pdf.source_refs(term.sources)

    pdf.heading(gettext("Sources"), 0, new_page=True)
    for source in doc.sources:
        if pdf.get_y() > pdf.h - 35:
            pdf.add_page()
        pdf.ln(1.5)
        details = [source.id, source.title]
        if source.lang:
            details.append(f"({gettext('language: %(lang)s', lang=source.lang)})")
        if source.stand:
            details.append(f"({gettext('as of %(month)s', month=source.stand)})")
        pdf.set_font(FAMILY, "B", 9.5)
        pdf.multi_cell(pdf.width, 5, " ".join(details), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 9)
        pdf.set_text_color(*GREEN)
        pdf.multi_cell(pdf.width, 4.5, source.url, link=source.url, align="L", new_x="LMARGIN", new_y="NEXT")
        places = doc.cited_in(source.id)
        cited = (
            f"{gettext('Cited in:')} {', '.join(label for label, _ in places)}"
            if places
            else gettext("Not cited anywhere.")
        )
        pdf.line_of(cited, size=8.5)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

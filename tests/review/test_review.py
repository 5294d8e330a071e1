"""The reviewer's view: the whole course as one document, from the operator area (HTML and PDF) and from the
command line. What a reviewer must find in it is checked against the course model itself: every lesson, every
question with its key, hint and the explanation of every option, every practice task with its model answer and
checklist, the glossary, the pages and every source."""

from __future__ import annotations

import html as htmllib
import io
import re
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader

from lti_tool.course.catalog import get_catalog
from lti_tool.course.loader import load_course
from lti_tool.course.model import Course

from ..admin.conftest import AdminClient
from ..course.conftest import course_files, write_files

REVIEW = "/admin/courses/grundlagenkurs/review"
TAG = re.compile(r"<[^>]+>")


def course_of(app: Flask) -> Course:
    found = get_catalog(app).get("grundlagenkurs")
    assert found is not None
    return found


def plain(html: str, tag: str = " ") -> str:
    return " ".join(htmllib.unescape(TAG.sub(tag, html)).split())


@pytest.fixture
def signed_in(app: Flask, operator: str) -> AdminClient:
    client = AdminClient(app)
    assert client.login().status_code == 303
    return client


def question_blocks(text: str) -> dict[str, str]:
    """Question anchor -> its block of the document."""
    blocks = re.split(r'(?=<li class="review-question" id=")', text)
    return {re.match(r'<li class="review-question" id="([^"]+)"', b)[1]: b for b in blocks[1:]}  # type: ignore[index]


def test_operators_only(app: Flask, operator: str) -> None:
    client = AdminClient(app)
    for path in ("/admin/courses", REVIEW, REVIEW + ".pdf"):
        refused = client.get(path)
        assert refused.status_code == 303, path
        assert "/admin/login" in refused.headers["Location"]
        assert b"%PDF" not in refused.data and b"Einstieg" not in refused.data


def test_course_list_links_the_document_and_the_pdf(signed_in: AdminClient) -> None:
    page = signed_in.get("/admin/courses")
    assert page.status_code == 200
    text = page.text
    assert '<a href="/admin/courses" aria-current="page">Kurse</a>' in text
    assert f'href="{REVIEW}"' in text and f'href="{REVIEW}.pdf" download' in text
    assert "Testkurs Nachhaltigkeit" in text and "2 Module" in text and "7 Fragen" in text
    assert page.headers["Cache-Control"] == "no-store"


def test_the_document_holds_the_whole_course_with_every_key(app: Flask, signed_in: AdminClient) -> None:
    page = signed_in.get(REVIEW)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = page.text
    assert text.count("<h1") == 1 and "Prüfansicht:" in text
    assert 'href="/static/review.css"' in text
    course = course_of(app)
    everything = plain(text)
    assert plain(course.description_html) in everything
    for page_ in course.pages:
        assert f'id="seite.{page_.id}"' in text and plain(page_.html) in everything
    blocks = question_blocks(text)
    for module in course.modules:
        assert f'id="modul.{module.id}"' in text
        for objective in module.objectives:
            assert objective in everything
        for lesson in module.lessons:
            assert f'id="lektion.{module.id}.{lesson.id}"' in text
            assert plain(lesson.html) in everything, lesson.id
            assert f"{module.id}/lessons/{lesson.id}.md" in text
        assert len(module.quiz.questions) > 0
        for question in module.quiz.questions:
            block = blocks.pop(f"frage.{module.id}.{question.id}")
            assert htmllib.escape(question.prompt, quote=False) in block
            for option in question.options:
                assert plain(option.explanation_html) in plain(block), (question.id, option.id)
                item = block.split(f"<code>{option.id}</code>", 1)[0].rsplit("<li", 1)[1]
                if question.kind == "ordering":
                    continue
                assert ("✓ </span>richtig" in item) == option.correct, (question.id, option.id)
                assert ("✗ </span>falsch" in item) == (not option.correct), (question.id, option.id)
            if question.kind == "ordering":
                shown = re.findall(r'<span class="review-option__text">([^<]+)</span>', block)
                assert shown == [option.text for option in question.options]
                assert "Richtige Reihenfolge:" in block
            if question.hint_html:
                assert plain(question.hint_html) in plain(block)
            else:
                assert "Kein Hinweis." in block
        practice = module.practice
        assert plain(practice.prompt_html) in everything
        for point in practice.checklist:
            assert point in everything
        if practice.model_answer_html:
            assert plain(practice.model_answer_html) in everything
    assert blocks == {}, "questions that are not in the course"
    for term in course.glossary:
        assert f'id="begriff.{term.id}"' in text and plain(term.definition_html) in everything
    for source in course.sources.values():
        assert f'id="quelle.{source.id}"' in text and source.url in text and source.title in text
    assert "(Sprache: en)" in text and "(Stand: 03/2026)" in text
    assert "Für den Abschluss nötige Module" in text


def test_links_inside_the_course_lead_inside_the_document(signed_in: AdminClient) -> None:
    text = signed_in.get(REVIEW).text
    ids = set(re.findall(r' id="([^"]+)"', text))
    internal = re.findall(r'href="#([^"]*)"', text)
    assert internal and all(target in ids for target in internal), set(internal) - ids
    # The course's own links (module:, glossary:, page:) became anchors here, not learner URLs.
    assert 'href="#begriff.invkg">Glossar unter InvKG' in text
    assert 'href="#seite.anrechnung">Wofür der Kurs zählt' in text
    assert 'href="#lektion.modul-b.02-vertiefung">Vertiefung' in text
    assert 'href="#begriff.sdg">Glossar' in text  # in a model answer
    assert not re.search(r'href="(?:\.\./|m/|glossar|seiten/)', text)
    # Course text headings sit below the document's own (lesson h3 -> its ## becomes h4).
    assert "<h4>Abschnitt</h4>" in text and "<h2>Abschnitt</h2>" not in text


def test_a_question_with_hint_topic_and_applied_flag(
    app: Flask, signed_in: AdminClient, tmp_path: Path
) -> None:
    """The document states a question's topic, whether it is applied, its hint and the lesson it points to."""
    content = tmp_path / "content"
    write_files(content, course_files())
    quiz = content / "kurs" / "eins" / "quiz.toml"
    text = quiz.read_text(encoding="utf-8")
    text = text.replace(
        'prompt = "Welche Zahl?"\n',
        'prompt = "Welche Zahl?"\napplied = true\nhint = "Lesen Sie noch einmal, *womit* alles anfängt."\n'
        'lesson = "01-start"\n',
    )
    quiz.write_text(text, encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["course", "export-review", "--path", str(content / "kurs"), "-o", "-"]
    )
    assert result.exit_code == 0, result.output
    block = question_blocks(result.output)["frage.eins.eins"]
    assert "Anwendungsfrage (eine kommunale Situation beurteilen)" in block
    assert "Hinweis (nach einem nicht bestandenen Versuch):" in block
    assert "Lesen Sie noch einmal, <em>womit</em> alles anfängt." in block
    assert 'Verweist auf: <a href="#lektion.eins.01-start" lang="de">Der Start</a>' in block
    assert "Wissensfrage" in question_blocks(result.output)["frage.eins.mehrere"]


def test_english_words_around_the_german_course(signed_in: AdminClient) -> None:
    text = signed_in.get(REVIEW + "?lang=en").text
    assert '<html lang="en">' in text and "Course for review:" in text
    assert "✓ </span>right" in text and "Explanation:" in text and "Right order:" in text
    assert '<span lang="de">Testkurs Nachhaltigkeit</span>' in text


def test_unknown_course(signed_in: AdminClient) -> None:
    for path in ("/admin/courses/keiner/review", "/admin/courses/keiner/review.pdf"):
        page = signed_in.get(path)
        assert page.status_code == 404
        assert "Dieses Tool bietet keinen Kurs mit dieser ID an." in page.text


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def test_pdf_holds_the_course_with_keys_and_german_text(app: Flask, signed_in: AdminClient) -> None:
    response = signed_in.get(REVIEW + ".pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="grundlagenkurs-pruefansicht.pdf"'
    reader = PdfReader(io.BytesIO(response.data))
    assert reader.metadata is not None and reader.metadata.title == "Prüfansicht: Testkurs Nachhaltigkeit"
    outline = [item.title for item in reader.outline if not isinstance(item, list)]
    assert "Modul 1: Modul a" in outline and "Glossar" in outline and "Quellen" in outline
    text = pdf_text(response.data)
    course = course_of(app)
    for module in course.modules:
        for lesson in module.lessons:
            assert lesson.title in text
        for question in module.quiz.questions:
            assert question.prompt in text, question.id
            for option in question.options:
                mark = (
                    "" if question.kind == "ordering" else ("✓ richtig: " if option.correct else "✗ falsch: ")
                )
                assert f"{mark}{option.text} [{option.id}]" in text, (question.id, option.id)
                assert plain(option.explanation_html, "") in text, (question.id, option.id)
    assert "Eine gute Antwort nennt die Kommune, ein Ziel und einen Schritt." in text
    assert "Ein überprüfbares Ziel ist genannt." in text
    assert "ÖPNV – öffentlicher Personennahverkehr" in text
    assert "https://example.org/agenda" in text and "(Stand: 03/2026)" in text
    assert "öffnet in neuem Fenster" not in text  # screen-reader words stay out of print
    assert "Wofür der Kurs zählt" in text and "Über die Anrechnung entscheidet die zuständige Stelle." in text


def test_cli_writes_html_and_pdf(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    target = tmp_path / "pruef.html"
    result = runner.invoke(args=["course", "export-review", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert f"{target}: review document of Testkurs Nachhaltigkeit (HTML" in result.output
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and '<html lang="de">' in html
    assert "<style>" in html and "@media print" in html and "<link" not in html  # one file, styles inside
    assert "/admin" not in html and "/static/" not in html
    assert "Vertiefung" in html and "✓ </span>richtig" in html

    pdf = tmp_path / "pruef.pdf"
    result = runner.invoke(
        args=["course", "export-review", "--format", "pdf", "--lang", "en", "-o", str(pdf)]
    )
    assert result.exit_code == 0, result.output
    text = pdf_text(pdf.read_bytes())
    assert "Course for review:" in text and "✓ right: " in text and "Vertiefung" in text


def test_cli_refusals_write_nothing(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    target = tmp_path / "out.html"
    unknown = runner.invoke(args=["course", "export-review", "--course", "keiner", "-o", str(target)])
    assert (
        unknown.exit_code == 1
        and "no course 'keiner'" in unknown.output
        and "grundlagenkurs" in unknown.output
    )
    content = tmp_path / "content"
    write_files(content, course_files())
    (content / "kurs" / "eins" / "quiz.toml").write_text("[[questions]]\nid = 1\n", encoding="utf-8")
    broken = runner.invoke(
        args=["course", "export-review", "--path", str(content / "kurs"), "-o", str(target)]
    )
    assert broken.exit_code == 1
    assert "kurs/eins/quiz.toml: questions[1].id: must be a string" in broken.output
    assert "problem(s)" in broken.output
    both = runner.invoke(
        args=["course", "export-review", "--course", "x", "--path", str(content), "-o", str(target)]
    )
    assert both.exit_code == 2 and "either --course or --path" in both.output
    wrong_format = runner.invoke(args=["course", "export-review", "--format", "docx", "-o", str(target)])
    assert wrong_format.exit_code == 2
    assert not target.exists()


def test_the_shipped_course_exports_whole(app: Flask, tmp_path: Path) -> None:
    """The real Grundlagenkurs (tables, long lessons, contents over more than one page) as HTML and PDF."""
    folder = Path(__file__).resolve().parents[2] / "content" / "grundlagenkurs"
    course = load_course(folder)
    runner = app.test_cli_runner()
    pdf, html = tmp_path / "kurs.pdf", tmp_path / "kurs.html"
    for target, fmt in ((pdf, "pdf"), (html, "html")):
        result = runner.invoke(
            args=["course", "export-review", "--path", str(folder), "--format", fmt, "-o", str(target)]
        )
        assert result.exit_code == 0, result.output
    text = pdf_text(pdf.read_bytes())
    page_text = html.read_text(encoding="utf-8")
    for module in course.modules:
        for lesson in module.lessons:
            assert lesson.title in text and f'id="lektion.{module.id}.{lesson.id}"' in page_text
        for question in module.quiz.questions:
            assert " ".join(question.prompt.split()) in text, question.id
            assert f'id="frage.{module.id}.{question.id}"' in page_text
    reader = PdfReader(pdf)
    labels = [" ".join((page.extract_text() or "").split()) for page in reader.pages]
    assert all(f"· {number}/{len(reader.pages)}" in label for number, label in enumerate(labels, start=1))


RICH_LESSON = """\
+++
title = "Der Start"
sources = ["S1"]
+++
## Ziel mit `Code` im Titel

| Jahr | **Ereignis** |
|---|---|
| 2015 | *Agenda* mit [Link](https://example.org/eins) |

> Zitat mit Liste:
>
> - eins
> - zwei

3. drei
4. vier
   - verschachtelt – mit Gedankenstrich

```
Vorgabe „Schritt“ – ohne Umbruch ÄÖÜß
```
"""


def test_pdf_writes_every_construct_of_course_markdown(app: Flask, tmp_path: Path) -> None:
    content = tmp_path / "content"
    write_files(content, {**course_files(), "kurs/eins/lessons/01-start.md": RICH_LESSON})
    target = tmp_path / "kurs.pdf"
    result = app.test_cli_runner().invoke(
        args=[
            "course",
            "export-review",
            "--path",
            str(content / "kurs"),
            "--format",
            "pdf",
            "-o",
            str(target),
        ]
    )
    assert result.exit_code == 0, result.output
    text = pdf_text(target.read_bytes())
    for words in (
        "Ziel mit Code im Titel",
        "Ereignis",
        "Agenda mit Link",
        "Zitat mit Liste:",
        "verschachtelt – mit Gedankenstrich",
        "Vorgabe „Schritt“ – ohne Umbruch ÄÖÜß",
    ):
        assert words in text, words


def test_the_pdf_is_made_once_per_content_version_and_language(
    app: Flask, signed_in: AdminClient, tmp_path: Path
) -> None:
    folder = Path(app.instance_path) / "review"
    first = signed_in.get(REVIEW + ".pdf")
    assert first.status_code == 200
    kept = list(folder.glob("grundlagenkurs-de-*.pdf"))
    assert len(kept) == 1 and kept[0].read_bytes() == first.data
    fingerprint = kept[0].stem.rsplit("-", 1)[1]
    assert f"<code>{fingerprint}</code>" in signed_in.get(REVIEW).text  # the document names its version
    assert fingerprint in pdf_text(first.data)
    # Served from the kept file from then on (here: a marked copy, to see it is the one served).
    kept[0].write_bytes(first.data + b"%kept\n")
    assert signed_in.get(REVIEW + ".pdf").data.endswith(b"%kept\n")
    english = signed_in.get(REVIEW + ".pdf?lang=en")
    assert "Course for review:" in pdf_text(english.data)
    assert len(list(folder.glob("grundlagenkurs-en-*.pdf"))) == 1
    # A new version of the content gets a new file, and the old one goes.
    stale = folder / "grundlagenkurs-de-000000000000.pdf"
    stale.write_bytes(b"old")
    kept[0].unlink()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["course", "export-review", "--format", "pdf", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 0, result.output
    assert not stale.exists() and kept[0].exists()  # the CLI made (and kept) the operator area's file too
    assert kept[0].read_bytes() == (tmp_path / "x.pdf").read_bytes()

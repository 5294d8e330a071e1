"""The glossary and the course pages over HTTP, as a learner reaches them: from the overview and from links in
the lessons; sorted terms with anchors, expansions, definitions and sources (with their language and "Stand");
and the practice task's model answer and the exchange round's prompt, shown only after submitting."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from flask import Flask

from ..peer import Launcher, claim
from .learner import Learner, check_structure, module_claim

HREF = re.compile(r'<a href="([^"]+)"[^>]*>')


def links(html: str) -> list[str]:
    return HREF.findall(html)


def follow(learner: Learner, html: str, text: str) -> tuple[str, str]:
    """Follow the link whose text starts with `text`, as a browser resolves it; (page text, fragment)."""
    match = re.search(rf'<a href="([^"]+)"[^>]*>(?:<span[^>]*>)?{re.escape(text)}', html)
    assert match, f"no link {text!r}"
    target = urljoin(learner.page.url, match.group(1).replace("&amp;", "&"))
    page = learner.http.get(target)
    assert page.status_code == 200, (target, page.status_code)
    learner.page = page
    return page.text, urlsplit(target).fragment


def test_overview_links_the_course_pages_in_order_and_the_glossary(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    text = learner.page.text
    nav = text.split('<nav class="course-links"', 1)[1].split("</nav>", 1)[0]
    assert 'aria-labelledby="course-links-title"' in nav and "Zum Kurs" in text
    titles = re.findall(r'lang="de">([^<]+)</a>', nav)
    assert titles == ["Wofür der Kurs zählt", "Hinweise zur Bearbeitung"]  # `order` first, then by title
    assert "Glossar: Abkürzungen und Begriffe" in nav
    page, _ = follow(learner, text, "Wofür der Kurs zählt")
    assert '<h1 id="page-title" lang="de">Wofür der Kurs zählt</h1>' in page
    assert "Über die Anrechnung entscheidet die zuständige Stelle." in page
    check_structure(page)


def test_course_page_sources_links_and_breadcrumbs(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.get("seiten/anrechnung")
    assert page.status_code == 200
    text = page.text
    assert '<li><a href="/s/' in text and "Kursübersicht</a>" in text  # breadcrumbs back to the overview
    assert '<span aria-current="page"><span lang="de">Wofür der Kurs zählt</span></span>' in text
    # Sources: the English one carries its language, and when it was checked.
    assert (
        '<a href="https://example.org/agenda" target="_blank" rel="noopener noreferrer" hreflang="en">'
        '<span lang="en">Transforming our world: the 2030 Agenda for Sustainable Development</span>'
    ) in text
    assert "(Stand: 03/2026)" in text
    assert '<span lang="de">Testquelle</span>' in text
    # Links inside the page lead to the glossary term and to a lesson.
    glossary, fragment = follow(learner, text, "SDG")
    assert fragment == "begriff-sdg" and 'id="begriff-sdg"' in glossary
    learner.get("seiten/anrechnung")
    lesson, _ = follow(learner, learner.page.text, "Modul a")
    assert '<h1 id="lesson-title" lang="de">Einstieg</h1>' in lesson
    other, _ = follow(learner, learner.get("seiten/hinweise").text, "Anrechnung")
    assert "Wofür der Kurs zählt</h1>" in other


def test_glossary_terms_sorted_with_anchors_expansions_and_sources(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.get("glossar")
    assert page.status_code == 200
    text = page.text
    check_structure(text)
    assert "<h1>Glossar</h1>" in text
    # Dictionary order: digits first, Ö sorted as O (after InvKG, before SDG).
    assert re.findall(r"<dfn>([^<]+)</dfn>", text) == ["2030-Agenda", "InvKG", "ÖPNV", "SDG"]
    assert re.findall(r'<h2 id="(buchstabe-[^"]+)"', text) == [
        "buchstabe-0",
        "buchstabe-i",
        "buchstabe-o",
        "buchstabe-s",
    ]
    for letter in ("0", "i", "o", "s"):
        assert f'href="#buchstabe-{letter}"' in text
    entry = text.split('id="begriff-invkg"', 1)[1].split("</div>", 1)[0]
    assert "<dfn>InvKG</dfn>" in entry
    assert '<span class="visually-hidden">: </span>Investitionsgesetz Kohleregionen' in entry
    assert "Bundesgesetz über Finanzhilfen für die Kohleregionen." in entry
    assert '<span lang="de">Testquelle</span>' in entry and "Quelle:" in entry
    # A definition's link to a module works from the glossary's place.
    module_page, _ = follow(learner, text, "Modul a")
    assert '<h1 lang="de">Modul a</h1>' in module_page


def test_a_lesson_links_to_the_glossary_term_and_the_page(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    lesson = learner.get("m/modul-a/02-vertiefung").text
    glossary, fragment = follow(learner, lesson, "Glossar unter InvKG")
    assert fragment == "begriff-invkg" and 'id="begriff-invkg"' in glossary
    page, _ = follow(learner, learner.get("m/modul-a/02-vertiefung").text, "Wofür der Kurs zählt")
    assert "Über die Anrechnung entscheidet" in page


def test_reference_pages_in_english_keep_the_course_text_german(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher, **claim("launch_presentation", {"locale": "en"}))
    text = learner.get("glossar").text
    assert '<html lang="en">' in text and "<h1>Glossary</h1>" in text
    assert '<dl class="glossary" lang="de">' in text
    assert '<div class="glossary__sources" lang="en">Source:' in text
    page = learner.get("seiten/anrechnung").text
    assert "(as of 03/2026)" in page and '<h2 id="sources-title">Sources</h2>' in page
    assert "About this course" in learner.get("").text


def test_unknown_page_is_a_clear_404(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    for path in ("seiten/gibt-es-nicht", "seiten/..%2Fglossar", "seiten/"):
        page = learner.get(path)
        assert page.status_code == 404, path
    assert "Diese Seite gibt es in diesem Kurs nicht." in learner.get("seiten/gibt-es-nicht").text


def test_reference_pages_need_a_session(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    for path in ("glossar", "seiten/anrechnung"):
        foreign = learner.http.get(urljoin(learner.base.replace(learner.sid, "x" * 43), path))
        assert foreign.status_code in (401, 403), path
        assert "InvKG" not in foreign.text and "Anrechnung" not in foreign.text


def test_a_single_module_activity_still_reaches_the_glossary(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher, **module_claim("modul-b"))
    assert learner.get("glossar").status_code == 200
    assert learner.get("seiten/anrechnung").status_code == 200


# --- Practice: model answer and checklist after submitting; the exchange round --------------------------


def model_answer_parts(html: str) -> list[str]:
    return [
        part
        for part in ("Musterlösung", "Eine gute Antwort nennt", "Die Kommune ist genannt.", "model-answer")
        if part in html
    ]


def test_model_answer_and_checklist_only_after_submitting(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    before = learner.get("m/modul-a/praxis")
    assert before.status_code == 200 and model_answer_parts(before.text) == []
    refused = learner.post("m/modul-a/praxis", {"text": "zu kurz"})
    assert refused.status_code == 422 and model_answer_parts(refused.text) == []
    exchange = learner.get("m/modul-a/austausch")
    assert model_answer_parts(exchange.text) == [] and "Austauschrunde" not in exchange.text

    saved = learner.post("m/modul-a/praxis", {"text": "In unserer Kommune gibt es einen Klimabeirat."})
    assert saved.status_code == 200
    text = saved.text
    check_structure(text)
    assert 'href="#model-answer-title">Mit der Musterlösung vergleichen</a>' in text
    section = text.split('<section class="model-answer"', 1)[1].split("</section>", 1)[0]
    assert '<h2 id="model-answer-title">Musterlösung</h2>' in section
    assert "Eine gute Antwort nennt die <strong>Kommune</strong>, ein Ziel und einen Schritt." in section
    assert re.findall(r"<li>([^<]+)</li>", section) == [
        "Die Kommune ist genannt.",
        "Ein überprüfbares Ziel ist genannt.",
    ]
    assert "bis eine Lehrperson sie angenommen hat" in section
    glossary, fragment = follow(learner, section, "Glossar")
    assert fragment == "begriff-sdg" and "<dfn>SDG</dfn>" in glossary
    # The answer form is still there (the text can be changed until a teacher reviewed it).
    assert 'name="text"' in learner.get("m/modul-a/praxis").text


def test_a_module_without_model_answer_shows_none(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    saved = learner.post("m/modul-b/praxis", {"text": "In unserer Kommune gibt es einen Klimabeirat."})
    assert saved.status_code == 200
    assert model_answer_parts(saved.text) == []
    exchange = learner.get("m/modul-b/austausch").text
    assert "Austauschrunde" in exchange and "Mit der Musterlösung vergleichen" not in exchange


def test_exchange_round_prompt_in_german_and_english(app: Flask, launcher: Launcher) -> None:
    first = Learner.launch(launcher, sub="user-2", given_name="Jonas")
    first.post("m/modul-a/praxis", {"text": "Bei uns gibt es einen Klimabeirat und einen Bericht."})
    me = Learner.launch(launcher)
    me.post("m/modul-a/praxis", {"text": "Meine eigene Antwort zur Kommune."})
    text = me.get("m/modul-a/austausch").text
    check_structure(text)
    section = text.split('<section class="exchange-round"', 1)[1].split("</section>", 1)[0]
    assert '<h2 id="exchange-round-title">Austauschrunde</h2>' in section
    assert "Lesen Sie die Antworten von mindestens zwei Kolleg*innen" in section
    assert "Welche Idee könnten Sie für Ihre eigene Kommune übernehmen?" in section
    assert "Bisher hat eine Person geantwortet." in section  # one answer so far: come back for a second
    assert "Mit der Musterlösung vergleichen" in section
    second = Learner.launch(launcher, sub="user-3", given_name="Aylin")
    second.post("m/modul-a/praxis", {"text": "Wir haben einen Nachhaltigkeitshaushalt beschlossen."})
    assert "Bisher hat eine Person geantwortet." not in me.get("m/modul-a/austausch").text

    english = Learner.launch(launcher, **claim("launch_presentation", {"locale": "en"}))
    english_text = english.get("m/modul-a/austausch").text
    assert "Exchange round" in english_text and "read the answers of at least two colleagues" in english_text
    assert "Which idea could you take over for your own municipality?" in english_text
    assert "Your answer, for comparison" in english_text
    assert '<div class="user-text" lang="de">Meine eigene Antwort zur Kommune.</div>' in text

"""Learner pages end to end over HTTP: launch -> overview -> module -> lessons -> quiz -> practice -> exchange."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.models import CourseProgress, LessonVisit, PracticeSubmission, QuizAttempt

from ..peer import INSTRUCTOR, Launcher, claim
from .learner import (
    Learner,
    attempt_id,
    check_structure,
    count,
    module_claim,
    progress_learner,
    review,
    take_quiz,
)

HREF = re.compile(r'href="([^"]+)"')


def continue_href(html: str) -> str:
    match = re.search(r'<a class="button" href="([^"]+)">(?:Weiter|Continue)', html)
    assert match, "no Continue button"
    return match.group(1)


def test_launch_lands_on_overview_with_continue_to_the_first_lesson(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.page
    assert '<html lang="de">' in page.text
    assert "Testkurs Nachhaltigkeit" in page.text and "Willkommen, Lea Schneider." in page.text
    assert continue_href(page.text).endswith("/m/modul-a/01-einstieg")
    assert "Modul a" in page.text and "Modul b" in page.text
    assert "0 von 2 Modulen abgeschlossen" in page.text and "Quiz noch offen" in page.text
    check_structure(page.text)


def test_module_page_lists_objectives_lessons_quiz_and_practice(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.get("m/modul-a/")
    assert page.status_code == 200
    text = page.text
    assert '<h1 lang="de">Modul a</h1>' in text
    assert "Sie können das Testmodul a erklären." in text and "ca. 10 Min." in text
    assert "Modul 1 von 2" in text
    for href in ("01-einstieg", "02-vertiefung", "quiz", "praxis", "austausch"):
        assert f'/m/modul-a/{href}"' in text
    assert "5 Fragen." in text and "Zum Bestehen sind 80\xa0% nötig" in text
    check_structure(text)


def test_lesson_page_position_sources_navigation_and_seen(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.get("m/modul-a/01-einstieg")
    assert page.status_code == 200
    text = page.text
    assert "Seite 1 von 2" in text and "<h1" in text and "Einstieg</h1>" in text
    assert '<h2 id="sources-title">Quellen</h2>' in text
    assert (
        'href="https://example.org/quelle" target="_blank" rel="noopener noreferrer"><span lang="de">Testquelle'
        in text
    )
    assert 'rel="next"' in text and "/m/modul-a/02-vertiefung" in text
    assert "Zurück zum Modul" in text  # first page: back to the module instead of a previous page
    check_structure(text)
    assert count(app, LessonVisit) == 1

    last = learner.get("m/modul-a/02-vertiefung")
    assert "Seite 2 von 2" in last.text and 'rel="prev"' in last.text
    assert "/m/modul-a/quiz" in last.text  # the last page leads on to the quiz
    # Seeing a page twice records it once.
    learner.get("m/modul-a/01-einstieg")
    assert count(app, LessonVisit) == 2
    assert "2 von 2 gelesen" in learner.get("m/modul-a/").text


def test_internal_links_of_the_loader_resolve_under_the_session(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.get("m/modul-a/01-einstieg")
    relative = [h for h in HREF.findall(page.text) if h.startswith("../")]
    assert relative == ["../modul-b/", "../modul-b/02-vertiefung"]
    for href in relative:
        target = learner.http.get(urljoin(page.url, href))
        assert target.status_code == 200, href
        assert learner.sid in target.url


def test_unknown_module_or_lesson_is_a_clear_404(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    for path, message in [
        ("m/nope/", "Dieses Modul gibt es in diesem Kurs nicht."),
        ("m/nope/01-einstieg", "Dieses Modul gibt es in diesem Kurs nicht."),
        ("m/modul-a/99-nope", "Diese Seite gibt es in diesem Modul nicht."),
        ("m/nope/quiz", "Dieses Modul gibt es in diesem Kurs nicht."),
        ("m/nope/praxis", "Dieses Modul gibt es in diesem Kurs nicht."),
    ]:
        page = learner.get(path)
        assert page.status_code == 404, path
        assert message in page.text
    assert count(app, LessonVisit) == 0


def test_single_module_activity_lands_on_the_module(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher, **module_claim("modul-b"))
    assert learner.page.url.endswith("/m/modul-b/")
    assert '<h1 lang="de">Modul b</h1>' in learner.page.text
    overview = learner.get("uebersicht")
    assert "/m/modul-b/" in overview.text and "/m/modul-a/" not in overview.text
    assert continue_href(overview.text).endswith("/m/modul-b/01-einstieg")
    # The start URL keeps sending this activity to its module.
    assert learner.get("").url.endswith("/m/modul-b/")


def test_single_module_launch_redirects_to_the_module_at_once(app: Flask, launcher: Launcher) -> None:
    """The launch's redirect goes to the module page itself, not to the start URL that would redirect again."""
    resp = launcher.launch(**module_claim("modul-b"))
    assert resp.status_code == 303, resp.text[:500]
    location = resp.headers["Location"]
    assert re.fullmatch(r"/s/[A-Za-z0-9_-]+/m/modul-b/", location), location
    page = launcher.browser.get(launcher.tool_url + location, allow_redirects=False)
    assert page.status_code == 200
    assert '<h1 lang="de">Modul b</h1>' in page.text
    whole_course = launcher.launch(sub="user-2")  # an activity for the whole course: the start URL, as before
    assert re.fullmatch(r"/s/[A-Za-z0-9_-]+/", whole_course.headers["Location"])


def test_language_switch_from_a_learner_page_comes_back_in_english(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.get("m/modul-a/01-einstieg")
    assert "Seite 1 von 2" in page.text
    back = learner.post("sprache/", {"lang": "en", "next": "/s/" + learner.sid + "/m/modul-a/01-einstieg?"})
    assert back.status_code == 200
    assert back.url.endswith("/m/modul-a/01-einstieg?") or back.url.endswith("/m/modul-a/01-einstieg")
    assert '<html lang="en">' in back.text and "Page 1 of 2" in back.text
    assert 'lang="de"' in back.text  # the course text keeps its own language
    assert "Sources" in back.text
    assert "Continue" in learner.get("").text


def test_resume_after_relaunch_from_another_device(app: Flask, launcher: Launcher) -> None:
    first = Learner.launch(launcher)
    first.get("m/modul-b/01-einstieg")
    # A new launch (another device: a new browser, a new tool session).
    launcher.browser.cookies.clear()
    again = Learner.launch(launcher)
    assert again.sid != first.sid
    text = again.page.text
    assert continue_href(text).endswith("/m/modul-b/02-vertiefung")  # resumes in the module last worked on
    assert "Zuletzt geöffnet:" in text
    assert re.search(r'Zuletzt geöffnet: <a href="[^"]*/m/modul-b/01-einstieg" lang="de">Einstieg</a>', text)


def test_whole_module_walk_completes_it(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    learner.get("m/modul-a/01-einstieg")
    learner.get("m/modul-a/02-vertiefung")
    result = take_quiz(app, learner, "modul-a")
    assert result.status_code == 200 and "bestanden" in result.text
    assert continue_href(learner.get("m/modul-a/").text).endswith("/m/modul-a/praxis")
    saved = learner.post("m/modul-a/praxis", {"text": "Unsere Kommune hat einen Nachhaltigkeitsbericht."})
    assert saved.status_code == 200 and "Danke, Ihre Antwort ist eingereicht." in saved.text
    module_page = learner.get("m/modul-a/")
    assert "Sie haben dieses Modul abgeschlossen." in module_page.text
    assert "/m/modul-b/" in module_page.text
    overview = learner.get("")
    assert "Abgeschlossen" in overview.text
    assert continue_href(overview.text).endswith("/m/modul-b/01-einstieg")


def test_practice_length_messages_and_nothing_saved(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    short = learner.post("m/modul-a/praxis", {"text": "  zu kurz \r\n "})
    assert short.status_code == 422
    assert "Ihr Text ist zu kurz: 7 Zeichen. Bitte schreiben Sie mindestens 20 Zeichen." in short.text
    assert 'href="#practice-text"' in short.text and 'aria-invalid="true"' in short.text
    assert "<title>Fehler: " in short.text
    assert ">zu kurz</textarea>" in short.text  # what was written comes back
    long = learner.post("m/modul-a/praxis", {"text": "x" * 2001})
    assert long.status_code == 422
    assert "Ihr Text ist zu lang: 2001 Zeichen. Bitte kürzen Sie ihn auf höchstens 2000 Zeichen." in long.text
    missing = learner.post("m/modul-a/praxis", {})
    assert missing.status_code == 422 and "Es wurde kein Text gesendet." in missing.text
    check_structure(missing.text)
    assert count(app, PracticeSubmission) == 0


def test_one_megabyte_practice_text_gets_a_clear_413(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.post("m/modul-a/praxis", {"text": "x" * 1024 * 1024})
    assert page.status_code == 413
    assert "Eingabe zu groß" in page.text and "Bitte kürzen Sie sie" in page.text
    assert count(app, PracticeSubmission) == 0


def test_garbage_in_practice_text_and_query_strings(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    nul = learner.post("m/modul-a/praxis", {"text": "\x00" * 30 + "\x07\x1b"})
    assert nul.status_code == 422 and "Ihr Text ist zu kurz: 0 Zeichen." in nul.text
    assert count(app, PracticeSubmission) == 0
    saved = learner.post(
        "m/modul-a/praxis", {"text": "Text mit\x00 Nullbyte und \u202e Steuerzeichen, lang genug."}
    )
    assert saved.status_code == 200
    with session_scope(app) as s:
        # NUL and the right-to-left override are dropped (lti_tool/text.py); the spaces around them stay.
        assert s.scalars(select(PracticeSubmission.text)).one() == (
            "Text mit Nullbyte und  Steuerzeichen, lang genug."
        )
    for path in (
        "m/modul-a/ergebnis?versuch=%00",
        "m/modul-a/ergebnis?versuch=" + "x" * 5000,
        "m/modul-a/austausch?seite=%00",
        "m/modul-a/austausch?seite=-1",
        "m/modul-a/praxis?gespeichert=%00",
        "m/modul-a/quiz?versuch=%00",
    ):
        page = learner.get(path)
        assert page.status_code in (200, 404), path
        assert "Etwas ist schiefgelaufen" not in page.text


def test_language_switch_rejects_garbage_and_foreign_targets(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    for data in (
        {"lang": "xx", "next": "/s/" + learner.sid + "/m/modul-a/"},
        {"lang": "\x00", "next": "//evil.example/"},
        {"lang": "en", "next": "https://evil.example/s/" + learner.sid + "/"},
    ):
        page = learner.post("sprache/", data)
        assert page.status_code == 200
        assert page.url.startswith(learner.base)
    assert '<html lang="en">' in learner.page.text


def test_practice_edit_until_reviewed_then_read_only_with_feedback(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    first = learner.post("m/modul-a/praxis", {"text": "Erste Fassung meiner Antwort hier."})
    assert "Danke, Ihre Antwort ist eingereicht." in first.text
    edited = learner.post("m/modul-a/praxis", {"text": "Zweite Fassung <b>meiner</b> Antwort."})
    assert "Ihre Änderungen sind gespeichert." in edited.text
    assert "Zweite Fassung &lt;b&gt;meiner&lt;/b&gt; Antwort." in edited.text
    assert count(app, PracticeSubmission) == 1

    review(app, progress_learner(app), "modul-a", "Gut gemacht <i>wirklich</i>.")
    page = learner.get("m/modul-a/praxis")
    assert "<textarea" not in page.text
    assert "Rückmeldung Ihrer Lehrperson" in page.text
    assert "Gut gemacht &lt;i&gt;wirklich&lt;/i&gt;." in page.text
    assert "kann daher nicht mehr geändert werden" in page.text
    refused = learner.post("m/modul-a/praxis", {"text": "Dritte Fassung, nach der Durchsicht."})
    assert refused.status_code == 409
    assert "kann nicht mehr geändert werden" in refused.text
    refused = learner.post("m/modul-a/praxis", {"text": "kurz"})
    assert refused.status_code == 409
    with_text = learner.get("m/modul-a/praxis").text
    assert "Zweite Fassung" in with_text and "Dritte Fassung" not in with_text


def test_exchange_only_after_own_answer_escaped_and_without_own(app: Flask, launcher: Launcher) -> None:
    other = Learner.launch(launcher, sub="user-2", given_name="Jonas", name="Jonas Weber")
    other.post("m/modul-a/praxis", {"text": "Bei uns <script>alert(1)</script> gibt es einen Klimabeirat."})
    me = Learner.launch(launcher)
    before = me.get("m/modul-a/austausch")
    assert before.status_code == 200
    assert "sobald Sie Ihre eigene eingereicht haben" in before.text
    assert "Klimabeirat" not in before.text
    me.post("m/modul-a/praxis", {"text": "Meine eigene Antwort zur Kommune."})
    after = me.get("m/modul-a/austausch")
    assert "Jonas" in after.text and "Weber" not in after.text  # first name only
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in after.text and "<script>alert" not in after.text
    peers = after.text.split('<ul class="peer-answers"', 1)[1].split("</ul>", 1)[0]
    assert "Klimabeirat" in peers and "Meine eigene Antwort" not in peers  # own answer not among the others'
    own = after.text.split('<details class="own-answer">', 1)[1].split("</details>", 1)[0]
    assert "Ihre Antwort zum Vergleich" in own and "Meine eigene Antwort zur Kommune." in own
    assert "1 Antwort von anderen." in after.text
    # The task's title is quoted as it is (the Grundlagenkurs' titles begin with "Praxisaufgabe:" themselves).
    assert (
        'Hier lesen Sie, was andere in Ihrem Kurs zu „<span lang="de">Praxisaufgabe</span>“ geschrieben haben.'
        in after.text
    )
    assert re.search(r"eingereicht am \d", after.text)
    check_structure(after.text)
    # Another module's exchange is separate.
    assert "Klimabeirat" not in me.get("m/modul-b/austausch").text


def test_exchange_pages(app: Flask, launcher: Launcher) -> None:
    for n in range(23):
        peer = Learner.launch(launcher, sub=f"peer-{n}", given_name=f"Person{n}", name=None)
        peer.post("m/modul-a/praxis", {"text": f"Antwort Nummer {n} aus meiner Kommune."})
    me = Learner.launch(launcher)
    me.post("m/modul-a/praxis", {"text": "Meine eigene Antwort zur Kommune."})
    first = me.get("m/modul-a/austausch")
    assert "23 Antworten von anderen." in first.text and "Seite 1 von 2" in first.text
    assert "Person22" in first.text and "Person2<" not in first.text
    second = me.get("m/modul-a/austausch?seite=2")
    assert "Person2<" in second.text and "Person22" not in second.text
    assert "Person0" in me.get("m/modul-a/austausch?seite=999").text
    assert "Person22" in me.get("m/modul-a/austausch?seite=abc").text


def test_csrf_is_required_on_every_learner_form(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    quiz = learner.get("m/modul-a/quiz")
    public_id = attempt_id(quiz.text)
    for path, data in [
        ("m/modul-a/quiz", {"versuch": public_id, "q1": "1"}),
        ("m/modul-a/praxis", {"text": "Ein ausreichend langer Text ohne Token."}),
        ("sprache/", {"lang": "en"}),
    ]:
        page = learner.post(path, data, csrf=False)
        assert page.status_code == 403, path
        assert "Sicherheitsmerkmal" in page.text or "security token" in page.text or page.status_code == 403
        wrong = learner.post(path, {**data, "csrf_token": "0" * 40}, csrf=False)
        assert wrong.status_code == 403, path
    assert count(app, PracticeSubmission) == 0
    assert count(app, QuizAttempt, QuizAttempt.submitted_at.is_not(None)) == 0


def test_instructor_can_go_through_the_course_like_a_learner(app: Flask, launcher: Launcher) -> None:
    teacher = Learner.launch(launcher, **claim("roles", INSTRUCTOR))
    assert "/lehrende/" in teacher.page.url
    page = teacher.get("m/modul-a/01-einstieg")
    assert page.status_code == 200
    assert count(app, LessonVisit) == 1 and count(app, CourseProgress) == 1


def test_every_learner_page_has_one_h1_and_labelled_controls(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    learner.post("m/modul-a/praxis", {"text": "Meine Antwort, lang genug für die Aufgabe."})
    for path in (
        "",
        "uebersicht",
        "m/modul-a/",
        "m/modul-a/01-einstieg",
        "m/modul-a/quiz",
        "m/modul-a/praxis",
        "m/modul-a/austausch",
        "m/modul-b/praxis",
    ):
        page = learner.get(path)
        assert page.status_code == 200, path
        check_structure(page.text)
    result = take_quiz(app, learner, "modul-a", right=2)
    check_structure(result.text)


def _rows(html: str) -> list[str]:
    items = [item.split(">", 1)[1].split("</li>")[0] for item in html.split('class="module-list__item')[1:]]
    return [" ".join(re.sub(r"<[^>]+>", "", item).split()) for item in items]


def test_overview_shows_the_way_to_completion(app: Flask, launcher: Launcher) -> None:
    """Modules done of total with a progress bar, time left, the completion rules once, one line per module."""
    learner = Learner.launch(launcher)
    page = learner.page.text
    assert "0 von 2 Modulen abgeschlossen" in page and "noch etwa 20 Min." in page
    assert re.search(r'<progress[^>]* max="2" value="0" aria-labelledby="progress-count"', page)
    rules = page.split('id="rules-title"')[1].split("</section>")[0]
    assert "mindestens 80 % bestanden" in rules.replace("\xa0", " ") and "Praxisaufgabe eingereicht" in rules
    assert (
        "Sobald alle 2 Module abgeschlossen sind, ist es auch der Kurs." in rules
        and "Teilnahmebescheinigung" in rules
    )
    assert page.count("80\xa0%") + page.count("80 %") == 1  # the pass mark is said once, up front
    assert _rows(page) == [
        "Modul a Noch nicht begonnen · Quiz noch offen · ca. 10 Min. Weiter: Lektion 1 von 2 – Modul a",
        "Modul b Noch nicht begonnen · Quiz noch offen · ca. 10 Min. Weiter: Lektion 1 von 2 – Modul b",
    ]

    learner.get("m/modul-a/01-einstieg")
    take_quiz(app, learner, "modul-a", right=1)
    rows = _rows(learner.get("").text)
    assert rows[0] == "Modul a In Bearbeitung · Quiz 20 % · ca. 10 Min. Weiter: Lektion 2 von 2 – Modul a"
    learner.get("m/modul-a/02-vertiefung")
    assert "Weiter: Quiz wiederholen" in _rows(learner.get("").text)[0]
    take_quiz(app, learner, "modul-a")
    assert "Weiter: Praxisaufgabe" in _rows(learner.get("").text)[0]
    learner.post("m/modul-a/praxis", {"text": "Unsere Kommune hat einen Nachhaltigkeitsbericht."})
    page = learner.get("").text
    assert "1 von 2 Modulen abgeschlossen" in page and "noch etwa 10 Min." in page
    assert re.search(r'<progress[^>]* max="2" value="1"', page)
    assert _rows(page)[0] == "Modul a ✓ Abgeschlossen · Quiz 100 % · ca. 10 Min."
    check_structure(page)


def test_overview_in_english_and_with_optional_practice(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher, **claim("launch_presentation", {"locale": "en"}))
    page = learner.page.text
    assert "0 of 2 modules completed" in page and "about 20 min. left" in page
    assert "How to complete the course" in page


def test_open_in_a_new_window_only_inside_the_lms_frame(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    framed = learner.get("uebersicht", headers={"Sec-Fetch-Dest": "iframe"})
    assert framed.status_code == 200 and "In neuem Fenster öffnen" in framed.text
    own_window = learner.get("uebersicht", headers={"Sec-Fetch-Dest": "document"})
    assert own_window.status_code == 200 and "In neuem Fenster öffnen" not in own_window.text
    # the header names the tool once; the course title is the page's heading, not repeated above it
    header = framed.text.split("<main", 1)[0]
    assert "Testkurs Nachhaltigkeit" not in header.split("<body", 1)[1]
    # the page that says the session ended offers no new window (it would open a dead session)
    ended = learner.post("sitzung/beenden", {}, headers={"Sec-Fetch-Dest": "iframe"})
    assert ended.status_code == 200 and "Sitzung beendet" in ended.text
    assert "In neuem Fenster öffnen" not in ended.text


def test_required_answers_are_said(app: Flask, launcher: Launcher) -> None:
    """Screen readers hear that the practice text and each single-choice question need an answer."""
    learner = Learner.launch(launcher)
    practice = learner.get("m/modul-a/praxis").text
    assert re.search(r'<textarea id="practice-text" name="text" rows="12" required', practice)
    assert 'Ihre Antwort <span class="field__required">(Pflichtfeld)</span>' in practice
    quiz = learner.get("m/modul-a/quiz").text
    assert "Bitte beantworten Sie alle Fragen." in quiz
    radios = re.findall(r'<input type="radio"[^>]*>', quiz)
    assert radios and all(" required" in radio for radio in radios)
    assert 'data-moved="{item}: jetzt an Position {n} von {total}."' in quiz  # what the move buttons announce

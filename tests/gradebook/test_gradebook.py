"""The gradebook page: who is listed (roster ∪ launched learners, never teachers or other courses), what each row
says per module, grade delivery with the platform's reason and "send again", sorting, filters and pages."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from sqlalchemy import select, update

from lti_tool.db import session_scope
from lti_tool.gradebook.roster import Member
from lti_tool.models import Context, GradeOutbox, utcnow

from ..course.learner import Learner, context_claim, take_quiz
from ..peer import DROP, INSTRUCTOR, Launcher, claim
from ..services import LEARNER_ROLE, add_to_roster
from .conftest import add_learner, add_learners, launch_teacher, listed_names, place, snapshot, user_id


def test_teacher_lands_on_the_gradebook_of_the_launched_context(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher, name="Tanja Lehrerin")
    page = teacher.page
    assert page.url.endswith("/lehrende/")
    assert "<h1>Notenübersicht</h1>" in page.text
    assert "Willkommen" not in page.text  # a compact head: course, participant list, what needs doing
    assert "NaMa NRW Demo" in page.text  # the LMS course's title
    assert "noch nicht von der Lernplattform abgerufen" in page.text
    assert "Noch niemand hat den Kurs geöffnet" in page.text
    assert f'href="{urlsplit(teacher.base).path}uebersicht"' in page.text  # "View the course"

    with session_scope(app, write=True) as s:
        s.execute(update(Context).values(roster_fetched_at=dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)))
    assert "Teilnehmendenliste vom 02.03.2026, 10:30" in teacher.get("lehrende/").text  # Europe/Berlin


def test_rows_are_the_roster_and_the_launched_learners_never_teachers_or_other_courses(
    app: Flask, launcher: Launcher
) -> None:
    learner = Learner.launch(launcher, sub="launched-1", name="Lea Launch")
    teacher = launch_teacher(launcher)
    launch_teacher(launcher, sub="teacher-2", name="Zweite Lehrkraft")
    Learner.launch(launcher, sub="elsewhere", name="Olaf Anderswo", **context_claim("course-2"))
    where = place(app)
    add_learner(
        app, where, "roster-only", name="Rita Roster", email="rita@example.org", roster=True, launched=False
    )
    add_learner(app, where, "both", name="Bea Beides", roster=True)
    # A roster refresh lists a teacher, and now also the launched learner (still one row).
    add_to_roster(
        app,
        where.context_id,
        Member("roster-teacher", "Ilse Lehrend", None, INSTRUCTOR, "Active", False),
        Member("launched-1", "L. Launch (LMS)", None, [LEARNER_ROLE], "Active", True),
    )

    page = teacher.get("lehrende/")
    assert listed_names(page.text) == ["Bea Beides", "Lea Launch", "Rita Roster"]
    assert "Tanja Lehrerin</a>" not in page.text and "Zweite Lehrkraft" not in page.text
    assert "Olaf Anderswo" not in page.text and "Ilse Lehrend" not in page.text
    assert "3 Teilnehmer*innen" in page.text
    rita = page.text.split("Rita Roster")[1].split("</tr>")[0]
    assert (
        'title="rita@example.org">rita@example.org</span>' in rita
        and "hat den Kurs noch nicht geöffnet" in rita
    )
    assert f'href="{urlsplit(teacher.base).path}lehrende/lernende/' in page.text
    assert learner.sid not in page.text


def test_a_row_shows_progress_per_module_and_the_grade_delivery(app: Flask, launcher: Launcher) -> None:
    lea = Learner.launch(launcher, sub="lea", name="Lea Schneider")
    lea.get("m/modul-a/01-einstieg")
    lea.get("m/modul-a/02-vertiefung")
    take_quiz(app, lea, "modul-a", right=4)  # 4 of 5: 80 %, passed
    take_quiz(app, lea, "modul-a", right=1)
    lea.post("m/modul-a/praxis", {"text": "In unserer Kommune gibt es einen Klimabeirat."})
    teacher = launch_teacher(launcher)
    where = place(app)
    add_learner(app, where, "failing", name="Fritz Fehler", started=("modul-b",), grade_state="failed")
    add_learner(app, where, "waiting", name="Wanda Warten", started=("modul-a",), grade_state="pending")
    add_learner(app, where, "sent", name="Sven Gesendet", done=("modul-a",), grade_state="sent")

    page = teacher.get("lehrende/").text
    rows = {name: page.split(name + "</a>")[1].split("</tr>")[0] for name in listed_names(page)}
    lea_a, lea_b = re.findall(
        r'<td role="cell" class="gradebook-table__module-cell">(.*?)</td>', rows["Lea Schneider"], re.S
    )
    # One compact cell per module: an icon, its meaning for screen readers, a link when a text waits for review.
    assert 'href="#gb-done"' in lea_a and "abgeschlossen, Quiz 80\xa0%" in lea_a
    assert "/praxis/modul-a" in lea_a and "Praxisaufgabe von Lea Schneider prüfen, Modul 1" in lea_a
    assert 'href="#gb-none"' in lea_b and ">nicht begonnen</span>" in lea_b and "praxis" not in lea_b
    assert "1 von 2 Modulen" in rows["Lea Schneider"]

    fritz = rows["Fritz Fehler"]
    assert re.search(r"\d+(,\d+)? / 100", fritz)  # the course grade as sent, though refused
    assert "fehlgeschlagen: Kursergebnis" in fritz and "Erneut senden" in fritz
    assert "HTTP 400" not in fritz  # the platform's reason is on the learner's page
    assert "wartet auf Übermittlung" in rows["Wanda Warten"] and "Erneut senden" not in rows["Wanda Warten"]
    sven = rows["Sven Gesendet"]
    assert re.search(
        r"\d+(,\d+)? / 100</span>\s*<span class=\"cell-note\">gesendet \d\d\.\d\d\.\d{4}</span>", sven
    )
    assert "Erneut senden" not in sven


def test_learners_text_is_escaped(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    add_learner(app, place(app), "evil", name='<script>alert("x")</script>', email="<b>@example.org")
    page = teacher.get("lehrende/").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<b>@" not in page


def test_sorting_by_name_progress_and_last_activity(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    where = place(app)
    now = utcnow()
    add_learner(
        app,
        where,
        "c",
        name="Carla",
        done=("modul-a", "modul-b"),
        course_completed=True,
        at=now - dt.timedelta(days=3),
    )
    add_learner(app, where, "a", name="anna", started=("modul-a",), at=now - dt.timedelta(days=1))
    add_learner(app, where, "b", name="Bernd", done=("modul-a",), at=now - dt.timedelta(days=2))
    add_learner(app, where, "d", name="Dora", roster=True, launched=False)

    assert listed_names(teacher.get("lehrende/").text) == ["anna", "Bernd", "Carla", "Dora"]
    assert listed_names(teacher.get("lehrende/?sortierung=fortschritt").text) == [
        "Carla",
        "Bernd",
        "anna",
        "Dora",
    ]
    assert listed_names(teacher.get("lehrende/?sortierung=aktivitaet").text) == [
        "anna",
        "Bernd",
        "Carla",
        "Dora",
    ]
    # Unknown values fall back to the defaults instead of failing.
    page = teacher.get("lehrende/?sortierung=drop+table&filter=%00&seite=-1")
    assert page.status_code == 200 and listed_names(page.text) == ["anna", "Bernd", "Carla", "Dora"]


def test_filters_count_and_select_learners(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    where = place(app)
    add_learner(app, where, "new", name="Nina Neu", roster=True, launched=False)
    add_learner(app, where, "idle", name="Ida Idle")  # launched, did nothing
    add_learner(
        app,
        where,
        "busy",
        name="Bo Busy",
        started=("modul-a",),
        practice={"modul-a": "Unsere Kommune hat einen Klimabeirat."},
    )
    add_learner(
        app,
        where,
        "done",
        name="Doro Done",
        done=("modul-a", "modul-b"),
        reviewed=("modul-a", "modul-b"),  # nothing left to review
        course_completed=True,
    )
    add_learner(app, where, "fail", name="Fay Fail", started=("modul-b",), grade_state="failed")
    add_learner(
        app,
        where,
        "ok",
        name="Otto Okay",
        started=("modul-b",),
        practice={"modul-b": "Unsere Kommune hat ein Leitbild."},
        reviewed=("modul-b",),
    )

    expected = {
        "alle": ["Bo Busy", "Doro Done", "Fay Fail", "Ida Idle", "Nina Neu", "Otto Okay"],
        "nicht-begonnen": ["Ida Idle", "Nina Neu"],
        "in-bearbeitung": ["Bo Busy", "Fay Fail", "Otto Okay"],
        "abgeschlossen": ["Doro Done"],
        "zu-pruefen": ["Bo Busy"],
        "fehlgeschlagen": ["Fay Fail"],
    }
    for key, names in expected.items():
        page = teacher.get(f"lehrende/?filter={key}").text
        assert listed_names(page) == names, key
        assert re.search(rf'<option value="{key}" selected>[^<]*\({len(names)}\)</option>', page), key
    # A failed grade sent again is no longer "failed" once a newer row for its target exists.
    sent = teacher.post(f"lehrende/lernende/{user_id(app, 'fail')}/noten-senden", {}, allow_redirects=False)
    assert sent.status_code == 303
    assert listed_names(teacher.get("lehrende/?filter=fehlgeschlagen").text) == []


def test_pages_of_fifty_and_links_keep_filter_and_sort(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    add_learners(app, place(app), 120)
    first = teacher.get("lehrende/").text
    assert len(listed_names(first)) == 50 and listed_names(first)[0] == "Lernende 00000"
    assert "Seite 1 von 3" in first and 'rel="prev"' not in first
    third = teacher.get("lehrende/?seite=3").text
    assert listed_names(third) == [f"Lernende {n:05d}" for n in range(100, 120)]
    assert 'rel="next"' not in third
    assert listed_names(teacher.get("lehrende/?seite=99").text) == listed_names(
        third
    )  # past the end: the last

    page = teacher.get("lehrende/?filter=in-bearbeitung&sortierung=aktivitaet").text
    links = re.findall(r'href="([^"]*lehrende/\?[^"]*)"', page.replace("&amp;", "&"))
    assert links and all("sortierung=aktivitaet" in link for link in links)
    # Every link keeps the filter but the head's quick filters (tasks to review, failed grades).
    quick = ("filter=zu-pruefen", "filter=fehlgeschlagen")
    assert all("filter=in-bearbeitung" in link for link in links if not any(q in link for q in quick))
    export = re.search(r'href="([^"]*notenliste\.csv[^"]*)"', page.replace("&amp;", "&"))
    assert (
        export and "filter=in-bearbeitung" in export.group(1) and "sortierung=aktivitaet" in export.group(1)
    )


def test_filter_sort_and_page_survive_opening_a_learner_and_coming_back(
    app: Flask, launcher: Launcher
) -> None:
    teacher = launch_teacher(launcher)
    add_learners(app, place(app), 120)
    view = {"filter": ["abgeschlossen"], "sortierung": ["aktivitaet"]}
    for query, expected in (
        ("filter=abgeschlossen&sortierung=aktivitaet", view),
        ("seite=2", {"seite": ["2"]}),
    ):
        page = teacher.get(f"lehrende/?{query}").text.replace("&amp;", "&")
        learners = re.findall(r'<a href="[^"]*/(lehrende/lernende/\d+)\?([^"]*)">', page)
        assert learners and all(parse_qs(q) == expected for _, q in learners), learners[:2]
        path, kept = learners[0]
        detail = teacher.get(f"{path}?{kept}")
        assert detail.status_code == 200
        back = re.search(
            r'<nav class="breadcrumbs"[^>]*>\s*<ol>\s*<li><a href="[^"]*/(lehrende/\?[^"]+)">', detail.text
        )
        assert back and parse_qs(urlsplit(back.group(1).replace("&amp;", "&")).query) == expected
        again = teacher.get(back.group(1).replace("&amp;", "&")).text
        assert listed_names(again) == listed_names(page)
    # The default view needs no parameters: plain links.
    assert re.search(r'<a href="[^"?]*/lehrende/lernende/\d+">', teacher.get("lehrende/").text)


def test_send_again_queues_the_learners_failed_grades_once(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    where = place(app)
    fay = add_learner(app, where, "fail", name="Fay Fail", started=("modul-b",), grade_state="failed")
    other = add_learner(app, where, "other", name="Olga Other", started=("modul-b",), grade_state="failed")

    done = teacher.post(
        f"lehrende/lernende/{fay}/noten-senden",
        {"filter": "fehlgeschlagen", "sortierung": "aktivitaet", "seite": "1"},
        allow_redirects=False,
    )
    assert done.status_code == 303
    location = done.headers["Location"]
    assert (
        "filter=fehlgeschlagen" in location
        and "sortierung=aktivitaet" in location
        and "gesendet=1" in location
    )
    with session_scope(app) as s:
        rows = s.execute(
            select(GradeOutbox.user_id, GradeOutbox.state, GradeOutbox.last_error).order_by(GradeOutbox.id)
        ).all()
    assert [(r.user_id, r.state) for r in rows] == [(fay, "failed"), (other, "failed"), (fay, "pending")]
    assert rows[0].last_error == "Incorrect score received"  # the failed row stays, with its reason

    page = teacher.get(location)
    assert "1 Note wird erneut gesendet." in page.text
    assert listed_names(page.text) == ["Olga Other"]

    before = snapshot(app)
    again = teacher.post(f"lehrende/lernende/{fay}/noten-senden", {}, allow_redirects=False)
    assert again.status_code == 303 and "gesendet=0" in again.headers["Location"]
    assert snapshot(app) == before


def test_send_all_failed_again_queues_this_contexts_failed_grades_once(
    app: Flask, launcher: Launcher
) -> None:
    teacher = launch_teacher(launcher)
    where = place(app)
    fay = add_learner(app, where, "fail", name="Fay Fail", started=("modul-b",), grade_state="failed")
    olga = add_learner(app, where, "other", name="Olga Other", started=("modul-b",), grade_state="failed")
    add_learner(app, where, "fine", name="Finn Fine", started=("modul-b",), grade_state="sent")
    Learner.launch(launcher, sub="elsewhere", name="Elias Anderswo", **context_claim("course-2"))
    far = add_learner(app, place(app, "course-2"), "far", name="Fiona Fern", grade_state="failed")

    page = teacher.get("lehrende/").text
    assert "2 Teilnehmer*innen mit fehlgeschlagenen Noten" in page and "erneut senden" in page
    done = teacher.post("lehrende/noten-senden", {"filter": "fehlgeschlagen"}, allow_redirects=False)
    assert done.status_code == 303
    assert "gesendet=2" in done.headers["Location"] and "filter=fehlgeschlagen" in done.headers["Location"]
    with session_scope(app) as s:
        rows = s.execute(select(GradeOutbox.user_id, GradeOutbox.state).order_by(GradeOutbox.id)).all()
    pending = [r.user_id for r in rows if r.state == "pending"]
    assert (
        fay and olga and sorted(pending) == sorted([fay, olga])
    )  # one new row each; the other course's grade stays failed
    assert (far, "failed") in [(r.user_id, r.state) for r in rows] and far not in pending

    after = teacher.get(done.headers["Location"]).text
    assert "2 Noten werden erneut gesendet." in after
    assert "mit fehlgeschlagenen Noten" not in after  # nothing failed is the newest any more

    before = snapshot(app)
    again = teacher.post("lehrende/noten-senden", {}, allow_redirects=False)
    assert again.status_code == 303 and "gesendet=0" in again.headers["Location"]
    assert snapshot(app) == before


def test_english_on_request(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher, **claim("launch_presentation", {"locale": "en-GB"}))
    add_learner(app, place(app), "x", name="Xaver", started=("modul-a",))
    page = teacher.get("lehrende/").text
    assert '<html lang="en">' in page and "<h1>Gradebook</h1>" in page and "Course grade in the LMS" in page
    assert '<span class="visually-hidden">in progress</span>' in page


NAMELESS = {"name": DROP, "given_name": DROP, "family_name": DROP, "email": DROP}
LONG_SUB = "3f2a9c7be01d44c5a8e2b6f0d1c9e4d41e07"


def test_learners_without_names_are_greeted_neutrally_and_listed_recognisably(
    app: Flask, launcher: Launcher
) -> None:
    """Moodle with its privacy settings off sends only `sub` (its user id): nobody is greeted "Willkommen, 5",
    and the teacher tells the learners apart by e-mail if sent, else by the LMS's user id (long ids shortened)."""
    Learner.launch(launcher, sub="named", name="Anna Benannt")
    five = Learner.launch(launcher, sub="5", **NAMELESS)
    assert '<p class="welcome">Willkommen.</p>' in five.page.text and "Willkommen, 5" not in five.page.text
    Learner.launch(launcher, sub="6", **{**NAMELESS, "email": "sechs@example.org"})
    Learner.launch(launcher, sub=LONG_SUB, **NAMELESS)
    teacher = launch_teacher(launcher, sub="teacher-9", **NAMELESS)
    assert "Willkommen, " not in teacher.page.text and "teacher-9" not in teacher.page.text

    page = teacher.get("lehrende/").text
    # The named first, then the nameless by their id.
    assert listed_names(page) == [
        "Anna Benannt",
        "Teilnehmer*in ohne Namen (Kennung 3f2a9c…d41e07 in der Lernplattform)",
        "Teilnehmer*in ohne Namen (Kennung 5 in der Lernplattform)",
        "Teilnehmer*in ohne Namen (sechs@example.org)",
    ]
    # The learner's own page: the same label as heading, the whole id to look them up in the LMS.
    link = re.search(
        r'<a href="([^"]+)">Teilnehmer\*in ohne Namen \(Kennung 3f2a9c…d41e07 in der Lernplattform\)</a>',
        page,
    )
    assert link
    detail = teacher.get(link.group(1)).text
    assert "<h1>Teilnehmer*in ohne Namen (Kennung 3f2a9c…d41e07 in der Lernplattform)</h1>" in detail
    assert f"<code>{LONG_SUB}</code>" in detail

    # The CSV for the certification office keeps the name column empty: no made-up names in a list of people.
    csv = teacher.get("lehrende/export/notenliste.csv")
    assert csv.status_code == 200
    rows = [line.split(";")[:3] for line in csv.content.decode("utf-8-sig").splitlines()[1:]]
    assert rows == [
        ["Anna Benannt", "lea.schneider@example.org", "named"],
        ["", "", LONG_SUB],
        ["", "", "5"],
        ["", "sechs@example.org", "6"],
    ]

    english = launch_teacher(launcher, sub="teacher-en", **claim("launch_presentation", {"locale": "en"}))
    page = english.get("lehrende/").text
    assert "Participant without a name (id 5 in the learning platform)" in page
    assert "Participant without a name (sechs@example.org)" in page


# A `sub` may be any string of up to 255 characters: a right-to-left override (U+202E), a zero-width space
# (U+200B) and a leading "=" (a formula in a spreadsheet).
HOSTILE_SUB = "=\u202e1+2\u200b9"
HIDDEN_FORMULA_SUB = "\u200b=3+4"


def test_an_lms_user_id_is_shown_without_invisible_and_direction_characters(
    app: Flask, launcher: Launcher
) -> None:
    """Names are stored without bidi overrides since 78a71b1; the user id a nameless learner is shown by was shown
    raw: "=\u202e1+2\u200b9" read "=92+1" in the list, and in the CSV a zero-width space before "=" hid the
    formula from the export's guard (the id's characters that show nothing are dropped, the "=" then guarded)."""
    Learner.launch(launcher, sub=HOSTILE_SUB, **NAMELESS)
    Learner.launch(launcher, sub=HIDDEN_FORMULA_SUB, **NAMELESS)
    teacher = launch_teacher(launcher)
    page = teacher.get("lehrende/").text
    assert listed_names(page) == [
        "Teilnehmer*in ohne Namen (Kennung =1+29 in der Lernplattform)",
        "Teilnehmer*in ohne Namen (Kennung =3+4 in der Lernplattform)",
    ]
    assert "\u202e" not in page and "\u200b" not in page
    link = re.search(r'<a href="([^"]+)">Teilnehmer\*in ohne Namen \(Kennung =1\+29 ', page)
    assert link, page
    detail = teacher.get(link.group(1)).text
    assert "<h1>Teilnehmer*in ohne Namen (Kennung =1+29 in der Lernplattform)</h1>" in detail
    assert "<code>=1+29</code>" in detail and "\u202e" not in detail and "\u200b" not in detail

    ids = sorted(
        line.split(";")[2] for line in teacher.get("lehrende/export/notenliste.csv").text.splitlines()[1:]
    )
    assert ids == ["'=1+29", "'=3+4"]  # as text: the apostrophe before a formula

    where = place(app)
    add_learner(app, where, HOSTILE_SUB, course_completed=True, done=("modul-a", "modul-b"))
    completed = teacher.get("lehrende/export/abschluesse.csv").text.splitlines()
    assert [line.split(";")[:3] for line in completed[1:]] == [["", "", "'=1+29"]]


def test_before_the_participant_list_is_fetched_no_one_is_said_to_be_missing_from_it(
    app: Flask, launcher: Launcher
) -> None:
    Learner.launch(launcher, sub="launched-1", name="Lea Launch")
    teacher = launch_teacher(launcher)
    lea = user_id(app, "launched-1")

    page = teacher.get("lehrende/").text
    assert "Lea Launch" in page and "nicht in der Teilnehmendenliste" not in page
    detail = teacher.get(f"lehrende/lernende/{lea}").text
    assert "noch nicht von der Lernplattform abgerufen" in detail
    assert "nicht in der Teilnehmendenliste" not in detail

    # A fetched list without her (what a refresh stores, and when): now she is said to be missing from it.
    add_to_roster(
        app, place(app).context_id, Member("someone", "Sam Sonst", None, [LEARNER_ROLE], "Active", True)
    )
    with session_scope(app, write=True) as s:
        s.execute(update(Context).values(roster_fetched_at=utcnow()))
    assert "nicht in der Teilnehmendenliste" in teacher.get("lehrende/").text
    detail = teacher.get(f"lehrende/lernende/{lea}").text
    assert "nicht in der Teilnehmendenliste" in detail
    assert "noch nicht von der Lernplattform abgerufen" not in detail

"""The CSV exports, read back with the csv module and a model of German Excel (tests/gradebook/spreadsheet.py):
UTF-8 with BOM, `;`, CRLF; numbers read as numbers, dates and times (ISO order, German time) as those dates, text
as text (no "1/8" turned into 1 August), formula-looking cells neutralised; one row per learner with columns per
module, streamed as an attachment."""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Flask
from sqlalchemy import select

from lti_tool.certificate.service import issue
from lti_tool.course.catalog import get_catalog
from lti_tool.db import session_scope
from lti_tool.gradebook.export import Text, cell, filename
from lti_tool.models import Certificate, CourseProgress, User
from lti_tool.progress import Learner as ProgressLearner

from ..course.learner import work
from ..peer import Launcher
from . import spreadsheet
from .conftest import COURSE, add_learner, add_learners, launch_teacher, place, user_id
from .spreadsheet import Cell

COMPLETED = dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC)  # 1 April in Berlin


def read_csv(raw: bytes) -> list[list[str]]:
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")  # CRLF only
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def excel(raw: bytes) -> list[list[Cell]]:
    """The CSV as German Excel reads it (tests/gradebook/spreadsheet.py)."""
    return [[spreadsheet.read(field) for field in row] for row in read_csv(raw)]


def text(value: str) -> Cell:
    return Cell("text", value)


def num(value: float) -> Cell:
    return Cell("number", float(value))


def when(*parts: int) -> Cell:
    return Cell("date", dt.datetime(*parts))  # type: ignore[arg-type]


EMPTY = Cell("empty", None)
IN_BERLIN = (2026, 4, 1, 0, 30)  # COMPLETED in German time


def test_gradebook_csv(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    where = place(app)
    add_learner(
        app,
        where,
        "done",
        name="Jörg Müller; Sohn",
        email="joerg@example.org",
        done=("modul-a", "modul-b"),
        practice={"modul-a": "Unsere Kommune hat einen Klimabeirat."},
        reviewed=("modul-a",),
        course_completed=True,
        grade_state="sent",
        at=COMPLETED,
    )
    add_learner(app, where, "evil", name='=HYPERLINK("http://evil")', email="@evil", started=("modul-a",))
    add_learner(app, where, "roster", name="-Rita", roster=True, launched=False)
    add_learner(app, where, "tab", name="\tTabea", grade_state="failed")

    resp = teacher.get("lehrende/export/notenliste.csv")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="notenliste-nama-')
    assert resp.headers["Content-Disposition"].endswith('.csv"')
    assert "Content-Length" not in resp.headers  # streamed, not built first
    rows = read_csv(resp.content)
    header, body = rows[0], rows[1:]
    assert header[:12] == [
        "Name",
        "E-Mail",
        "LTI-Benutzerkennung",
        "In der Teilnehmendenliste des Kurses",
        "Kurs abgeschlossen am (deutsche Zeit)",
        "Abgeschlossene Module",
        "Module im Kurs",
        "Letzte Aktivität (deutsche Zeit)",
        "Noten in der Lernplattform",
        "Kursnote gesendet",
        "Kursnote: Höchstwert",
        "Kursnote gesendet am (deutsche Zeit)",
    ]
    assert header[12:18] == [
        "1. Modul a: Zustand",
        "1. Modul a: Gelesene Lektionen (von 2)",
        "1. Modul a: Bestes Quizergebnis (%)",
        "1. Modul a: Quizversuche",
        "1. Modul a: Praxisaufgabe",
        "1. Modul a: Abgeschlossen am (deutsche Zeit)",
    ]
    assert len(header) == 12 + 6 * 2 and all(len(row) == len(header) for row in body)
    assert all(spreadsheet.read(name).kind == "text" for name in header)
    cells = {row[2]: excel_row for row, excel_row in zip(body, excel(resp.content)[1:], strict=True)}
    done = cells["done"]
    assert done[:12] == [
        text("Jörg Müller; Sohn"),
        text("joerg@example.org"),
        text("done"),
        text("nein"),
        when(*IN_BERLIN),
        num(2),
        num(2),
        when(*IN_BERLIN),
        text("gesendet"),
        num(100),  # both modules done; sent as 100.0, written as German Excel reads a number
        num(100),
        when(*IN_BERLIN),
    ]
    assert done[12:18] == [text("abgeschlossen"), num(2), num(100), num(1), text("geprüft"), when(*IN_BERLIN)]
    # a completed module has its practice text submitted (here not yet reviewed)
    assert done[18:24] == [
        text("abgeschlossen"),
        num(2),
        num(100),
        num(1),
        text("eingereicht"),
        when(*IN_BERLIN),
    ]
    evil = cells["evil"]
    assert evil[:2] == [text('\'=HYPERLINK("http://evil")'), text("'@evil")]
    assert evil[5:7] == [num(0), num(2)] and evil[9:12] == [EMPTY, EMPTY, EMPTY]
    assert evil[12:18] == [text("in Bearbeitung"), num(1), EMPTY, num(0), EMPTY, EMPTY]
    assert cells["roster"][:4] == [text("'-Rita"), EMPTY, text("roster"), text("ja")]
    assert cells["tab"][0] == text("'\tTabea") and cells["tab"][8] == text("fehlgeschlagen")
    assert cells["tab"][9:12] == [num(0), num(100), EMPTY]  # the value sent (a first quiz: 0), though refused


def test_gradebook_csv_keeps_text_from_the_lms_as_text(app: Flask, launcher: Launcher) -> None:
    """Names, e-mail addresses and user ids that German Excel would turn into a date, a number or a truth value
    arrive as text (with a leading apostrophe, as formula-looking text does); a user id that Excel reads as the
    same number (Moodle's: 4) stays as it is. No other cell reads as a date, a formula or a truth value."""
    teacher = launch_teacher(launcher)
    where = place(app)
    nasty = {
        "4": ("1/8", "3/3@example.org"),
        "0012345678901234567": ("März 2026", None),
        "1234567890123456789": ("WAHR", None),
        "2026-04-01": ("12,5", None),
        "5-3": ("5. Mai", None),
        "mai": ("Mai Nguyen", None),
    }
    for sub, (name, email) in nasty.items():
        add_learner(
            app, where, sub, name=name, email=email, done=("modul-a",), grade_state="sent"
        )  # one module of two done: the course grade sent is 50.0
    rows = read_csv(teacher.get("lehrende/export/notenliste.csv").content)
    header, body = rows[0], rows[1:]
    time_columns = {i for i, name in enumerate(header) if name.endswith("(deutsche Zeit)")}
    for row in body:
        for i, field in enumerate(row):
            kind = spreadsheet.read(field).kind
            assert kind in ("empty", "text", "number", "date"), (header[i], field)
            assert (kind == "date") == (i in time_columns and field != ""), (header[i], field)
    by_sub = {row[2].removeprefix("'"): row for row in body}
    assert set(by_sub) == set(nasty)
    for sub, (name, email) in nasty.items():
        row = by_sub[sub]
        shown = [spreadsheet.shows(field).removeprefix("'") for field in row[:3]]
        assert shown == [name, email or "", sub], row[:3]
        assert spreadsheet.read(row[9]) == num(50)
    assert by_sub["4"][2] == "4" and by_sub["mai"][:3] == [
        "Mai Nguyen",
        "",
        "mai",
    ]  # nothing added needlessly


def test_gradebook_csv_follows_the_filter_and_sort(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    add_learners(app, place(app), 12)
    rows = read_csv(
        teacher.get("lehrende/export/notenliste.csv?filter=abgeschlossen&sortierung=name").content
    )
    assert [row[2] for row in rows[1:]] == ["bulk-00004", "bulk-00005", "bulk-00010", "bulk-00011"]
    everyone = read_csv(teacher.get("lehrende/export/notenliste.csv").content)
    assert len(everyone) == 13


def test_completion_list(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    where = place(app)
    add_learner(
        app,
        where,
        "done",
        name="Jörg Müller",
        email="joerg@example.org",
        done=("modul-a", "modul-b"),
        course_completed=True,
        at=COMPLETED,
    )
    add_learner(
        app,
        where,
        "done2",
        name="+Anna",
        course_completed=True,
        done=("modul-a", "modul-b"),
        at=COMPLETED + dt.timedelta(days=2),
    )
    add_learner(app, where, "busy", name="Bo Busy", started=("modul-a",))
    launch_teacher(launcher, sub="teacher-2")
    course = get_catalog(app).get(COURSE)
    assert course is not None
    with session_scope(app, write=True) as s:  # Jörg fetched his certificate, Anna did not
        joerg = s.scalars(select(User).where(User.sub == "done")).one()
        certificate = issue(s, user=joerg, context_id=where.context_id, course=course)
        assert isinstance(certificate, Certificate)
        code = certificate.code
    # The teacher completed the course too (teachers can go through it): not on the list.
    teacher_id = user_id(app, "teacher-1")
    for module_id in ("modul-a", "modul-b"):
        work(
            app,
            ProgressLearner(teacher_id, where.context_id, where.platform_id),
            course,
            module_id,
            score=1.0,
            completed=True,
        )
    with session_scope(app) as s:
        assert s.scalars(
            select(CourseProgress.completed_at).where(CourseProgress.user_id == teacher_id)
        ).one()

    resp = teacher.get("lehrende/export/abschluesse.csv")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="abschluesse-nama-')
    rows = read_csv(resp.content)
    assert rows == [
        [
            "Name",
            "E-Mail",
            "LTI-Benutzerkennung",
            "Kurs abgeschlossen am (deutsche Zeit)",
            "Code der Teilnahmebescheinigung",
        ],
        ["Jörg Müller", "joerg@example.org", "done", "2026-04-01 00:30", code],
        ["'+Anna", "", "done2", "2026-04-03 00:30", ""],
    ]


def test_cells_and_filenames() -> None:
    assert [cell(v) for v in ("=1+1", "+49 221", "-3", "@SUM(A1)", "\tx", "\rx", "a=b", "", None, 7)] == [
        "'=1+1",
        "'+49 221",
        "'-3",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "a=b",
        "",
        "",
        "7",
    ]
    assert cell(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == "2027-01-01 00:30"
    assert [cell(v) for v in (12.5, 100.0, 0.5, 7, 33.333333)] == ["12,5", "100", "0,5", "7", "33,33"]
    assert [cell(Text(v)) for v in ("4", "007", "1/8", "Mai 2026", "Mai Nguyen", "a@b.de", "-x")] == [
        "4",
        "'007",
        "'1/8",
        "'Mai 2026",
        "Mai Nguyen",
        "a@b.de",
        "'-x",
    ]
    today = dt.date(2026, 3, 1)
    assert (
        filename("notenliste", "NaMa NRW – Köln 2026", today)
        == "notenliste-nama-nrw-koln-2026-2026-03-01.csv"
    )
    assert filename("abschluesse", '"; rm -rf /', today) == "abschluesse-rm-rf-2026-03-01.csv"
    assert filename("abschluesse", "", today) == "abschluesse-kurs-2026-03-01.csv"

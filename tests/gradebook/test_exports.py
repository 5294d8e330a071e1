"""The CSV exports, read back with the csv module as a spreadsheet would: UTF-8 with BOM, `;`, CRLF, German dates,
formula-looking cells neutralised, one row per learner with columns per module, streamed as an attachment."""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.gradebook.export import cell, filename
from lti_tool.models import Certificate, CourseProgress, User

from ..peer import Launcher
from .conftest import COURSE, add_learner, add_learners, launch_teacher, place

COMPLETED = dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC)  # 1 April in Berlin


def read_csv(raw: bytes) -> list[list[str]]:
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")  # CRLF only
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


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
        practice={"modul-a": "x"},
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
    assert header[:8] == [
        "Name",
        "E-Mail",
        "LTI-Benutzerkennung",
        "In der Teilnehmendenliste des Kurses",
        "Kurs abgeschlossen am",
        "Abgeschlossene Module",
        "Letzte Aktivität",
        "Noten in der Lernplattform",
    ]
    assert header[8:14] == [
        "1. Modul a: Zustand",
        "1. Modul a: Gelesene Lektionen",
        "1. Modul a: Bestes Quizergebnis (%)",
        "1. Modul a: Quizversuche",
        "1. Modul a: Praxisaufgabe",
        "1. Modul a: Abgeschlossen am",
    ]
    assert len(header) == 8 + 6 * 2 and all(len(row) == len(header) for row in body)
    by_sub = {row[2]: row for row in body}
    done = by_sub["done"]
    assert done[:8] == [
        "Jörg Müller; Sohn",
        "joerg@example.org",
        "done",
        "nein",
        "01.04.2026",
        "2/2",
        "01.04.2026",
        "gesendet",
    ]
    assert done[8:14] == ["abgeschlossen", "2/2", "100", "1", "geprüft", "01.04.2026"]
    assert done[14:20] == ["abgeschlossen", "2/2", "100", "1", "", "01.04.2026"]
    evil = by_sub["evil"]
    assert evil[0] == '\'=HYPERLINK("http://evil")' and evil[1] == "'@evil"
    assert evil[8:14] == ["in Bearbeitung", "1/2", "", "0", "", ""]
    assert by_sub["roster"][:4] == ["'-Rita", "", "roster", "ja"]
    assert by_sub["tab"][0] == "'\tTabea" and by_sub["tab"][7] == "fehlgeschlagen"


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
        done=("modul-a",),
        course_completed=True,
        at=COMPLETED,
    )
    add_learner(
        app,
        where,
        "done2",
        name="+Anna",
        course_completed=True,
        done=("modul-a",),
        at=COMPLETED + dt.timedelta(days=2),
    )
    add_learner(app, where, "busy", name="Bo Busy", started=("modul-a",))
    launch_teacher(launcher, sub="teacher-2")
    with session_scope(app, write=True) as s:
        joerg = s.scalars(select(User).where(User.sub == "done")).one()
        s.add(
            Certificate(
                code="ABCD-EFGH-JKMN",
                user_id=joerg.id,
                context_id=where.context_id,
                course_id=COURSE,
                holder_name="Jörg Müller",
                course_title="Testkurs",
                issuer_name="Testträger",
                modules=[],
                completed_at=COMPLETED,
            )
        )
        # The teacher completed the course too (teachers can go through it): not on the list.
        teacher_id = s.scalars(select(User.id).where(User.sub == "teacher-1")).one()
        s.add(
            CourseProgress(
                user_id=teacher_id, context_id=where.context_id, course_id=COURSE, completed_at=COMPLETED
            )
        )

    resp = teacher.get("lehrende/export/abschluesse.csv")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="abschluesse-nama-')
    rows = read_csv(resp.content)
    assert rows == [
        ["Name", "E-Mail", "LTI-Benutzerkennung", "Kurs abgeschlossen am", "Code der Teilnahmebescheinigung"],
        ["Jörg Müller", "joerg@example.org", "done", "01.04.2026", "ABCD-EFGH-JKMN"],
        ["'+Anna", "", "done2", "03.04.2026", ""],
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
    assert cell(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == "01.01.2027"
    today = dt.date(2026, 3, 1)
    assert (
        filename("notenliste", "NaMa NRW – Köln 2026", today)
        == "notenliste-nama-nrw-koln-2026-2026-03-01.csv"
    )
    assert filename("abschluesse", '"; rm -rf /', today) == "abschluesse-rm-rf-2026-03-01.csv"
    assert filename("abschluesse", "", today) == "abschluesse-kurs-2026-03-01.csv"

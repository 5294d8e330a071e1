"""Who reaches the gradebook: only teachers of the course context, and only that context's learners. Ids in URLs
are tried against other contexts and platforms; every refusal is a clear page and changes nothing."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.models import User

from ..course.learner import Learner, context_claim
from ..peer import Launcher
from .conftest import add_learner, launch_teacher, place, snapshot, user_id

REVIEW = {"feedback": "Eingeschmuggelt.", "stand": ""}


def urls(uid: int, module: str = "modul-a") -> list[tuple[str, str, dict[str, str] | None]]:
    """Every gradebook route for one learner: method, path, form."""
    return [
        ("GET", "lehrende/", None),
        ("GET", "lehrende/?filter=fehlgeschlagen&sortierung=fortschritt", None),
        ("GET", f"lehrende/lernende/{uid}", None),
        ("GET", f"lehrende/lernende/{uid}/praxis/{module}", None),
        ("POST", f"lehrende/lernende/{uid}/praxis/{module}", REVIEW),
        ("POST", f"lehrende/lernende/{uid}/noten-senden", {}),
        ("GET", "lehrende/export/notenliste.csv", None),
        ("GET", "lehrende/export/abschluesse.csv", None),
        ("POST", "lehrende/noten-senden", {}),
    ]


def request(person: Learner, method: str, path: str, form: dict[str, str] | None, **kwargs: Any) -> Any:
    if method == "GET":
        return person.get(path, **kwargs)
    return person.post(path, form or {}, allow_redirects=False, **kwargs)


def test_a_learner_is_refused_everywhere_and_nothing_changes(app: Flask, launcher: Launcher) -> None:
    lea = Learner.launch(launcher, sub="lea", name="Lea Schneider")
    lea.post("m/modul-a/praxis", {"text": "Mein Praxistext für die Prüfung."})
    add_learner(app, place(app), "fail", name="Fay Fail", grade_state="failed")
    other = user_id(app, "fail")
    before = snapshot(app)
    for uid in (user_id(app, "lea"), other):
        for method, path, form in urls(uid):
            page = request(lea, method, path, form)
            assert page.status_code == 403, (method, path)
            assert "Diese Seite ist für die Lehrenden des Kurses." in page.text, (method, path)
            assert "text/csv" not in page.headers["Content-Type"]
    assert snapshot(app) == before


def test_a_teacher_cannot_reach_learners_of_another_context_or_platform(
    app: Flask, launcher: Launcher, other_launcher: Launcher
) -> None:
    teacher = launch_teacher(launcher)
    own = Learner.launch(launcher, sub="own", name="Olivia Eigen")
    own.post("m/modul-a/praxis", {"text": "Praxistext aus dem eigenen Kurs."})
    elsewhere = Learner.launch(launcher, sub="far", name="Fabian Fern", **context_claim("course-2"))
    elsewhere.post("m/modul-a/praxis", {"text": "Praxistext aus einem anderen Kurs."})
    abroad = Learner.launch(other_launcher, sub="own", name="Olivia Ausland")  # same sub, other platform
    abroad.post("m/modul-a/praxis", {"text": "Praxistext von einer anderen Plattform."})
    add_learner(app, place(app, "course-2"), "far-failed", name="Fiona Fern", grade_state="failed")
    far_failed = user_id(app, "far-failed")
    foreign = [user_id(app, "far"), far_failed, 2**63, 0]
    with session_scope(app) as s:
        foreign += list(s.scalars(select(User.id).where(User.name == "Olivia Ausland")))
    assert len(foreign) == 5

    before = snapshot(app)
    for uid in foreign:
        for method, path, form in urls(uid)[2:6]:
            page = request(teacher, method, path, form)
            assert page.status_code == 404, (uid, method, path)
            assert "Diese Person gibt es in diesem Kurs nicht." in page.text, (uid, method, path)
            assert "Praxistext" not in page.text
    assert snapshot(app) == before

    page = teacher.get("lehrende/").text
    assert "Olivia Eigen" in page
    assert "Fabian Fern" not in page and "Fiona Fern" not in page and "Olivia Ausland" not in page
    for export in ("lehrende/export/notenliste.csv", "lehrende/export/abschluesse.csv"):
        text = teacher.get(export).content.decode("utf-8-sig")
        assert "Fern" not in text and "Ausland" not in text


def test_a_learner_in_two_contexts_shows_only_this_contexts_work(app: Flask, launcher: Launcher) -> None:
    """The same person (same user row) in two LMS courses: each course's teacher sees only their course."""
    here = Learner.launch(launcher, sub="both", name="Bea Beides")
    here.post("m/modul-a/praxis", {"text": "Antwort im ersten Kurs."})
    there = Learner.launch(launcher, sub="both", name="Bea Beides", **context_claim("course-2"))
    there.post("m/modul-a/praxis", {"text": "Antwort im zweiten Kurs."})
    teacher_two = launch_teacher(launcher, sub="teacher-2", **context_claim("course-2"))
    uid = user_id(app, "both")
    page = teacher_two.get(f"lehrende/lernende/{uid}").text
    assert "Antwort im zweiten Kurs." in page and "Antwort im ersten Kurs." not in page
    review = teacher_two.get(f"lehrende/lernende/{uid}/praxis/modul-a").text
    assert "Antwort im zweiten Kurs." in review and "Antwort im ersten Kurs." not in review


def test_teacher_posts_need_the_csrf_token(app: Flask, launcher: Launcher) -> None:
    Learner.launch(launcher, sub="lea", name="Lea").post(
        "m/modul-a/praxis", {"text": "Ein Praxistext zum Prüfen."}
    )
    add_learner(app, place(app), "fail", name="Fay Fail", grade_state="failed")
    teacher = launch_teacher(launcher)
    before = snapshot(app)
    for uid in (user_id(app, "lea"), user_id(app, "fail")):
        for method, path, form in urls(uid):
            if method != "POST":
                continue
            for token in (None, "0" * 40):
                data = dict(form or {})
                if token:
                    data["csrf_token"] = token
                page = teacher.post(path, data, csrf=False, allow_redirects=False)
                assert page.status_code == 403, (path, token)
                assert "Sicherheitstoken fehlt oder ist falsch" in page.text
    assert snapshot(app) == before


def test_no_or_a_wrong_session_gets_the_session_page(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    wrong = teacher.base.replace(teacher.sid, "x" * len(teacher.sid))
    before = snapshot(app)
    for method, path, form in urls(1):
        url = wrong + path
        page = teacher.http.get(url) if method == "GET" else teacher.http.post(url, data=form or {})
        assert page.status_code == 401, (method, path)
        assert "Ihre Sitzung im Kurs ist beendet" in page.text
        assert "text/csv" not in page.headers["Content-Type"]
    assert snapshot(app) == before

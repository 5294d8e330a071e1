"""The gradebook's per-learner summary (`LearnerSummary`): written in the transaction of every progress write, so
that after real learners' work over HTTP (lessons, quizzes, practice texts, a teacher's review) the stored rows
are exactly what a rebuild from the source rows gives; `scripts/flask gradebook rebuild-summary` rebuilds it and
`--check` finds a row that drifted; the gradebook lists from it."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select, update

from lti_tool.db import session_scope
from lti_tool.gradebook.summary import differences, rebuild
from lti_tool.models import LearnerSummary

from ..course.learner import Learner, take_quiz
from ..peer import Launcher
from .conftest import launch_teacher, listed_names, user_id
from .test_review import review_page

AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
COLUMNS = (
    "user_id",
    "context_id",
    "course_id",
    "started",
    "modules_done",
    "lessons_seen",
    "completed_at",
    "last_activity",
    "review_waiting",
    "grade",
    "delivery_failed",
)


def stored(app: Flask) -> list[tuple[Any, ...]]:
    with session_scope(app) as s:
        columns = [getattr(LearnerSummary, c) for c in COLUMNS]
        return [tuple(row) for row in s.execute(select(*columns).order_by(LearnerSummary.user_id))]


def work(app: Flask, launcher: Launcher) -> tuple[Learner, Learner]:
    """Learners through the tool's pages: Lea completes module a (lessons, a failed and a passed quiz, a practice
    text), Bo reads one lesson and submits a practice text of module b, Cem submits a practice text; Dora only
    launches."""
    grades = {
        AGS: {
            "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
            "lineitems": launcher.peer.issuer + "/mod/lti/services.php/2/lineitems",
            "lineitem": launcher.peer.issuer + "/mod/lti/services.php/2/lineitems/1/lineitem",
        }
    }
    lea = Learner.launch(launcher, sub="lea", name="Lea Schneider", **grades)
    for lesson in ("01-einstieg", "02-vertiefung"):
        assert lea.get(f"m/modul-a/{lesson}").status_code == 200
    take_quiz(app, lea, "modul-a", right=1)
    take_quiz(app, lea, "modul-a")
    assert lea.post("m/modul-a/praxis", {"text": "In unserer Kommune gibt es einen Klimabeirat."}).ok
    bo = Learner.launch(launcher, sub="bo", name="Bo Busy")
    assert bo.get("m/modul-b/01-einstieg").status_code == 200
    assert bo.post("m/modul-b/praxis", {"text": "Wir haben ein Leitbild."}).ok
    cem = Learner.launch(launcher, sub="cem", name="Cem Idle")
    assert cem.post("m/modul-b/praxis", {"text": "Wir fangen gerade an."}).ok
    Learner.launch(launcher, sub="dora", name="Dora Idle")
    return lea, bo


def test_the_live_summary_is_what_a_rebuild_gives(app: Flask, launcher: Launcher) -> None:
    work(app, launcher)
    teacher = launch_teacher(launcher)
    # The teacher reviews Lea's text: review waiting goes down, the grades are queued again.
    uid = user_id(app, "lea")
    _, stand = review_page(teacher, uid)
    done = teacher.post(
        f"lehrende/lernende/{uid}/praxis/modul-a",
        {"feedback": "Gut.", "stand": stand, "entscheidung": "annehmen"},
        allow_redirects=False,
    )
    assert done.status_code == 303
    # Cem's text: a revision asked for waits for Cem, not for the teacher.
    cem_id = user_id(app, "cem")
    _, stand = review_page(teacher, cem_id, "modul-b")
    asked = teacher.post(
        f"lehrende/lernende/{cem_id}/praxis/modul-b",
        {"feedback": "Bitte konkreter.", "stand": stand, "entscheidung": "ueberarbeiten"},
        allow_redirects=False,
    )
    assert asked.status_code == 303
    with session_scope(app) as s:
        waiting = s.scalar(select(LearnerSummary.review_waiting).where(LearnerSummary.user_id == cem_id))
    assert waiting == 0  # a revision asked for: Cem's turn
    # Cem revises the text: it waits for the teacher again.
    cem = Learner.launch(launcher, sub="cem", name="Cem Idle")
    assert cem.post("m/modul-b/praxis", {"text": "Wir fangen gerade an, mit einem Klimabeirat."}).ok

    live = stored(app)
    by_user = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in live}
    lea, bo = by_user[uid], by_user[user_id(app, "bo")]
    assert (lea["started"], lea["modules_done"], lea["lessons_seen"], lea["review_waiting"]) == (
        True,
        1,
        2,
        0,
    )
    assert lea["grade"] == 50.0  # 1 of 2 modules: the course result as queued for the LMS
    assert bo["grade"] is None  # Bo's activity takes no grades (its launch named no grade item)
    assert (bo["started"], bo["modules_done"], bo["lessons_seen"], bo["review_waiting"]) == (True, 0, 1, 1)
    assert by_user[cem_id]["review_waiting"] == 1  # revised: waits for the teacher again
    assert user_id(app, "dora") not in by_user  # launched only: nothing to summarise (listed all the same)
    with session_scope(app) as s:
        assert differences(s) == []
    with session_scope(app, write=True) as s:
        assert rebuild(s) == 3
    assert stored(app) == live

    page = teacher.get("lehrende/?filter=zu-pruefen").text
    assert listed_names(page) == ["Bo Busy", "Cem Idle"]
    assert listed_names(teacher.get("lehrende/?filter=nicht-begonnen").text) == ["Dora Idle"]


def test_the_cli_checks_and_rebuilds_the_summary(app: Flask, launcher: Launcher) -> None:
    work(app, launcher)
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["gradebook", "rebuild-summary", "--check"])
    assert checked.exit_code == 0 and "0 summary row(s) differ" in checked.output, checked.output
    with session_scope(app, write=True) as s:
        s.execute(update(LearnerSummary).values(modules_done=7, review_waiting=0))
    drifted = runner.invoke(args=["gradebook", "rebuild-summary", "--check"])
    assert drifted.exit_code == 1 and "3 summary row(s) differ" in drifted.output, drifted.output
    rebuilt = runner.invoke(args=["gradebook", "rebuild-summary"])
    assert rebuilt.exit_code == 0 and "3 summary row(s) rebuilt" in rebuilt.output, rebuilt.output
    assert runner.invoke(args=["gradebook", "rebuild-summary", "--check"]).exit_code == 0

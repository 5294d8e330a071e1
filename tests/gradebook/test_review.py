"""One learner's page (quiz answers, practice texts, timeline) and reviewing a practice task: the feedback reaches
the learner, the text locks, the grades are queued; bad input is refused with nothing changed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.gradebook import review_views
from lti_tool.models import PracticeSubmission

from ..course.learner import Learner, take_quiz
from ..forms import field
from ..peer import Launcher, claim
from .conftest import add_learner, launch_teacher, place, snapshot, user_id

TEXT = "In unserer Kommune <b>gibt</b> es einen Klimabeirat & ein Nachhaltigkeitsbüro."


def worked(app: Flask, launcher: Launcher, sub: str = "lea") -> Learner:
    lea = Learner.launch(launcher, sub=sub, name="Lea Schneider")
    lea.get("m/modul-a/01-einstieg")
    take_quiz(app, lea, "modul-a", right=2)
    take_quiz(app, lea, "modul-a")
    lea.post("m/modul-a/praxis", {"text": TEXT})
    return lea


def test_learner_page_shows_attempts_with_answers_practice_and_timeline(
    app: Flask, launcher: Launcher
) -> None:
    worked(app, launcher)
    teacher = launch_teacher(launcher)
    page = teacher.get(f"lehrende/lernende/{user_id(app, 'lea')}")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Lea Schneider</h1>" in html
    attempts = re.findall(r"<summary>([^<]+)</summary>", html)
    assert len(attempts) == 2
    assert (
        "Versuch 1 am" in attempts[0]
        and "2 von 5 richtig" in attempts[0]
        and "nicht bestanden" in attempts[0]
    )
    assert "Versuch 2 am" in attempts[1] and "5 von 5 richtig" in attempts[1] and ", bestanden" in attempts[1]
    first = html.split("<summary>")[1].split("</details>")[0]
    assert first.count('class="state state--ok">richtig<') == 2 and first.count(">nicht richtig<") == 3
    assert "Gewählt:" in first and "Angegebene Reihenfolge:" in first and " → " in first
    # The practice text, escaped, and the way to review it.
    assert "&lt;b&gt;gibt&lt;/b&gt; es einen Klimabeirat &amp; ein" in html and "<b>gibt" not in html
    assert "/praxis/modul-a" in html
    timeline = html.split('<ol class="timeline"')[1]
    for expected in (
        "Kurs zum ersten Mal geöffnet",
        "Lektion „Einstieg“ gelesen (Modul 1)",
        "Quiz von Modul 1: 40",
        "Quiz von Modul 1: 100",
        "Praxisaufgabe von Modul 1 eingereicht",
    ):
        assert expected in timeline.replace("\xa0", " "), expected


def review_page(teacher: Learner, uid: int, module: str = "modul-a") -> tuple[Any, str]:
    page = teacher.get(f"lehrende/lernende/{uid}/praxis/{module}")
    assert page.status_code == 200, page.text[:500]
    return page, field(page.text, "stand")


def test_review_saves_feedback_locks_the_text_and_the_learner_reads_it(
    app: Flask, launcher: Launcher
) -> None:
    lea = worked(app, launcher)
    teacher = launch_teacher(launcher)
    uid = user_id(app, "lea")
    page, stand = review_page(teacher, uid)
    assert "&lt;b&gt;gibt&lt;/b&gt;" in page.text and ">Annehmen</button>" in page.text

    done = teacher.post(
        f"lehrende/lernende/{uid}/praxis/modul-a",
        {"feedback": "Sehr konkret, <i>danke</i>!\r\nWeiter so.", "stand": stand, "entscheidung": "annehmen"},
        allow_redirects=False,
    )
    assert done.status_code == 303
    saved = teacher.get(done.headers["Location"])
    assert "Ihre Prüfung wurde gespeichert." in saved.text and "Rückmeldung speichern" in saved.text
    with session_scope(app) as s:
        row = s.scalars(select(PracticeSubmission)).one()
        assert row.reviewed_at is not None and row.reviewer_id == user_id(app, "teacher-1")
        assert row.feedback == "Sehr konkret, <i>danke</i>!\nWeiter so."

    learner_view = lea.get("m/modul-a/praxis").text
    assert "Rückmeldung Ihrer Lehrperson" in learner_view
    assert "Sehr konkret, &lt;i&gt;danke&lt;/i&gt;!" in learner_view and "<i>danke" not in learner_view
    assert 'name="text"' not in learner_view  # read-only now
    assert lea.post("m/modul-a/praxis", {"text": "Geändert, nachdem kommentiert wurde."}).status_code == 409

    # The teacher's gradebook now shows the task as reviewed.
    gradebook = teacher.get("lehrende/").text
    assert "/praxis/modul-a" not in gradebook.split("Lea Schneider")[1].split("</tr>")[0]

    # Reviewing again changes the feedback; the first review time stays.
    with session_scope(app) as s:
        first_review = s.scalars(select(PracticeSubmission.reviewed_at)).one()
    _, stand = review_page(teacher, uid)
    again = teacher.post(
        f"lehrende/lernende/{uid}/praxis/modul-a",
        {"feedback": "Ergänzung.", "stand": stand, "entscheidung": "annehmen"},
    )
    assert again.status_code == 200
    with session_scope(app) as s:
        row = s.scalars(select(PracticeSubmission)).one()
        assert (row.feedback, row.reviewed_at) == ("Ergänzung.", first_review)


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({}, 422, "Bitte schreiben Sie Ihre Rückmeldung"),
        ({"feedback": ""}, 422, "Bitte schreiben Sie Ihre Rückmeldung"),
        ({"feedback": " \r\n\t "}, 422, "Bitte schreiben Sie Ihre Rückmeldung"),
        (
            {"feedback": "x" * (review_views.FEEDBACK_MAX + 1)},
            422,
            "Ihre Rückmeldung ist zu lang: 5001 Zeichen",
        ),
        ({"feedback": "Gut.", "stand": "2001-01-01T00:00:00+00:00"}, 409, "hat den Text geändert"),
    ],
)
def test_bad_feedback_is_refused_and_nothing_changes(
    app: Flask, launcher: Launcher, form: dict[str, str], status: int, message: str
) -> None:
    worked(app, launcher)
    teacher = launch_teacher(launcher)
    uid = user_id(app, "lea")
    _, stand = review_page(teacher, uid)
    before = snapshot(app)
    page = teacher.post(
        f"lehrende/lernende/{uid}/praxis/modul-a", {"stand": stand, "entscheidung": "annehmen", **form}
    )
    assert page.status_code == status
    assert message in page.text and 'class="error-summary"' in page.text
    assert snapshot(app) == before


def test_a_text_changed_while_the_teacher_reads_is_shown_again(app: Flask, launcher: Launcher) -> None:
    lea = worked(app, launcher)
    teacher = launch_teacher(launcher)
    uid = user_id(app, "lea")
    _, stand = review_page(teacher, uid)
    lea.post("m/modul-a/praxis", {"text": "Ganz neu geschrieben: wir haben jetzt ein Klimaschutzkonzept."})
    page = teacher.post(
        f"lehrende/lernende/{uid}/praxis/modul-a",
        {"feedback": "Prima.", "stand": stand, "entscheidung": "annehmen"},
    )
    assert page.status_code == 409
    assert "Ganz neu geschrieben" in page.text and ">Prima.</textarea>" in page.text
    new_stand = field(page.text, "stand")
    assert new_stand != stand
    ok = teacher.post(
        f"lehrende/lernende/{uid}/praxis/modul-a",
        {"feedback": "Prima.", "stand": new_stand, "entscheidung": "annehmen"},
    )
    assert ok.status_code == 200 and "Ihre Prüfung wurde gespeichert." in ok.text


def test_unknown_module_missing_task_and_unknown_learner_get_clear_pages(
    app: Flask, launcher: Launcher
) -> None:
    worked(app, launcher)
    teacher = launch_teacher(launcher)
    where = place(app)
    idle = add_learner(app, where, "idle", name="Ida Idle")
    uid = user_id(app, "lea")
    before = snapshot(app)
    cases = [
        (f"lehrende/lernende/{uid}/praxis/modul-x", "Dieses Modul gibt es in diesem Kurs nicht."),
        (
            f"lehrende/lernende/{idle}/praxis/modul-a",
            "Diese Person hat diese Praxisaufgabe nicht eingereicht.",
        ),
        (
            f"lehrende/lernende/{uid}/praxis/modul-b",
            "Diese Person hat diese Praxisaufgabe nicht eingereicht.",
        ),
        ("lehrende/lernende/999999/praxis/modul-a", "Diese Person gibt es in diesem Kurs nicht."),
        ("lehrende/lernende/999999", "Diese Person gibt es in diesem Kurs nicht."),
        ("lehrende/lernende/99999999999999999999", "Diese Person gibt es in diesem Kurs nicht."),
    ]
    for path, message in cases:
        for method in ("GET", "POST"):
            if method == "GET":
                page = teacher.get(path)
            else:
                page = teacher.post(path, {"feedback": "Gut.", "stand": "x"})
            if method == "POST" and path.endswith("9999"):
                assert page.status_code == 405, path
                continue
            assert page.status_code == 404, (method, path)
            assert message in page.text and "Fehlerkennung" in page.text, (method, path)
    assert snapshot(app) == before


def test_learners_texts_keep_the_course_language_inside_the_english_interface(
    app: Flask, launcher: Launcher
) -> None:
    """WCAG 3.1.2: a German practice text in an English page is marked German, for the teacher, the learner
    and the peers who read it (a screen reader then reads it with German pronunciation)."""
    english = claim("launch_presentation", {"locale": "en"})
    worked(app, launcher)
    escaped = "In unserer Kommune &lt;b&gt;gibt&lt;/b&gt; es einen Klimabeirat &amp; ein Nachhaltigkeitsbüro."
    teacher = launch_teacher(launcher, **english)
    uid = user_id(app, "lea")
    for path in (f"lehrende/lernende/{uid}", f"lehrende/lernende/{uid}/praxis/modul-a"):
        page = teacher.get(path)
        assert page.status_code == 200 and '<html lang="en">' in page.text
        assert f'<div class="user-text" lang="de">{escaped}</div>' in page.text, path
    review = teacher.get(f"lehrende/lernende/{uid}/praxis/modul-a")
    assert re.search(r'<textarea id="feedback" name="feedback" rows="8" lang="de"', review.text)
    peer = Learner.launch(launcher, sub="peer", name="Pia Peer", **english)
    assert peer.post(
        "m/modul-a/praxis", {"text": "Bei uns gibt es einen Nachhaltigkeitsbericht seit 2020."}
    ).ok
    exchange = peer.get("m/modul-a/austausch")
    assert exchange.status_code == 200 and '<html lang="en">' in exchange.text
    assert f'<div class="user-text" lang="de">{escaped}</div>' in exchange.text

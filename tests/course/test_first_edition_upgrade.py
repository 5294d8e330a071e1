"""An installation that ran the first edition of the Grundlagenkurs (every quiz question asked, no pools: schema
0004) is upgraded to this code and the shipped second edition (pools of 16-18 questions, 8 drawn; some question
ids gone, some kept with other options). Its learners keep what they did: completed modules stay complete with
their best score, old results stay readable, an attempt left open under the old questions gives way to a fresh
draw, and the grades the LMS holds are neither lost nor changed. SQLite always; PostgreSQL with TEST_DATABASE_URL.

The old rows are written as the first edition's tool wrote them (schema 0004, the first edition's question and
option ids), then the database is upgraded the way an operator does (`scripts/flask db upgrade`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool import create_app
from lti_tool.db import session_scope, upgrade
from lti_tool.models import GradeOutbox

from ..conftest import CLIENT_ID, DEPLOYMENT_ID
from ..migrations import PreviousRevision, previous_revision
from ..peer import INSTRUCTOR, LEARNER, Launcher, PeerPlatform, ServerThread, claim
from .learner import Learner, attempt_id, module, questions_of, quiz_answers

CONTENT = Path(__file__).resolve().parents[2] / "content"
THEN = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
LINK_TARGET = "course:grundlagenkurs@link:1"

# The first edition's agenda-2030 quiz: eight questions, all asked, with their option ids (three of these ids
# are still in the second edition's pool, "dimensionen" with other options).
FIRST_AGENDA = {
    "beschlussdatum": ["b", "a", "d", "c"],
    "umfang": ["c", "a", "b", "d"],
    "fuenf-p": ["frieden", "wachstum", "partnerschaft", "wohlstand"],
    "nur-entwicklungslaender": ["true", "false"],
    "leave-no-one-behind": ["b", "c", "a"],
    "dimensionen": ["sozial", "militaerisch", "oekonomisch", "oekologisch"],
    "halbzeitbilanz": ["c", "a", "b"],
    "sdg-11": ["a", "c", "b"],
}
RIGHT_AGENDA = {
    "beschlussdatum": ["a"],
    "umfang": ["a"],
    "fuenf-p": ["wachstum"],
    "nur-entwicklungslaender": ["false"],
    "leave-no-one-behind": ["a"],
    "dimensionen": ["oekonomisch", "sozial", "oekologisch"],
    "halbzeitbilanz": ["a"],
    "sdg-11": ["a"],
}
# The first edition's mehrebenensystem quiz, an attempt started and never submitted.
FIRST_MEHREBENEN = {
    "dns-seit": ["a", "b", "c", "d"],
    "dns-chronologie": ["neuauflage", "erste", "dns-2025", "weiterentwicklung"],
    "transformationsbereiche": ["energiewende", "kreislauf", "bauen", "finanzen", "governance"],
    "nrw-erste-strategie": ["b", "a", "c"],
    "nrw-2016-sdg": ["true", "false"],
    "nrw-2020": ["a", "b", "c"],
    "vertikale-integration": ["eu", "un", "bund", "kommune", "land"],
    "dns-2025-datum": ["true", "false"],
}


def _write_first_edition_installation(old: PreviousRevision, peer: PeerPlatform) -> None:
    """One platform, course context and resource link; a learner who completed agenda-2030 (a failed and a
    passed attempt, the practice text, the grades sent to the LMS) and started mehrebenensystem; a teacher."""
    assert "question_ids" not in old.columns("quiz_attempt")  # the schema before pools
    at = {"created_at": THEN}
    owner = {"user_id": 1, "context_id": 1, "course_id": "grundlagenkurs"}
    conn, t = old.conn, old.tables
    conn.execute(
        t["platform"].insert(),
        [
            {
                "id": 1,
                "issuer": peer.issuer,
                "client_id": CLIENT_ID,
                "name": "Moodle",
                "auth_login_url": peer.auth_url,
                "auth_token_url": peer.token_url,
                "jwks_url": peer.jwks_url,
                "registered_via": "cli",
                **at,
            }
        ],
    )
    conn.execute(
        t["deployment"].insert(),
        [{"id": 1, "platform_id": 1, "deployment_id": DEPLOYMENT_ID, "active": True, **at}],
    )
    conn.execute(
        t["context"].insert(),
        [
            {
                "id": 1,
                "deployment_id": 1,
                "context_id": "course-1",
                "title": "NaMa NRW Demo",
                "label": "NaMa",
                "updated_at": THEN,
                **at,
            }
        ],
    )
    conn.execute(
        t["lti_user"].insert(),
        [
            {"id": 1, "platform_id": 1, "sub": "user-1", "name": "Lea Schneider", **at},
            {"id": 2, "platform_id": 1, "sub": "teacher-1", "name": "Tanja Lehrerin", **at},
        ],
    )
    conn.execute(
        t["membership"].insert(),
        [
            {
                "id": 1,
                "user_id": 1,
                "context_id": 1,
                "roles": LEARNER,
                "is_instructor": False,
                "last_launch_at": THEN,
                **at,
            },
            {
                "id": 2,
                "user_id": 2,
                "context_id": 1,
                "roles": INSTRUCTOR,
                "is_instructor": True,
                "last_launch_at": THEN,
                **at,
            },
        ],
    )
    conn.execute(
        t["resource_link"].insert(),
        [
            {
                "id": 1,
                "deployment_id": 1,
                "context_id": 1,
                "resource_link_id": "rl-1",
                "title": "Grundlagenkurs",
                "course_id": "grundlagenkurs",
                "updated_at": THEN,
                **at,
            }
        ],
    )
    conn.execute(
        t["link_launch"].insert(),
        [{"resource_link_id": 1, "user_id": 1, "first_launch_at": THEN, "last_launch_at": THEN}],
    )
    conn.execute(
        t["lesson_visit"].insert(),
        [
            {**owner, "module_id": module_id, "lesson_id": lesson_id, "first_seen_at": THEN}
            for module_id, lesson_id in (
                ("agenda-2030", "01-beschluss"),
                ("agenda-2030", "02-leitgedanken"),
                ("agenda-2030", "03-universell-und-lokal"),
                ("mehrebenensystem", "01-deutsche-nachhaltigkeitsstrategie"),
            )
        ],
    )
    conn.execute(
        t["module_progress"].insert(),
        [
            {
                **owner,
                "module_id": "agenda-2030",
                "lessons_seen": 3,
                "attempts": 2,
                "best_score": 1.0,
                "practice_submitted_at": THEN,
                "completed_at": THEN,
                "started_at": THEN,
                "updated_at": THEN,
            },
            {
                **owner,
                "module_id": "mehrebenensystem",
                "lessons_seen": 1,
                "attempts": 0,
                "best_score": None,
                "practice_submitted_at": None,
                "completed_at": None,
                "started_at": THEN,
                "updated_at": THEN,
            },
        ],
    )
    wrong = {**RIGHT_AGENDA, "umfang": ["b"], "fuenf-p": ["frieden"], "dimensionen": ["militaerisch"]}
    conn.execute(
        t["quiz_attempt"].insert(),
        [  # no explicit ids: PostgreSQL's sequence hands out the next ones after the upgrade
            {
                **owner,
                "module_id": "agenda-2030",
                "public_id": "first-failed",
                "layout": FIRST_AGENDA,
                "question_count": 8,
                "started_at": THEN,
                "answers": wrong,
                "correct_count": 5,
                "score": 0.625,
                "passed": False,
                "submitted_at": THEN,
            },
            {
                **owner,
                "module_id": "agenda-2030",
                "public_id": "first-passed",
                "layout": FIRST_AGENDA,
                "question_count": 8,
                "started_at": THEN,
                "answers": RIGHT_AGENDA,
                "correct_count": 8,
                "score": 1.0,
                "passed": True,
                "submitted_at": THEN,
            },
        ],
    )
    conn.execute(  # never submitted: no answers, score or verdict (SQL NULL, not JSON null)
        t["quiz_attempt"].insert(),
        [
            {
                **owner,
                "module_id": "mehrebenensystem",
                "public_id": "first-open",
                "layout": FIRST_MEHREBENEN,
                "question_count": 8,
                "started_at": THEN,
            },
        ],
    )
    conn.execute(
        t["practice_submission"].insert(),
        [
            {
                **owner,
                "module_id": "agenda-2030",
                "text": "Unsere Kommune hat 2019 die Musterresolution gezeichnet.",
                "submitted_at": THEN,
                "updated_at": THEN,
            }
        ],
    )
    conn.execute(t["course_progress"].insert(), [{**owner, "started_at": THEN, "updated_at": THEN}])
    stamp = THEN.isoformat()
    conn.execute(
        t["grade_outbox"].insert(),
        [
            {
                "platform_id": 1,
                "user_id": 1,
                "context_id": 1,
                "target": LINK_TARGET,
                "lineitem_url": peer.issuer + "/lineitems/1/lineitem",
                "payload": {
                    "userId": "user-1",
                    "scoreGiven": 12.5,
                    "scoreMaximum": 100.0,
                    "activityProgress": "InProgress",
                    "gradingProgress": "FullyGraded",
                    "timestamp": stamp,
                    "comment": "1 von 8 Modulen abgeschlossen",
                },
                "score_timestamp": stamp,
                "state": "sent",
                "attempts": 1,
                "last_status": 200,
                "next_attempt_at": THEN,
                "sent_at": THEN,
                "course_id": "grundlagenkurs",
                "module_id": None,
                **at,
            }
        ],
    )


@pytest.fixture
def upgraded(
    empty_database: str,
    test_config: dict[str, Any],
    peer: PeerPlatform,
) -> Iterator[tuple[Flask, Launcher]]:
    """The first edition's database, upgraded, served by this code with the shipped course."""
    with previous_revision(empty_database, "0004") as old:
        _write_first_edition_installation(old, peer)
    upgrade(empty_database, key_secrets=test_config["KEY_SECRETS"])
    app = create_app({**test_config, "DATABASE_URL": empty_database, "CONTENT_DIR": str(CONTENT)})
    server = ServerThread(app)
    yield app, Launcher(server.url, peer, CLIENT_ID, DEPLOYMENT_ID)
    server.stop()
    app.extensions["nama_db"].dispose()


def _module_items(html: str) -> list[str]:
    return [item.split("</li>")[0] for item in html.split('class="module-list__item')[1:]]


def _course_grades(app: Flask) -> list[tuple[str, Any]]:
    with session_scope(app) as s:
        rows = s.scalars(
            select(GradeOutbox).where(GradeOutbox.target == LINK_TARGET).order_by(GradeOutbox.id)
        ).all()
        return [(row.state, row.payload["scoreGiven"]) for row in rows]


def test_first_edition_attempts_and_grades_survive_the_upgrade(upgraded: tuple[Flask, Launcher]) -> None:
    app, launcher = upgraded
    assert _course_grades(app) == [("sent", 12.5)]
    lea = Learner.launch(launcher, name="Lea Schneider")
    overview = lea.get("uebersicht")
    assert overview.status_code == 200 and "1 von 8 Modulen abgeschlossen" in overview.text
    agenda, mehrebenen = _module_items(overview.text)[:2]
    # Completion is sticky: the second edition's new lesson does not take the finished module away.
    assert "Abgeschlossen" in agenda and re.search(r"Quiz 100\s*%", agenda)
    assert "Abgeschlossen" not in mehrebenen

    # The old results stay readable: the score and verdict; the questions that changed are not listed.
    for public_id, verdict in (("first-failed", "Noch nicht bestanden"), ("first-passed", "Bestanden")):
        page = lea.get(f"m/agenda-2030/ergebnis?versuch={public_id}")
        assert page.status_code == 200, page.text[:500]
        assert verdict in page.text and "geändert" in page.text
    assert re.search(
        r"8 von 8 Fragen richtig \(100\s*%\)", lea.get("m/agenda-2030/ergebnis?versuch=first-passed").text
    )

    # The attempt left open under the old questions gives way to a fresh draw from the new pool, which counts.
    quiz = lea.get("m/mehrebenensystem/quiz")
    assert quiz.status_code == 200
    fresh = attempt_id(quiz.text)
    assert fresh != "first-open" and quiz.text.count('<fieldset class="question') == 8
    pool = {question.id for question in module(app, "mehrebenensystem").quiz.questions}
    drawn = questions_of(app, fresh)
    assert len(drawn) == 8 and set(drawn) <= pool
    assert (
        lea.post("m/mehrebenensystem/quiz", quiz_answers(app, "mehrebenensystem", fresh)).status_code == 200
    )

    # The teacher's gradebook: Lea with her result, the grade the LMS holds still sent, nothing failed.
    teacher = Learner.launch(launcher, sub="teacher-1", name="Tanja Lehrerin", **claim("roles", INSTRUCTOR))
    book = teacher.page
    assert book.status_code == 200 and "Lea Schneider" in book.text
    row = book.text.split("Lea Schneider</a>")[1].split("</tr>")[0]
    assert re.search(r"Quiz 100\s*%", row) and "fehlgeschlagen" not in row
    # The course grade as sent (the gradebook of issue 13 shows value / maximum and the delivery).
    assert "12,5 / 100" in row and "gesendet" in row
    detail = re.search(r'href="[^"]*/(lehrende/lernende/\d+)"', book.text)
    assert detail
    shown = teacher.get(detail.group(1))
    assert shown.status_code == 200 and "<h1>Lea Schneider</h1>" in shown.text
    # No grade was lost, failed or changed by the upgrade: the course result the LMS holds is still 12.5.
    grades = _course_grades(app)
    assert grades[0] == ("sent", 12.5) and all(score == 12.5 for _, score in grades)

"""Learners and their teacher, all launched from the demo LMS over HTTP: the learners work, the teacher finds them
in the gradebook and reviews a practice task, and the grade the LMS holds goes from Pending to FullyGraded.

The course here requires a teacher's review (`practice_review_required = true`), so the module's grade waits for
it; the worker delivers to the demo LMS's AGS endpoint, which keeps what Moodle keeps.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from flask import Flask

from lti_tool.db import session_scope
from lti_tool.demo_lms.keys import generate_private_pem
from lti_tool.lti.platforms import PlatformSpec, add_platform

from ..conftest import CONTENT_DIR
from ..forms import csrf_token, field
from ..grading.conftest import ALL_SCOPES, CLIENT_ID, DEPLOYMENT_ID, Lms, deliver_all
from ..grading.test_end_to_end import launch_page, take_quiz
from ..peer import ServerThread
from .conftest import listed_names

COURSE_ITEM = "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement"  # the activity's own grade item


@pytest.fixture
def test_config(test_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    course = content / "grundlagenkurs" / "course.toml"
    text = course.read_text(encoding="utf-8")
    assert "pass_mark = 80\n" in text
    reviewed = text.replace("pass_mark = 80\n", "pass_mark = 80\npractice_review_required = true\n")
    course.write_text(reviewed, encoding="utf-8")
    test_config.update(
        {
            "CONTENT_DIR": str(content),
            "GRADE_POLL_SECONDS": 0.05,
            "GRADE_BACKOFF_BASE_SECONDS": 0.05,
            "GRADE_BACKOFF_CAP_SECONDS": 0.4,
            "HTTP_READ_TIMEOUT": 5.0,
        }
    )
    return test_config


NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@pytest.fixture
def lms(app: Flask) -> Iterator[Lms]:
    with served_lms(app) as platform:
        yield platform


@contextmanager
def served_lms(app: Flask, **tool_settings: Any) -> Iterator[Lms]:
    """The tool and the demo LMS on real sockets, the LMS registered with the tool."""
    tool = ServerThread(app)
    platform = Lms(
        tool.url, generate_private_pem(), scopes=[*ALL_SCOPES, NRPS_SCOPE], tool_settings=tool_settings
    )
    with session_scope(app, write=True) as s:
        add_platform(
            s,
            PlatformSpec(
                platform.url,
                CLIENT_ID,
                platform.url + "/auth",
                platform.token_url,
                platform.url + "/jwks",
                "Demo-LMS",
            ),
            DEPLOYMENT_ID,
        )
    yield platform
    platform.close()
    tool.stop()


def session_base(page: requests.Response) -> str:
    match = re.match(r"^(https?://[^/]+/s/[^/]+/)", page.url)
    assert match, page.url
    return match.group(1)


def learner_works(app: Flask, lms: Lms, user: str, *, practice: bool) -> tuple[requests.Session, str]:
    browser = requests.Session()
    landing = launch_page(browser, lms.url + "/launch/1", {"user": user})
    assert landing.status_code == 200, landing.text[:500]
    base = session_base(landing)
    for lesson in ("01-einstieg", "02-vertiefung"):
        assert browser.get(f"{base}m/modul-a/{lesson}").status_code == 200
    take_quiz(app, browser, landing, "modul-a")
    if practice:
        page = browser.get(f"{base}m/modul-a/praxis")
        csrf = csrf_token(page.text)
        saved = browser.post(
            f"{base}m/modul-a/praxis",
            data={
                "text": "Unsere Kommune hat einen Klimabeirat <und> ein Leitbild.",
                "csrf_token": csrf,
            },
        )
        assert saved.status_code == 200, saved.text[:500]
    return browser, base


def held(lms: Lms) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["label"], r["user_id"]): r for r in lms.scores()}


def test_teacher_reviews_in_the_gradebook_and_the_lms_gets_the_full_grade(app: Flask, lms: Lms) -> None:
    lea, lea_base = learner_works(app, lms, "4", practice=True)
    learner_works(app, lms, "5", practice=False)
    deliver_all(app)
    before = held(lms)
    assert before[(COURSE_ITEM, "4")]["gradingProgress"] == "Pending"  # waits for the teacher's review
    assert before[(COURSE_ITEM, "4")]["scoreGiven"] is None  # Moodle drops a score that is not FullyGraded
    assert (
        before[(COURSE_ITEM, "5")]["gradingProgress"] == "FullyGraded"
    )  # no practice task: nothing to review

    teacher = requests.Session()
    gradebook = launch_page(teacher, lms.url + "/launch/1", {"user": "3"})
    assert gradebook.status_code == 200 and gradebook.url.endswith("/lehrende/"), gradebook.text[:500]
    assert "Lea Schneider" in gradebook.text and "Jonas Becker" in gradebook.text
    assert "Ingrid Lehmann</a>" not in gradebook.text  # the teacher is no row
    lea_row = gradebook.text.split("Lea Schneider</a>")[1].split("</tr>")[0]
    assert "gesendet" in lea_row  # the Pending grades were delivered

    review_link = re.search(r'href="([^"]+/praxis/modul-a)"', lea_row)
    assert review_link, lea_row
    review = teacher.get(urljoin(gradebook.url, review_link.group(1)))
    assert "Unsere Kommune hat einen Klimabeirat &lt;und&gt; ein Leitbild." in review.text
    csrf, stand = csrf_token(review.text), field(review.text, "stand")
    # First a revision: the text opens again for Lea; the grade stays Pending, Moodle's comment says whose turn it is.
    asked = teacher.post(
        review.url,
        data={
            "feedback": "Bitte noch ein Beispiel.",
            "stand": stand,
            "entscheidung": "ueberarbeiten",
            "csrf_token": csrf,
        },
    )
    assert asked.status_code == 200 and "Sie haben um eine Überarbeitung gebeten." in asked.text
    deliver_all(app)
    asking = held(lms)[(COURSE_ITEM, "4")]
    assert (asking["gradingProgress"], asking["scoreGiven"], asking["comment"]) == (
        "Pending",
        None,
        "1 von 2 Modulen abgeschlossen; eine Praxisaufgabe wird überarbeitet",
    )
    page = lea.get(f"{lea_base}m/modul-a/praxis")
    assert "Bitte noch ein Beispiel." in page.text and 'name="text"' in page.text
    revised = lea.post(
        f"{lea_base}m/modul-a/praxis",
        data={
            "text": "Klimabeirat, Leitbild und ein Energiebericht 2025.",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert revised.status_code == 200 and "überarbeitete Antwort ist gespeichert" in revised.text
    deliver_all(app)
    waiting = held(lms)
    # still Pending with the comment of before: the revision is not the acceptance
    moving = ("history_count", "timestamp", "updated_at")
    assert {k: v for k, v in waiting[(COURSE_ITEM, "4")].items() if k not in moving} == {
        k: v for k, v in before[(COURSE_ITEM, "4")].items() if k not in moving
    }
    assert waiting[(COURSE_ITEM, "4")]["history_count"] == before[(COURSE_ITEM, "4")]["history_count"] + 2

    review = teacher.get(review.url)
    assert "Runde 1: Überarbeitung erbeten" in review.text
    csrf, stand = csrf_token(review.text), field(review.text, "stand")
    saved = teacher.post(
        review.url,
        data={
            "feedback": "Danke, sehr anschaulich.",
            "stand": stand,
            "entscheidung": "annehmen",
            "csrf_token": csrf,
        },
    )
    assert saved.status_code == 200 and "Ihre Prüfung wurde gespeichert." in saved.text

    deliver_all(app)
    after = held(lms)
    grade = after[(COURSE_ITEM, "4")]
    assert (grade["gradingProgress"], grade["activityProgress"], grade["scoreGiven"], grade["comment"]) == (
        "FullyGraded",
        "InProgress",
        50.0,
        "1 von 2 Modulen abgeschlossen",
    )
    assert grade["history_count"] == waiting[(COURSE_ITEM, "4")]["history_count"] + 1
    assert {label for label, _ in after} == {COURSE_ITEM}  # the course's one grade column
    assert after[(COURSE_ITEM, "5")] == before[(COURSE_ITEM, "5")]  # nothing new for the other learner

    assert "Danke, sehr anschaulich." in lea.get(f"{lea_base}m/modul-a/praxis").text
    again = teacher.get(gradebook.url).text.split("Lea Schneider</a>")[1].split("</tr>")[0]
    assert "gesendet" in again and "/praxis/modul-a" not in again


def test_teacher_fetches_the_participant_list_and_sees_who_never_opened_the_course(
    app: Flask, lms: Lms
) -> None:
    learner_works(app, lms, "4", practice=False)
    teacher = requests.Session()
    gradebook = launch_page(teacher, lms.url + "/launch/1", {"user": "3"})
    assert "noch nicht von der Lernplattform abgerufen" in gradebook.text
    # the participant list, from the gradebook's head: a sentence of its own, then the button
    assert "sind aufgeführt." in gradebook.text and ">Jetzt abrufen<" in gradebook.text
    assert "Lea Schneider" in gradebook.text and "Murat Yilmaz" not in gradebook.text
    csrf = csrf_token(gradebook.text)
    refresh = urljoin(gradebook.url, "teilnehmerliste")

    # The platform's NRPS endpoint fails: a clear page, and the gradebook is as it was.
    lms.faults({"nrps": {"status": 500}})
    failed = teacher.post(refresh, data={"csrf_token": csrf})
    assert failed.status_code == 502, failed.text[:500]
    assert "Die Teilnehmendenliste des Kurses konnte nicht geladen werden" in failed.text
    assert "Murat Yilmaz" not in teacher.get(gradebook.url).text
    lms.clear_faults()

    # Without the CSRF token nothing is fetched either.
    assert teacher.post(refresh, data={}).status_code in (400, 403)
    assert "Murat Yilmaz" not in teacher.get(gradebook.url).text

    done = teacher.post(refresh, data={"csrf_token": csrf, "sortierung": "name"})
    assert done.status_code == 200 and done.url.startswith(gradebook.url), done.url
    assert "Die Teilnehmendenliste wurde aktualisiert: 4 Teilnehmer*innen." in done.text
    assert "Teilnehmendenliste vom" in done.text
    # Every learner of the LMS course is a row now, also the one who never opened the tool; the teacher is not.
    for name in ("Lea Schneider", "Jonas Becker", "Aylin Demir", "Murat Yilmaz"):
        assert name in done.text
    assert "Ingrid Lehmann</a>" not in done.text

    # A learner cannot ask for it.
    lea = requests.Session()
    page = launch_page(lea, lms.url + "/launch/1", {"user": "4"})
    lea_csrf = csrf_token(lea.get(session_base(page) + "m/modul-a/praxis").text)
    refused = lea.post(session_base(page) + "lehrende/teilnehmerliste", data={"csrf_token": lea_csrf})
    assert refused.status_code == 403


def test_without_names_from_the_lms_nobody_is_greeted_by_number_and_the_teacher_tells_learners_apart(
    app: Flask,
) -> None:
    """Moodle with "Share launcher's name/e-mail with tool" off sends only its user ids (launch and NRPS)."""
    with served_lms(app, send_name=False, send_email=False) as lms:
        jonas = requests.Session()
        landing = launch_page(jonas, lms.url + "/launch/1", {"user": "5"})
        assert landing.status_code == 200 and "/s/" in landing.url, landing.text[:500]
        assert '<p class="welcome">Willkommen.</p>' in landing.text
        assert "Willkommen, 5" not in landing.text and "Jonas" not in landing.text

        teacher = requests.Session()
        gradebook = launch_page(teacher, lms.url + "/launch/1", {"user": "3"})
        assert gradebook.url.endswith("/lehrende/") and "Willkommen, " not in gradebook.text
        assert listed_names(gradebook.text) == ["Teilnehmer*in ohne Namen (Kennung 5 in der Lernplattform)"]
        csrf = csrf_token(gradebook.text)
        done = teacher.post(urljoin(gradebook.url, "teilnehmerliste"), data={"csrf_token": csrf})
        assert done.status_code == 200, done.text[:500]
        assert listed_names(done.text) == [
            f"Teilnehmer*in ohne Namen (Kennung {user} in der Lernplattform)" for user in ("4", "5", "6", "7")
        ]

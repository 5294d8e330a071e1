"""What the LMS gradebook holds, case by case, as a Moodle teacher would check it: every test drives the tool
over HTTP from the demo LMS (learners and a teacher in browsers, the teacher's Moodle actions through the LMS),
lets the worker deliver, and asserts on the platform's grade items and grades only.

Moodle behaviours the demo LMS mirrors here: an activity added after a learner's results exist (Moodle never
pulls a grade); "Accept grades from the tool" off (launches without the AGS `lineitem` claim, the `lineitems`
container and scopes still sent); a grade item the teacher deleted (score posts answer 404).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from lti_tool.admin.accounts import create_operator
from lti_tool.db import session_scope
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.models import Operator, User

from ..admin.conftest import PASSWORD, USERNAME, AdminClient
from ..course.learner import attempt_id, quiz_answers
from ..forms import csrf_token, iframes, submit
from .conftest import CLIENT_ID, DEPLOYMENT_ID, Lms, deliver_all

COURSE_ITEM = "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement"  # activity 1's own grade item


@pytest.fixture
def platform(app: Flask, lms: Lms) -> Lms:
    with session_scope(app, write=True) as s:
        add_platform(
            s,
            PlatformSpec(lms.url, CLIENT_ID, lms.url + "/auth", lms.token_url, lms.url + "/jwks", "Demo-LMS"),
            DEPLOYMENT_ID,
        )
    return lms


class Browser:
    """One person's browser on the demo LMS's activity pages (the tool in the page's iframe)."""

    def __init__(self, lms: Lms, user: str) -> None:
        self.lms = lms
        self.user = user
        self.http = requests.Session()
        self.page: requests.Response | None = None

    def open(self, activity: int) -> requests.Response:
        lms_page = self.http.get(f"{self.lms.url}/launch/{activity}", params={"user": self.user}, timeout=10)
        assert lms_page.status_code == 200, lms_page.text[:500]
        [frame] = iframes(lms_page)
        self.page = submit(self.http, self.http.get(frame, timeout=10), "id_token")
        assert self.page.status_code == 200, self.page.text[:500]
        return self.page

    @property
    def base(self) -> str:
        assert self.page is not None
        match = re.match(r"^(https?://[^/]+/s/[^/]+/)", self.page.url)
        assert match, self.page.url
        return match.group(1)

    def quiz(self, app: Flask, module_id: str, right: int | None = None) -> None:
        page = self.http.get(f"{self.base}m/{module_id}/quiz", timeout=10)
        assert page.status_code == 200, page.text[:500]
        csrf = csrf_token(page.text)
        answers = quiz_answers(app, module_id, attempt_id(page.text), right)
        done = self.http.post(
            f"{self.base}m/{module_id}/quiz", data=[*answers, ("csrf_token", csrf)], timeout=10
        )
        assert done.status_code == 200, done.text[:500]

    def post_form(self, action_path: str, page: requests.Response | None = None) -> requests.Response:
        """Press the button of the form posting to `action_path` on the current (or given) page."""
        page = page or self.page
        assert page is not None
        assert action_path in page.text, page.text[:800]
        csrf = csrf_token(page.text)
        done = self.http.post(
            f"{self.base}{action_path}", data={"csrf_token": csrf}, timeout=10, allow_redirects=True
        )
        assert done.status_code == 200, done.text[:500]
        self.page = done
        return done


def add_activity(lms: Lms, title: str, **settings: Any) -> int:
    response = lms.http.post(f"{lms.url}/api/activities", json={"title": title, **settings}, timeout=10)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def columns(lms: Lms) -> list[str]:
    """The labels of the course's grade items, in the order they were made."""
    return [item["label"] for item in lms.get("/api/lineitems")]


def grades(lms: Lms) -> dict[tuple[str, str], dict[str, Any]]:
    """(grade item label, Moodle user id) -> what the gradebook holds."""
    return {(r["label"], r["user_id"]): r for r in lms.scores()}


def test_an_activity_added_later_gets_the_result_when_the_learner_opens_it(app: Flask, platform: Lms) -> None:
    lea = Browser(platform, "4")
    lea.open(1)
    lea.quiz(app, "modul-a")
    deliver_all(app)
    before = grades(platform)
    assert columns(platform) == [COURSE_ITEM]  # one column per activity: no per-module items
    assert set(before) == {(COURSE_ITEM, "4")}

    later = add_activity(platform, "Grundlagenkurs (Gruppe B)")
    calls = {k: platform.stats()[k] for k in ("score_posts", "token_requests", "lineitem_requests")}
    lea.open(later)  # the launch itself queues what this activity's grade item lacks
    assert {k: platform.stats()[k] for k in calls} == calls  # queued only: the launch asked the LMS nothing
    deliver_all(app)
    after = grades(platform)
    assert columns(platform) == [COURSE_ITEM, "Grundlagenkurs (Gruppe B)"]
    got, first = after[("Grundlagenkurs (Gruppe B)", "4")], after[(COURSE_ITEM, "4")]
    assert (got["resultScore"], got["activityProgress"], got["comment"]) == (
        first["resultScore"],
        first["activityProgress"],
        first["comment"],
    )
    assert got["activityProgress"] == "InProgress"

    lea.open(later)  # nothing new to send: the platform gets nothing again
    deliver_all(app)
    assert grades(platform)[("Grundlagenkurs (Gruppe B)", "4")]["history_count"] == 1


def test_module_and_course_activities_each_get_the_result_when_the_learner_opens_them(
    app: Flask, platform: Lms
) -> None:
    lea = Browser(platform, "4")  # works in the whole-course activity before the module is placed
    lea.open(1)
    lea.quiz(app, "modul-b", right=1)
    deliver_all(app)

    teacher = Browser(platform, "3")
    picker = teacher.http.get(f"{platform.url}/deep-linking", params={"tool": "1", "user": "3"}, timeout=10)
    [frame] = iframes(picker)
    chosen = submit(teacher.http, teacher.http.get(frame, timeout=10), "id_token")
    returned = submit(teacher.http, submit(teacher.http, chosen, "item", item=["modul-b"]), "JWT")
    assert returned.status_code == 200, returned.text[:500]
    [placed] = [
        a for a in platform.get("/api/activities") if (a.get("custom") or {}).get("module") == "modul-b"
    ]
    module_item = placed["line_items"][0]["label"]

    ben = Browser(platform, "5")
    ben.open(placed["id"])
    ben.quiz(app, "modul-b")
    deliver_all(app)
    assert set(grades(platform)) == {(COURSE_ITEM, "4"), (module_item, "5")}
    assert grades(platform)[(module_item, "5")]["resultScore"] == 100.0

    lea.open(placed["id"])  # the module activity placed after Lea's result existed
    ben.open(1)  # the whole-course activity, opened for the first time
    deliver_all(app)
    held = grades(platform)
    assert set(held) == {(COURSE_ITEM, "4"), (module_item, "4"), (module_item, "5"), (COURSE_ITEM, "5")}
    assert 0 < held[(module_item, "4")]["resultScore"] < 100.0
    assert held[(COURSE_ITEM, "5")]["activityProgress"] == "InProgress"
    assert held[(COURSE_ITEM, "5")]["comment"] == "0 von 2 Modulen abgeschlossen"
    assert columns(platform) == [COURSE_ITEM, module_item]  # nothing created through the container


def test_module_grade_items_only_where_the_teacher_asked_for_them(app: Flask, platform: Lms) -> None:
    chosen = add_activity(platform, "Grundlagenkurs mit Modulnoten", custom={"module_grade_items": "true"})
    lea = Browser(platform, "4")
    lea.open(1)
    lea.quiz(app, "modul-a")
    deliver_all(app)
    assert columns(platform) == [COURSE_ITEM, "Grundlagenkurs mit Modulnoten"]  # the activities' own items

    lea.open(chosen)
    lea.quiz(app, "modul-b", right=1)
    deliver_all(app)
    assert columns(platform) == [COURSE_ITEM, "Grundlagenkurs mit Modulnoten", "1. Modul a", "2. Modul b"]
    held = grades(platform)
    assert held[("1. Modul a", "4")]["resultScore"] == 100.0
    assert 0 < held[("2. Modul b", "4")]["resultScore"] < 100.0
    assert held[("Grundlagenkurs mit Modulnoten", "4")]["comment"] == held[(COURSE_ITEM, "4")]["comment"]


def test_no_grade_item_and_no_grade_where_grades_are_off(app: Flask, platform: Lms) -> None:
    off = add_activity(
        platform, "Grundlagenkurs ohne Bewertung", accept_grades=False, custom={"module_grade_items": "true"}
    )
    lea = Browser(platform, "4")
    lea.open(off)
    lea.quiz(app, "modul-a")
    lea.quiz(app, "modul-b")
    deliver_all(app)
    assert columns(platform) == [COURSE_ITEM]  # the seeded activity's own item, nothing new
    assert platform.scores() == []
    assert platform.stats()["score_posts"] == 0

    teacher = Browser(platform, "3")
    book = teacher.open(off)
    assert "Diese Aktivität erhält keine Bewertungen." in book.text
    assert "Diese Aktivität erhält keine Bewertungen." not in teacher.open(1).text


def test_a_grade_item_deleted_in_the_lms_stays_deleted_until_the_teacher_creates_it_again(
    app: Flask, platform: Lms
) -> None:
    chosen = add_activity(platform, "Grundlagenkurs mit Modulnoten", custom={"module_grade_items": "true"})
    lea = Browser(platform, "4")
    lea.open(chosen)
    lea.quiz(app, "modul-a", right=1)
    deliver_all(app)
    [module_item] = [i for i in platform.get("/api/lineitems") if i["label"] == "1. Modul a"]
    deleted = platform.http.delete(f"{platform.url}/api/lineitems/{module_item['id']}", timeout=10)
    assert deleted.status_code == 204

    lea.quiz(app, "modul-a")  # a better score for the deleted item: 404
    deliver_all(app)
    assert columns(platform) == [COURSE_ITEM, "Grundlagenkurs mit Modulnoten"]  # not re-created
    ben = Browser(platform, "5")
    ben.open(chosen)
    ben.quiz(app, "modul-a")  # another learner's score does not bring it back either
    deliver_all(app)
    assert columns(platform) == [COURSE_ITEM, "Grundlagenkurs mit Modulnoten"]

    teacher = Browser(platform, "3")
    book = teacher.open(chosen)
    assert "Bewertungsaspekt im LMS gelöscht" in book.text
    assert "1 Note wurde nicht übermittelt" in book.text  # Lea's; Ben's was never queued for the deleted item
    assert outbox_counts(app) == {"waiting": 0, "failed": 0, "removed": 1}

    teacher.post_form("lehrende/spalten-neu-anlegen")
    deliver_all(app)
    assert columns(platform) == [COURSE_ITEM, "Grundlagenkurs mit Modulnoten", "1. Modul a"]
    assert grades(platform)[("1. Modul a", "4")]["resultScore"] == 100.0
    assert outbox_counts(app) == {"waiting": 0, "failed": 0, "removed": 0}
    assert "fehlt im LMS" in teacher.open(chosen).text  # Ben's module result: the teacher sends it
    teacher.post_form("lehrende/noten-senden")
    deliver_all(app)
    assert grades(platform)[("1. Modul a", "5")]["resultScore"] == 100.0


def outbox_counts(app: Flask) -> dict[str, int]:
    """What `grades status` and the operator's health page say; they must agree."""
    out = app.test_cli_runner().invoke(args=["grades", "status"])
    assert out.exit_code == 0, out.output
    status = dict(re.findall(r"^\s*(\w+): (\d+)$", out.output, re.M))
    health = signed_in_operator(app).get("/admin/health").text
    shown = {
        key: int(re.search(rf"<dt>{label}</dt>\s*<dd>(?:<a [^>]*>)?(\d+)", health).group(1))  # type: ignore[union-attr]
        for key, label in (
            ("waiting", "Wartende Bewertungen"),
            ("failed", "Fehlgeschlagene Bewertungen"),
            ("removed", "Bewertungen für im LMS gelöschte Bewertungsaspekte"),
        )
    }
    assert shown == {
        "waiting": int(status["pending"]) + int(status["sending"]),
        "failed": int(status["failed"]),
        "removed": int(status["removed"]),
    }, (shown, out.output)
    return shown


def test_the_teachers_send_fills_an_activity_the_learner_has_not_opened(app: Flask, platform: Lms) -> None:
    lea = Browser(platform, "4")
    lea.open(1)
    lea.quiz(app, "modul-a")
    deliver_all(app)
    later = add_activity(platform, "Grundlagenkurs (Gruppe B)")

    teacher = Browser(platform, "3")
    book = teacher.open(later)
    assert "fehlt im LMS" in book.text
    teacher.post_form("lehrende/noten-senden")
    deliver_all(app)
    held = grades(platform)
    assert set(held) == {(COURSE_ITEM, "4"), ("Grundlagenkurs (Gruppe B)", "4")}
    assert held[("Grundlagenkurs (Gruppe B)", "4")]["resultScore"] == held[(COURSE_ITEM, "4")]["resultScore"]
    assert "fehlt im LMS" not in teacher.open(later).text


def test_every_delivery_attempt_logs_one_line_and_the_operator_sees_the_last_ones(
    app: Flask, platform: Lms, caplog: pytest.LogCaptureFixture
) -> None:
    lea = Browser(platform, "4")
    lea.open(1)
    platform.faults({"scores": {"status": 503, "count": 1}})  # the first attempt meets an outage
    lea.quiz(app, "modul-a")
    with caplog.at_level(logging.INFO, logger="lti_tool.grading"):
        deliver_all(app)
    lines = [r for r in caplog.records if r.getMessage().startswith("grade delivery:")]
    assert [r.levelno for r in lines] == [logging.INFO, logging.INFO]
    item = platform.activity_lineitem(1)
    with session_scope(app) as s:
        user_id = s.scalars(select(User.id).where(User.sub == "4")).one()
        platform_id = s.scalars(select(User.platform_id).where(User.sub == "4")).one()
    first, second = (r.getMessage() for r in lines)
    for line in (first, second):
        assert f"platform={platform_id} lineitem={item} user={user_id} " in line
        assert re.search(r"latency_ms=\d+", line), line
    assert "outcome=retry status=503" in first and "retry_in=" in first
    assert "outcome=sent status=200" in second
    assert not any("Bearer" in r.getMessage() or "eyJ" in r.getMessage() for r in caplog.records)

    page = signed_in_operator(app).get("/admin/grades").text
    assert "Letzte Zustellungen an Demo-LMS" in page
    recent = page.split("Letzte Zustellungen an Demo-LMS", 1)[1].split("</table>", 1)[0]
    assert f"<code>{item}</code>" in recent and "<td>200</td>" in recent and " ms</td>" in recent


def signed_in_operator(app: Flask) -> AdminClient:
    with session_scope(app, write=True) as s:
        if s.scalars(select(Operator).where(Operator.username == USERNAME)).first() is None:
            create_operator(s, USERNAME, PASSWORD)
    operator = AdminClient(app)
    assert operator.login().status_code == 303
    return operator

"""From real launches to the gradebook: learners and a teacher launch the tool from the demo LMS, the launch
stores what grading needs, progress is recorded, the worker delivers, the LMS shows the grades."""

from __future__ import annotations

from typing import Any

import requests
from flask import Flask
from sqlalchemy import func, select

from lti_tool import progress
from lti_tool.course.catalog import get_catalog
from lti_tool.db import session_scope
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.models import (
    Context,
    GradeOutbox,
    LinkLaunch,
    Membership,
    ResourceLink,
    User,
)

from ..course.learner import attempt_id, quiz_answers, work
from ..forms import csrf_token, iframes, submit
from .conftest import ALL_SCOPES, CLIENT_ID, COURSE, DEPLOYMENT_ID, Lms, deliver_all, launch_via_lms


def test_launched_learners_grades_reach_the_lms_and_the_teachers_do_not(app: Flask, lms: Lms) -> None:
    with session_scope(app, write=True) as s:
        add_platform(
            s,
            PlatformSpec(lms.url, CLIENT_ID, lms.url + "/auth", lms.token_url, lms.url + "/jwks", "Demo-LMS"),
            DEPLOYMENT_ID,
        )
    for user in ("4", "5", "3"):
        launch_via_lms(lms, activity=1, user=user)

    with session_scope(app) as s:
        context = s.scalars(select(Context)).one()
        link = s.scalars(select(ResourceLink)).one()
        assert context.lineitems_url == lms.lineitems_url
        assert sorted(context.ags_scopes or []) == sorted(ALL_SCOPES)
        assert link.lineitem_url == lms.activity_lineitem(1) and link.module_id is None
        users = dict(s.execute(select(User.sub, User.id)).all())
        assert len(s.scalars(select(LinkLaunch)).all()) == 3
        teacher = s.scalars(select(Membership).where(Membership.user_id == users["3"])).one()
        assert teacher.is_instructor
        context_id, link_id = context.id, link.id
        platform_id = s.scalars(select(User.platform_id).where(User.sub == "4")).one()

    course = get_catalog(app).get(COURSE)
    assert course is not None
    for sub, completed in (("4", True), ("5", False), ("3", True)):
        learner = progress.Learner(users[sub], context_id, platform_id, link_id)
        work(app, learner, course, "modul-a", score=1.0 if completed else 0.4, completed=completed)
    deliver_all(app)

    held = {(r["label"], r["user_id"]): r for r in lms.scores()}
    assert set(held) == {  # one column: the activity's own grade item
        ("Grundlagenkurs Kommunales Nachhaltigkeitsmanagement", "4"),
        ("Grundlagenkurs Kommunales Nachhaltigkeitsmanagement", "5"),
    }
    assert held[("Grundlagenkurs Kommunales Nachhaltigkeitsmanagement", "4")]["resultScore"] == 50.0
    assert held[("Grundlagenkurs Kommunales Nachhaltigkeitsmanagement", "5")]["resultScore"] == 0.0


def launch_page(browser: requests.Session, page_url: str, params: dict[str, Any]) -> requests.Response:
    """The demo LMS's activity page: its iframe -> the auto-posting form -> the tool."""
    lms_page = browser.get(page_url, params=params)
    [frame] = iframes(lms_page)
    return submit(browser, browser.get(frame), "id_token")


def take_quiz(app: Flask, browser: requests.Session, landing: requests.Response, module_id: str) -> None:
    base = landing.url.split("/s/")[0] + "/s/" + landing.url.split("/s/")[1].split("/")[0] + "/"
    page = browser.get(f"{base}m/{module_id}/quiz")
    assert page.status_code == 200, page.text[:500]
    csrf = csrf_token(page.text)
    answers = quiz_answers(app, module_id, attempt_id(page.text))
    done = browser.post(f"{base}m/{module_id}/quiz", data=[*answers, ("csrf_token", csrf)])
    assert done.status_code == 200, done.text[:500]


def test_quizzes_taken_in_the_tool_reach_the_lms_gradebook(app: Flask, lms: Lms) -> None:
    """Learner pages -> progress -> outbox (same transaction) -> worker -> the LMS; a module placed through
    Deep Linking gets its score in its own column, the whole-course activity the course result."""
    with session_scope(app, write=True) as s:
        add_platform(
            s,
            PlatformSpec(lms.url, CLIENT_ID, lms.url + "/auth", lms.token_url, lms.url + "/jwks", "Demo-LMS"),
            DEPLOYMENT_ID,
        )
    # The teacher places modul-b as its own activity.
    teacher = requests.Session()
    picker = launch_page(teacher, lms.url + "/deep-linking", {"tool": "1", "user": "3"})
    returned = submit(teacher, submit(teacher, picker, "item", item=["modul-b"]), "JWT")
    assert returned.status_code == 200, returned.text[:500]
    [placed] = [a for a in lms.get("/api/activities") if (a.get("custom") or {}).get("module") == "modul-b"]

    lea = requests.Session()
    take_quiz(app, lea, launch_page(lea, lms.url + "/launch/1", {"user": "4"}), "modul-a")
    ben = requests.Session()
    take_quiz(app, ben, launch_page(ben, f"{lms.url}/launch/{placed['id']}", {"user": "5"}), "modul-b")
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(GradeOutbox)) == 2  # queued with the quiz results
    deliver_all(app)

    held = {(r["activity_title"] or r["label"], r["user_id"]): r for r in lms.scores()}
    course_title = "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement"
    assert set(held) == {(course_title, "4"), (placed["title"], "5")}
    assert held[(placed["title"], "5")]["resultScore"] == 100.0
    assert held[(course_title, "4")]["activityProgress"] == "InProgress"
    assert lms.stats()["lineitem_requests"] == 0  # no column made through the container

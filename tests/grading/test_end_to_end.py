"""From real launches to the gradebook: learners and a teacher launch the tool from the demo LMS, the launch
stores what grading needs, progress is recorded, the worker delivers, the LMS shows the grades."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from lti_tool.course.catalog import get_catalog
from lti_tool.db import insert_for, session_scope
from lti_tool.grading import enqueue_grades
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.models import Context, LinkLaunch, Membership, ModuleProgress, ResourceLink, User, utcnow

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
        context_id = context.id

    course = get_catalog(app).get(COURSE)
    assert course is not None
    for sub, score in (("4", 1.0), ("5", 0.5), ("3", 1.0)):
        with session_scope(app, write=True) as s:
            s.execute(
                insert_for(s)(ModuleProgress).values(
                    user_id=users[sub],
                    context_id=context_id,
                    course_id=COURSE,
                    module_id="modul-a",
                    lessons_seen=2,
                    attempts=1,
                    best_score=score,
                    completed_at=utcnow() if score == 1.0 else None,
                )
            )
            enqueue_grades(
                s, user_id=users[sub], context_id=context_id, course=course, changed_module_ids=["modul-a"]
            )
    deliver_all(app)

    held = {(r["label"], r["user_id"]): r for r in lms.scores()}
    assert set(held) == {
        ("Grundlagenkurs Kommunales Nachhaltigkeitsmanagement", "4"),
        ("Grundlagenkurs Kommunales Nachhaltigkeitsmanagement", "5"),
        ("1. Modul a", "4"),
        ("1. Modul a", "5"),
    }
    assert held[("1. Modul a", "4")]["activityProgress"] == "Completed"
    assert held[("1. Modul a", "5")]["resultScore"] == 50.0
    assert held[("Grundlagenkurs Kommunales Nachhaltigkeitsmanagement", "4")]["resultScore"] == 50.0
    assert held[("Grundlagenkurs Kommunales Nachhaltigkeitsmanagement", "5")]["resultScore"] == 0.0

"""A learner with a bit of everything, built through the tool's own services (launches, progress, a review, the
certificate, a roster refresh, the grade worker's steps: tests/services.py), with values that are easy to look for
in pages and exports."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import delete, inspect, select
from sqlalchemy.orm import Session

from lti_tool import progress
from lti_tool.certificate.service import issue
from lti_tool.course.catalog import get_catalog
from lti_tool.db import session_scope
from lti_tool.gradebook.roster import Member
from lti_tool.grading.outbox import RowState
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.models import Certificate, Platform, ToolKey, User

from ..course.learner import answers, work
from ..services import INSTRUCTOR_ROLE, LEARNER_ROLE, add_to_roster, launch, take_grades

LINEITEM = "https://lms.example/lineitems/1"


@dataclass(frozen=True)
class Deployed:
    """A registered platform's ids: `id` is the deployment's primary key."""

    id: int
    platform_id: int


def platform(app: Flask, issuer: str, client_id: str = "client-1", deployment_id: str = "1") -> Deployed:
    """A platform registered from the command line, with one active deployment."""
    spec = PlatformSpec(
        issuer=issuer,
        client_id=client_id,
        auth_login_url=f"{issuer}/mod/lti/auth.php",
        auth_token_url=f"{issuer}/mod/lti/token.php",
        jwks_url=f"{issuer}/mod/lti/certs.php",
        name=f"Moodle {urlsplit(issuer).hostname}",
    )
    with session_scope(app, write=True) as s:
        registered, deployment = add_platform(s, spec, deployment_id)
        return Deployed(deployment.id, registered.id)


@dataclass(frozen=True)
class Seeded:
    user_id: int
    platform_id: int
    context_id: int
    sub: str
    name: str
    email: str
    practice_text: str
    feedback: str
    answers: dict[str, list[str]]
    certificate_code: str
    session_token: str
    failed_grade_id: int


def learner(
    app: Flask,
    deployment: Deployed,
    sub: str,
    *,
    name: str = "Erika Mustermann",
    context_id: str = "kurs-42",
    context_title: str = "NaMa Grundlagen Düren",
    reviewer_id: int | None = None,
) -> Seeded:
    """A learner who did the whole course, as the tool records it: launched the activity (still without a grade
    column), is on the course's roster, completed module a (its practice text reviewed with feedback by
    `reviewer_id`, by default the context's teacher, launched for it), launched again once the activity had a
    grade column (the course grade of 50 queued and sent), completed module b (the course grade of 100 queued, and
    refused by the platform: HTTP 400) and has the certificate."""
    course = get_catalog(app).get("grundlagenkurs")
    assert course is not None
    module_a = course.module("modul-a")
    assert module_a is not None
    tag = secrets.token_hex(3)
    email = f"{sub}@example.org"
    practice_text = f"Praxistext {tag}: Unsere Kommune plant ein Klimaschutzkonzept."
    feedback = f"Rückmeldung {tag}: gut begründet."
    context = {"id": context_id, "title": context_title}
    activity = {"id": "activity-1", "title": "Grundlagenkurs"}
    if reviewer_id is None:
        teacher = launch(
            app,
            deployment.id,
            f"teacher-{context_id}",
            context=context,
            link=activity,
            roles=(INSTRUCTOR_ROLE,),
            name="Tanja Lehrerin",
        )
        reviewer_id = teacher.user_id
    first = launch(app, deployment.id, sub, context=context, link=activity, name=name, email=email)
    add_to_roster(app, first.context_id, Member(sub, name, email, [LEARNER_ROLE], "Active", True))
    me = progress.Learner(first.user_id, first.context_id, deployment.platform_id, first.resource_link_id)
    work(app, me, course, "modul-a", score=1.0, completed=True, text=practice_text)
    with session_scope(app, write=True) as s:
        progress.review_practice(s, me, course, module_a, reviewer_id=reviewer_id, feedback=feedback)
    again = launch(
        app, deployment.id, sub, context=context, link=activity, name=name, email=email, lineitem=LINEITEM
    )
    assert len(take_grades(app, me.user_id, RowState.SENT)) == 1
    work(app, me, course, "modul-b", score=1.0, completed=True)
    with session_scope(app, write=True) as s:
        certificate = issue(s, user=s.get_one(User, me.user_id), context_id=me.context_id, course=course)
        assert isinstance(certificate, Certificate)
        code = certificate.code
    [failed] = take_grades(app, me.user_id, RowState.FAILED)
    return Seeded(
        user_id=me.user_id,
        platform_id=deployment.platform_id,
        context_id=me.context_id,
        sub=sub,
        name=name,
        email=email,
        practice_text=practice_text,
        feedback=feedback,
        answers=answers(module_a),
        certificate_code=code,
        session_token=again.session_token,
        failed_grade_id=failed,
    )


def started(
    app: Flask,
    deployment: Deployed,
    sub: str,
    *,
    name: str | None = None,
    email: str | None = None,
    context_id: str = "kurs-42",
    context_title: str = "NaMa Grundlagen Düren",
) -> int:
    """Someone who launched the graded activity and took a first quiz (one answer of five right): the course grade
    it queued waits for the worker. Returns the user id."""
    course = get_catalog(app).get("grundlagenkurs")
    assert course is not None
    first = launch(
        app,
        deployment.id,
        sub,
        context={"id": context_id, "title": context_title},
        link={"id": "activity-1", "title": "Grundlagenkurs"},
        lineitem=LINEITEM,
        name=name,
        email=email,
    )
    me = progress.Learner(first.user_id, first.context_id, deployment.platform_id, first.resource_link_id)
    work(app, me, course, "modul-a", score=0.2)
    return first.user_id


@contextlib.contextmanager
def keys_restored(app: Flask) -> Iterator[None]:
    """Put the tool keys back as they were: on PostgreSQL they outlive a test (tests/conftest.py keeps them), and
    a rotation would leave extra retired keys in the JWKS that later tests compare with."""
    with session_scope(app) as s:
        saved = [
            {c.key: getattr(k, c.key) for c in inspect(ToolKey).column_attrs}
            for k in s.scalars(select(ToolKey))
        ]
    try:
        yield
    finally:
        with session_scope(app, write=True) as s:
            s.execute(delete(ToolKey))
            s.add_all(ToolKey(**row) for row in saved)


def platform_row(s: Session, platform_id: int) -> Platform:
    found = s.get(Platform, platform_id)
    assert found is not None
    return found

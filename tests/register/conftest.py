"""Certification-register fixtures: learners who complete the fixture course through the progress service (so the
register's entries are written as in production), an office account and an operator, each in a browser-like
client (tests/admin/conftest.py's AdminClient)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool import progress
from lti_tool.admin.accounts import Role, create_operator
from lti_tool.db import session_scope
from lti_tool.models import Context, RegisterEntry, ToolSession, User
from lti_tool.progress import Learner as ProgressLearner

from ..admin.conftest import AdminClient
from ..course.learner import Learner, context_claim, course, module
from ..peer import Launcher, claim

OFFICE, OFFICE_PASSWORD = "pruefstelle", "Zertifizierung im Rheinland 2026!"
OPERATOR, OPERATOR_PASSWORD = "betrieb", "correct horse battery staple"
TEXT = "Unsere Kommune hat einen Nachhaltigkeitsbeirat."


@dataclass(frozen=True)
class Completed:
    learner: Learner  # the learner's own session (for the certificate page)
    entry_id: int
    user_id: int
    sub: str


def complete(
    app: Flask,
    launcher: Launcher,
    sub: str,
    *,
    name: str = "Lea Schneider",
    email: str | None = None,
    context: str = "course-1",
    context_title: str = "NaMa NRW Demo",
    link: str = "rl-1",
    link_title: str = "Grundlagenkurs",
) -> Completed:
    """Launch `sub` and complete every module of the fixture course through the progress service."""
    given, _, family = name.partition(" ")
    learner = Learner.launch(
        launcher,
        sub=sub,
        name=name,
        given_name=given,
        family_name=family,
        email=email or f"{sub}@example.org",
        **context_claim(context, context_title),
        **claim("resource_link", {"id": link, "title": link_title}),
    )
    with session_scope(app) as s:
        row = s.execute(
            select(
                ToolSession.user_id, ToolSession.context_id, ToolSession.resource_link_id, User.platform_id
            )
            .join(User, User.id == ToolSession.user_id)
            .join(Context, Context.id == ToolSession.context_id)
            .where(User.sub == sub, Context.context_id == context)
            .order_by(ToolSession.id.desc())
        ).first()
        assert row is not None
    who = ProgressLearner(user_id=row[0], context_id=row[1], platform_id=row[3], resource_link_id=row[2])
    crs = course(app)
    for module_id in ("modul-a", "modul-b"):
        mod = module(app, module_id)
        with session_scope(app, write=True) as s:
            for lesson in mod.lessons:
                progress.record_lesson_view(s, who, crs, mod, lesson.id)
        with session_scope(app, write=True) as s:
            attempt = progress.start_quiz_attempt(s, who, crs, mod)
            answers = {
                q.id: list(q.correct_order) if q.kind == "ordering" else sorted(q.correct_option_ids)
                for q in mod.quiz.questions
                if attempt.question_ids is None or q.id in attempt.question_ids
            }
            progress.submit_quiz_attempt(s, who, crs, mod, attempt.public_id, answers)
        with session_scope(app, write=True) as s:
            progress.save_practice(s, who, crs, mod, TEXT)
    with session_scope(app) as s:
        entry_id = s.scalars(
            select(RegisterEntry.id).where(
                RegisterEntry.user_id == who.user_id, RegisterEntry.context_id == who.context_id
            )
        ).one()
    return Completed(learner=learner, entry_id=entry_id, user_id=who.user_id, sub=sub)


def issue_certificate(done: Completed) -> str:
    """The learner opens the certificate page (which issues it); its code."""
    page = done.learner.get("bescheinigung/")
    assert page.status_code == 200, page.text[:500]
    import re

    found = re.search(r"<code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>", page.text)
    assert found, page.text[:2000]
    return found.group(1)


def signed_in(app: Flask, username: str, password: str) -> AdminClient:
    browser = AdminClient(app)
    resp = browser.login(username, password)
    assert resp.status_code == 303, resp.text[:500]
    return browser


@pytest.fixture
def accounts(app: Flask) -> None:
    with session_scope(app, write=True) as s:
        create_operator(s, OFFICE, OFFICE_PASSWORD, Role.OFFICE)
        create_operator(s, OPERATOR, OPERATOR_PASSWORD, Role.OPERATOR)


@pytest.fixture
def office(app: Flask, accounts: None) -> AdminClient:
    return signed_in(app, OFFICE, OFFICE_PASSWORD)


@pytest.fixture
def operator_client(app: Flask, accounts: None) -> AdminClient:
    return signed_in(app, OPERATOR, OPERATOR_PASSWORD)


def text_of(resp: Any) -> str:
    return str(resp.get_data(as_text=True)).replace("\u00ad", "")

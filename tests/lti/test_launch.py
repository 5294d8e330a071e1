"""End-to-end launches over HTTP: OIDC login -> platform-signed id_token -> launch -> first page."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from lti_tool.db import session_scope
from lti_tool.models import Context, ListedLearner, Membership, ResourceLink, ToolSession, User

from ..peer import DROP, INSTRUCTOR, Launcher, claim


def count(app: Flask, model: type) -> int:
    with session_scope(app) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_learner_launch_lands_on_course_start(app: Flask, launcher: Launcher) -> None:
    page = launcher.launch_and_follow()
    assert page.status_code == 200
    assert "Testkurs Nachhaltigkeit" in page.text
    assert "Lea Schneider" in page.text
    assert "Modul a" in page.text
    with session_scope(app) as s:
        user = s.scalars(select(User)).one()
        assert (user.sub, user.email) == ("user-1", "lea.schneider@example.org")
        ctx = s.scalars(select(Context)).one()
        assert ctx.context_id == "course-1"
        link = s.scalars(select(ResourceLink)).one()
        assert (link.resource_link_id, link.course_id, link.module_id) == ("rl-1", "grundlagenkurs", None)
        membership = s.scalars(select(Membership)).one()
        assert membership.is_instructor is False
        assert s.scalars(select(ToolSession)).one().locale == "de"


def test_a_launch_without_a_name_lists_the_learner_and_a_later_one_names_them(
    app: Flask, launcher: Launcher
) -> None:
    """A launch that sends no name lists its person through the ORM session the launch's write transaction makes
    for it (provision's `relist_person`), committed with the launch's rows; a later launch with a name lists the
    name (with the launch's own statements)."""
    nameless = {"name": DROP, "given_name": DROP, "family_name": DROP, "email": DROP}
    assert launcher.launch_and_follow(**nameless).status_code == 200
    with session_scope(app) as s:
        listed = s.scalars(select(ListedLearner)).one()
        assert (listed.sub, listed.name, listed.user_id) == ("user-1", None, s.scalars(select(User.id)).one())
    assert launcher.launch_and_follow().status_code == 200
    with session_scope(app) as s:
        assert s.scalars(select(ListedLearner.name)).one() == "Lea Schneider"
    assert count(app, ToolSession) == 2


def test_instructor_lands_on_instructor_page(app: Flask, launcher: Launcher) -> None:
    page = launcher.launch_and_follow(**claim("roles", INSTRUCTOR))
    assert page.status_code == 200
    assert "/lehrende/" in page.url
    assert count(app, Membership) == 1


def test_session_pages_may_be_framed_by_their_platform_only(
    launcher: Launcher, other_launcher: Launcher
) -> None:
    page = launcher.launch_and_follow()
    csp = page.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {launcher.peer.issuer};" in csp
    assert other_launcher.peer.issuer not in csp  # another registered platform is not named
    refused = other_launcher.launch(**claim("version", "1.1"))
    assert refused.status_code == 400
    refused_csp = refused.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {other_launcher.peer.issuer};" in refused_csp
    assert launcher.peer.issuer not in refused_csp

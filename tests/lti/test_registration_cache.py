"""Platforms and deployments are kept per process (lti/toolconf.py RegistrationCache): what an operator changes
reaches the next launch.

Each test first launches once, so the platform and the deployment are in the cache when the change is made.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import update

from lti_tool.db import session_scope
from lti_tool.lti.toolconf import registration_cache, registrations_changed
from lti_tool.models import Deployment, Platform

from ..conftest import CLIENT_ID, DEPLOYMENT_ID
from ..peer import Launcher


def test_a_launch_reads_platform_and_deployment_once_per_process(app: Flask, launcher: Launcher) -> None:
    assert launcher.launch_and_follow().status_code == 200
    cache = registration_cache(app)
    platform = cache.platform((launcher.peer.issuer, CLIENT_ID))
    deployment = cache.deployment((launcher.peer.issuer, CLIENT_ID, DEPLOYMENT_ID))
    assert platform is not None and platform.client_id == CLIENT_ID
    assert deployment is not None and deployment.platform_id == platform.id


def test_deactivating_in_this_process_refuses_the_next_launch(
    app: Flask, launcher: Launcher, runner: FlaskCliRunner
) -> None:
    assert launcher.launch_and_follow().status_code == 200
    args = ["platform", "deactivate", "--issuer", launcher.peer.issuer, "--client-id", CLIENT_ID]
    result = runner.invoke(args=[*args, "--deployment-id", DEPLOYMENT_ID])
    assert result.exit_code == 0, result.output
    resp = launcher.launch()
    assert resp.status_code == 403 and "deployment_inactive" in resp.text


def test_admin_deactivation_is_seen_at_once(app: Flask, launcher: Launcher) -> None:
    """The operator area commits, then calls registrations_changed (as the CLI and dynamic registration do)."""
    assert launcher.launch_and_follow().status_code == 200
    with session_scope(app, write=True) as s:
        s.execute(update(Deployment).values(active=False))
    with app.app_context():
        registrations_changed(app)
    resp = launcher.launch()
    assert resp.status_code == 403 and "deployment_inactive" in resp.text


def test_another_process_deactivating_ends_the_sessions_at_once(app: Flask, launcher: Launcher) -> None:
    """A change made elsewhere (the CLI of another process) reaches this process's launches within the cache's
    time; the sessions of the deployment end at once (every session request checks the deployment)."""
    page = launcher.launch_and_follow()
    assert page.status_code == 200
    with session_scope(app, write=True) as s:
        s.execute(update(Deployment).values(active=False))
    assert launcher.browser.get(page.url).status_code in (401, 403, 410)


def test_a_new_platform_and_an_approved_deployment_work_at_once(app: Flask, launcher: Launcher) -> None:
    """Only what was found (and found active) is kept: nothing to forget when something is added."""
    claims: dict[str, Any] = {"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "dep-later"}
    resp = launcher.launch(**claims)
    assert resp.status_code == 403 and "deployment_unknown" in resp.text
    with session_scope(app, write=True) as s:
        s.execute(update(Deployment).where(Deployment.deployment_id == "dep-later").values(active=True))
    assert launcher.launch_and_follow(**claims).status_code == 200


@pytest.mark.parametrize("field", ["jwks_url", "auth_login_url"])
def test_platform_changes_apply_after_registrations_changed(
    app: Flask, launcher: Launcher, field: str
) -> None:
    assert launcher.launch_and_follow().status_code == 200
    with session_scope(app, write=True) as s:
        s.execute(update(Platform).values({field: "https://elsewhere.example/x"}))
    with app.app_context():
        registrations_changed(app)
    platform = None
    with app.test_request_context():
        from lti_tool.db import session as db_session
        from lti_tool.lti.toolconf import DbToolConf

        platform = DbToolConf(db_session(), registration_cache(app)).platform(launcher.peer.issuer, CLIENT_ID)
    assert platform is not None and getattr(platform, field) == "https://elsewhere.example/x"

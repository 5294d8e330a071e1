"""LTI Dynamic Registration against a Moodle-like platform endpoint, from an operator-issued one-time link."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.lti.registration import issue_link
from lti_tool.models import Deployment, Platform, RegistrationLink

from ..peer import ServerThread
from .moodle_registrar import PLATFORM_CONF, TOOL_CONF, MoodleRegistrar


@pytest.fixture
def moodle() -> Iterator[MoodleRegistrar]:
    registrar = MoodleRegistrar()
    yield registrar
    registrar.stop()


def new_link(runner: FlaskCliRunner, tool_url: str) -> str:
    result = runner.invoke(args=["platform", "registration-link", "--expires", "1h", "--base-url", tool_url])
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[0]
    assert url.startswith(tool_url + "/lti/register?t=")
    return parse_qs(urlsplit(url).query)["t"][0]


def register(
    tool_url: str, token: str, moodle: MoodleRegistrar, registration_token: str | None = None
) -> requests.Response:
    return requests.get(
        tool_url + "/lti/register",
        params={
            "t": token,
            "openid_configuration": moodle.openid_configuration,
            "registration_token": registration_token or moodle.registration_token(),
        },
    )


def test_dynamic_registration_like_moodle(
    app: Flask, tool_server: ServerThread, runner: FlaskCliRunner, moodle: MoodleRegistrar
) -> None:
    token = new_link(runner, tool_server.url)
    resp = register(tool_server.url, token, moodle)
    assert resp.status_code == 200, resp.text[:800]
    assert "lti-close.js" in resp.text and "Registrierung abgeschlossen" in resp.text
    close_js = requests.get(tool_server.url + "/static/lti-close.js").text
    assert "org.imsglobal.lti.close" in close_js

    [tool] = moodle.tools
    sent = tool["payload"]
    assert sent["initiate_login_uri"] == tool_server.url + "/lti/login"
    assert sent["redirect_uris"] == [tool_server.url + "/lti/launch"]
    assert sent["jwks_uri"] == tool_server.url + "/.well-known/jwks.json"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert "id_token" in sent["response_types"]
    assert set(sent["grant_types"]) >= {"implicit", "client_credentials"}
    conf = sent[TOOL_CONF]
    assert conf["domain"] == urlsplit(tool_server.url).netloc
    assert conf["target_link_uri"] == tool_server.url + "/lti/launch"
    assert any(m["type"] == "LtiDeepLinkingRequest" for m in conf["messages"])
    assert {"name", "email"} <= set(conf["claims"])
    scopes = sent["scope"].split()
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in scopes
    assert "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly" in scopes

    with session_scope(app) as s:
        platform = s.scalars(select(Platform)).one()
        assert platform.issuer == moodle.wwwroot
        assert platform.client_id == tool["client_id"]
        assert platform.auth_login_url == moodle.wwwroot + "/mod/lti/auth.php"
        assert platform.auth_token_url == moodle.wwwroot + "/mod/lti/token.php"
        assert platform.jwks_url == moodle.wwwroot + "/mod/lti/certs.php"
        assert platform.registered_via == "dynamic"
        deployment = s.scalars(select(Deployment)).one()
        assert (deployment.deployment_id, deployment.active) == ("1", True)
        link = s.scalars(select(RegistrationLink)).one()
        assert link.used_at is not None and link.platform_id == platform.id


def test_a_used_link_is_refused(
    tool_server: ServerThread, runner: FlaskCliRunner, moodle: MoodleRegistrar
) -> None:
    token = new_link(runner, tool_server.url)
    assert register(tool_server.url, token, moodle).status_code == 200
    again = register(tool_server.url, token, moodle)
    assert again.status_code == 410 and "registration_link_used" in again.text
    assert len(moodle.tools) == 1


def test_an_expired_link_is_refused(app: Flask, tool_server: ServerThread, moodle: MoodleRegistrar) -> None:
    with session_scope(app, write=True) as s:
        token, _ = issue_link(s, -1)
    resp = register(tool_server.url, token, moodle)
    assert resp.status_code == 410 and "registration_link_expired" in resp.text
    assert moodle.tools == [] and moodle.config_requests == 0


def test_unknown_or_missing_link(tool_server: ServerThread, moodle: MoodleRegistrar) -> None:
    resp = register(tool_server.url, "made-up", moodle)
    assert resp.status_code == 404 and "registration_link_unknown" in resp.text
    resp = requests.get(tool_server.url + "/lti/register")
    assert resp.status_code == 404 and "registration_link_missing" in resp.text


def test_opening_the_link_in_a_browser_explains_and_keeps_it(
    app: Flask, tool_server: ServerThread, runner: FlaskCliRunner
) -> None:
    token = new_link(runner, tool_server.url)
    resp = requests.get(tool_server.url + "/lti/register", params={"t": token})
    assert resp.status_code == 200 and "einmaliger Registrierungslink" in resp.text
    with session_scope(app) as s:
        assert s.scalars(select(RegistrationLink)).one().used_at is None


def test_issuer_must_match_the_configuration_url(
    app: Flask, tool_server: ServerThread, runner: FlaskCliRunner
) -> None:
    impostor = MoodleRegistrar(issuer_override="https://moodle.example.org")
    try:
        token = new_link(runner, tool_server.url)
        resp = register(tool_server.url, token, impostor)
        assert resp.status_code == 400 and "registration_issuer_mismatch" in resp.text
        assert impostor.tools == []
        with session_scope(app) as s:
            assert s.scalars(select(Platform)).all() == []
            assert s.scalars(select(RegistrationLink)).one().used_at is None  # released: the admin can retry
    finally:
        impostor.stop()


def test_moodle_in_a_subdirectory(app: Flask, tool_server: ServerThread, runner: FlaskCliRunner) -> None:
    moodle = MoodleRegistrar(path="/moodle")
    try:
        resp = register(tool_server.url, new_link(runner, tool_server.url), moodle)
        assert resp.status_code == 200, resp.text[:500]
        with session_scope(app) as s:
            assert s.scalars(select(Platform)).one().issuer == moodle.wwwroot
    finally:
        moodle.stop()


def test_platform_refusal_releases_the_link(
    app: Flask, tool_server: ServerThread, runner: FlaskCliRunner, moodle: MoodleRegistrar
) -> None:
    reg_token = moodle.registration_token()
    first = register(tool_server.url, new_link(runner, tool_server.url), moodle, reg_token)
    assert first.status_code == 200
    token = new_link(runner, tool_server.url)
    resp = register(
        tool_server.url, token, moodle, reg_token
    )  # Moodle: registration token already used -> 401
    assert resp.status_code == 502 and "registration_refused" in resp.text
    with session_scope(app) as s:
        link = s.scalars(select(RegistrationLink).order_by(RegistrationLink.id.desc())).first()
        assert link is not None and link.used_at is None
    assert register(tool_server.url, token, moodle).status_code == 200  # retry with a fresh token works


def test_unreachable_platform(tool_server: ServerThread, runner: FlaskCliRunner) -> None:
    token = new_link(runner, tool_server.url)
    resp = requests.get(
        tool_server.url + "/lti/register",
        params={
            "t": token,
            "openid_configuration": "http://127.0.0.1:9/mod/lti/openid-configuration.php",
            "registration_token": "x",
        },
    )
    assert resp.status_code == 502 and "registration_config_unreachable" in resp.text


def test_openid_configuration_must_be_a_url(tool_server: ServerThread, runner: FlaskCliRunner) -> None:
    token = new_link(runner, tool_server.url)
    resp = requests.get(
        tool_server.url + "/lti/register", params={"t": token, "openid_configuration": "javascript:alert(1)"}
    )
    assert resp.status_code == 400 and "registration_bad_request" in resp.text


def attempt(tool_url: str, token: str, openid_configuration: str) -> requests.Response:
    return requests.get(
        tool_url + "/lti/register",
        params={"t": token, "openid_configuration": openid_configuration, "registration_token": "x"},
    )


@pytest.mark.parametrize(
    "address", ["http://[::1", "http://127.0.0.1:99999/mod/lti/x", "http://127.0.0.1:abc/", "http:///nohost"]
)
def test_a_malformed_openid_configuration_is_a_clear_400(
    app: Flask, tool_server: ServerThread, runner: FlaskCliRunner, address: str
) -> None:
    token = new_link(runner, tool_server.url)
    resp = attempt(tool_server.url, token, address)
    assert resp.status_code == 400 and "registration_bad_request" in resp.text
    with session_scope(app) as s:
        link = s.scalars(select(RegistrationLink)).one()
        assert (link.used_at, link.attempts) == (None, 0)  # no platform was asked: the link is untouched


def test_the_registration_endpoint_must_be_on_the_issuers_origin(
    app: Flask, tool_server: ServerThread, runner: FlaskCliRunner, moodle: MoodleRegistrar
) -> None:
    hostile = MoodleRegistrar(endpoint_override=moodle.wwwroot + "/mod/lti/openid-registration.php")
    try:
        resp = register(tool_server.url, new_link(runner, tool_server.url), hostile)
        assert resp.status_code == 400 and "registration_endpoint_foreign" in resp.text
        assert moodle.registrations == 0 and hostile.registrations == 0  # nothing was posted anywhere
    finally:
        hostile.stop()


def test_a_redirect_to_another_origin_is_not_followed(
    tool_server: ServerThread, runner: FlaskCliRunner, moodle: MoodleRegistrar
) -> None:
    from flask import Flask as App
    from flask import redirect

    app = App("redirecting")

    @app.get("/mod/lti/openid-configuration.php")
    def elsewhere() -> Any:
        return redirect(moodle.openid_configuration, code=302)

    server = ServerThread(app)
    try:
        resp = attempt(
            tool_server.url,
            new_link(runner, tool_server.url),
            server.url + "/mod/lti/openid-configuration.php",
        )
        assert resp.status_code == 502 and "registration_config_unreachable" in resp.text
        assert moodle.config_requests == 0
    finally:
        server.stop()


def test_a_huge_configuration_is_cut_off(
    app: Flask, tool_server: ServerThread, runner: FlaskCliRunner
) -> None:
    from flask import Flask as App
    from flask import Response

    app_ = App("huge")

    @app_.get("/mod/lti/openid-configuration.php")
    def huge() -> Any:
        chunk = b" " * 65536
        return Response((chunk for _ in range(300 * 16)), mimetype="application/json")  # 300 MB, unannounced

    server = ServerThread(app_)
    try:
        resp = attempt(
            tool_server.url,
            new_link(runner, tool_server.url),
            server.url + "/mod/lti/openid-configuration.php",
        )
        assert resp.status_code == 502 and "registration_config_unreachable" in resp.text
    finally:
        server.stop()


def test_a_link_is_used_up_after_three_failed_attempts_and_each_use_is_logged(
    app: Flask, tool_server: ServerThread, runner: FlaskCliRunner, caplog: pytest.LogCaptureFixture
) -> None:
    token = new_link(runner, tool_server.url)
    closed = "http://127.0.0.1:9/mod/lti/openid-configuration.php"  # nothing listens on port 9
    with caplog.at_level(logging.INFO, logger="lti_tool.lti.registration"):
        for _ in range(3):
            assert attempt(tool_server.url, token, closed).status_code == 502
        used_up = attempt(tool_server.url, token, closed)
    assert used_up.status_code == 410 and "registration_link_used_up" in used_up.text
    with session_scope(app) as s:
        link = s.scalars(select(RegistrationLink)).one()
        assert link.attempts == 3 and link.used_at is not None and link.platform_id is None
    lines = [r.getMessage() for r in caplog.records if r.name == "lti_tool.lti.registration"]
    assert sum(f"registration link {link.id}: attempt" in line and " for " in line for line in lines) == 3
    assert any("attempt 3 of 3 failed" in line and "used up" in line for line in lines)
    assert any(f"registration link {link.id} refused: used up" in line for line in lines)
    assert not any(token in line for line in lines)


def hostile_platform(config_extra: str = "", answer: str = "") -> tuple[ServerThread, str]:
    """A platform whose configuration (JSON text, `config_extra` spliced in) or registration answer is garbled."""
    from flask import Flask as App
    from flask import Response

    app_ = App("hostile")
    server = ServerThread(app_)
    base = server.url
    config = (
        f'{{"issuer": "{base}", "authorization_endpoint": "{base}/auth", "token_endpoint": "{base}/token", '
        f'"jwks_uri": "{base}/jwks", "registration_endpoint": "{base}/register", '
        f'"{PLATFORM_CONF}": {{"product_family_code": "moodle"}}{config_extra}}}'
    )

    @app_.get("/openid-configuration")
    def configuration() -> Any:
        return Response(config, mimetype="application/json")

    @app_.post("/register")
    def registration() -> Any:
        return Response(
            answer or f'{{"client_id": "c1", "{TOOL_CONF}": {{"deployment_id": "7"}}}}',
            mimetype="application/json",
        )

    return server, base + "/openid-configuration"


@pytest.mark.parametrize(
    ("config_extra", "answer", "status", "code"),
    [
        # PostgreSQL cannot store a NUL: the registration failed with a 500 there.
        (
            f', "{PLATFORM_CONF}": {{"product_family_code": "moo\\u0000dle"}}',
            "",
            502,
            "registration_config_unreachable",
        ),
        (
            "",
            f'{{"client_id": "c\\u0000", "{TOOL_CONF}": {{"deployment_id": "7"}}}}',
            502,
            "registration_answer_invalid",
        ),
        (
            "",
            f'{{"client_id": "c1", "{TOOL_CONF}": {{"deployment_id": "7\\u0000"}}}}',
            502,
            "registration_answer_invalid",
        ),
        # Not JSON PostgreSQL's json type takes (Infinity), and nesting deeper than Python's parser goes: 500s.
        (', "n": 1e999999', "", 502, "registration_config_unreachable"),
        (  # half a UTF-16 pair: no database stores it
            f', "{PLATFORM_CONF}": {{"product_family_code": "moo\\ud800dle"}}',
            "",
            502,
            "registration_config_unreachable",
        ),
        (', "n": ' + "[" * 100000 + "]" * 100000, "", 502, "registration_config_unreachable"),
        # JSON true is no deployment id (Python's bool is an int: it was stored as "True"); Moodle sends a string
        (
            "",
            f'{{"client_id": "c1", "{TOOL_CONF}": {{"deployment_id": true}}}}',
            400,
            "registration_answer_incomplete",
        ),
        (
            "",
            f'{{"client_id": "c1", "{TOOL_CONF}": {{"deployment_id": 7.5}}}}',
            400,
            "registration_answer_incomplete",
        ),
    ],
)
def test_a_garbled_configuration_or_answer_is_refused_and_nothing_stored(
    app: Flask,
    tool_server: ServerThread,
    runner: FlaskCliRunner,
    config_extra: str,
    answer: str,
    status: int,
    code: str,
) -> None:
    server, configuration = hostile_platform(config_extra, answer)
    try:
        resp = attempt(tool_server.url, new_link(runner, tool_server.url), configuration)
    finally:
        server.stop()
    assert resp.status_code == status and code in resp.text, resp.text[:600]
    with session_scope(app) as s:
        assert s.scalars(select(Platform)).all() == [] and s.scalars(select(Deployment)).all() == []

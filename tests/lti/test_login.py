"""OIDC third-party initiated login: GET and POST, strict about what it needs, no open redirect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.lti.login import state_signer
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.models import Platform

from ..conftest import CLIENT_ID
from ..peer import Launcher


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_login_redirects_to_the_platform_with_the_oidc_parameters(launcher: Launcher, method: str) -> None:
    login = launcher.login(method=method)
    location = login.response.headers["Location"]
    assert location.startswith(launcher.peer.auth_url + "?")
    q = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert q["scope"] == "openid"
    assert q["response_type"] == "id_token"
    assert q["response_mode"] == "form_post"
    assert q["prompt"] == "none"
    assert q["client_id"] == CLIENT_ID
    assert q["redirect_uri"] == launcher.launch_url
    assert q["login_hint"] == "user-1"
    assert q["lti_message_hint"] == "hint-1"
    assert len(q["state"]) >= 32 and len(q["nonce"]) >= 32
    cookie = login.response.headers["Set-Cookie"]
    assert (
        "nama_lti_browser=" in cookie
        and "Partitioned" in cookie
        and "SameSite=None" in cookie
        and "Secure" in cookie
    )


def test_login_redirect_is_urlencoded_in_the_oidc_order(launcher: Launcher) -> None:
    """The query is written by hand (no urlencode per login): exactly what urlencode writes, also for hints with
    characters that need quoting."""
    hint, message_hint = "user 1&x=ü/+%", "a b&c=d#e"
    login = launcher.login(login_hint=hint, lti_message_hint=message_hint)
    location = login.response.headers["Location"]
    expected = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": CLIENT_ID,
        "redirect_uri": launcher.launch_url,
        "login_hint": hint,
        "state": login.state,
        "nonce": login.nonce,
        "lti_message_hint": message_hint,
    }
    assert location == launcher.peer.auth_url + "?" + urlencode(expected)


def test_each_login_gets_a_fresh_state_and_nonce(launcher: Launcher) -> None:
    a, b = launcher.login(), launcher.login()
    assert a.state != b.state and a.nonce != b.nonce


def test_login_without_client_id_when_issuer_has_one_registration(launcher: Launcher) -> None:
    assert launcher.login(client_id=None).client_id == CLIENT_ID


@pytest.mark.parametrize("missing", ["iss", "login_hint", "target_link_uri"])
def test_incomplete_login(launcher: Launcher, missing: str) -> None:
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={
            k: v
            for k, v in {
                "iss": launcher.peer.issuer,
                "login_hint": "u",
                "target_link_uri": launcher.launch_url,
            }.items()
            if k != missing
        },
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "login_incomplete" in resp.text and missing in resp.text


def test_login_from_unknown_issuer(launcher: Launcher) -> None:
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={
            "iss": "https://unknown.example.org",
            "login_hint": "u",
            "target_link_uri": launcher.launch_url,
        },
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "unknown_issuer" in resp.text


def unknown_client_login(launcher: Launcher, client_id: str, language: str) -> requests.Response:
    return launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={
            "iss": launcher.peer.issuer,
            "client_id": client_id,
            "login_hint": "u",
            "target_link_uri": launcher.launch_url,
        },
        headers={"Accept-Language": language},
        allow_redirects=False,
    )


def test_login_with_unknown_client_id_of_a_known_issuer(app: Flask, launcher: Launcher) -> None:
    """The issuer is registered, the client_id is not (e.g. the LMS registered the tool a second time): a refusal
    of its own that names the client_id, not "platform not registered"."""
    resp = unknown_client_login(launcher, "moodle-client-7", "de")
    assert resp.status_code == 400 and resp.headers["Content-Type"].startswith("text/html")
    page = resp.text
    assert "unknown_client_id" in page and "unknown_issuer" not in page and "Fehlerkennung" in page
    assert (
        f"Die Lernplattform {launcher.peer.issuer} ist beim Tool registriert, aber nicht mit der Client-ID "
        "moodle-client-7." in page
    )
    assert "--client-id moodle-client-7" in page  # what the operator runs to accept this registration
    english = unknown_client_login(launcher, "moodle-client-7", "en").text
    assert (
        f"The learning platform {launcher.peer.issuer} is registered with the tool, but not with the client ID "
        "moodle-client-7." in english
    )
    assert "unknown_client_id" in english and "Error id" in english
    # Nothing was stored for the stranger, and the known registration still logs in.
    with session_scope(app) as s:
        assert s.scalars(select(Platform.client_id)).all() == [CLIENT_ID]
    assert launcher.login().client_id == CLIENT_ID


def test_login_with_an_unknown_client_id_escapes_it(launcher: Launcher) -> None:
    resp = unknown_client_login(launcher, '<b id="x">7</b>', "de")
    assert resp.status_code == 400 and "unknown_client_id" in resp.text
    assert '<b id="x">' not in resp.text and "&lt;b id=&#34;x&#34;&gt;7&lt;/b&gt;" in resp.text


def test_login_without_client_id_when_the_issuer_registered_the_tool_twice(
    app: Flask, launcher: Launcher
) -> None:
    with session_scope(app, write=True) as s:
        platform = s.scalars(select(Platform)).one()
        add_platform(
            s,
            PlatformSpec(
                platform.issuer,
                "second-client",
                platform.auth_login_url,
                platform.auth_token_url,
                platform.jwks_url,
                "Zweite Registrierung",
            ),
            "2",
        )
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={"iss": launcher.peer.issuer, "login_hint": "u", "target_link_uri": launcher.launch_url},
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "client_id_missing" in resp.text and "Fehlerkennung" in resp.text
    # With its client_id each registration logs in.
    assert launcher.login(client_id="second-client").client_id == "second-client"
    assert launcher.login().client_id == CLIENT_ID


def test_login_refuses_a_foreign_target_link_uri(launcher: Launcher) -> None:
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={
            "iss": launcher.peer.issuer,
            "login_hint": "u",
            "target_link_uri": "https://phish.example.org/",
        },
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "foreign_target_link_uri" in resp.text


@pytest.mark.parametrize(
    "target",
    ["not a url", "javascript:alert(1)", "http://[::1", "/lti/launch", "ftp://localhost/lti/launch", "port"],
)
def test_login_refuses_a_malformed_target_link_uri(launcher: Launcher, target: str) -> None:
    if target == "port":  # the tool's own host, on a port that cannot be
        parts = urlsplit(launcher.launch_url)
        target = f"{parts.scheme}://{parts.hostname}:99999{parts.path}"
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={"iss": launcher.peer.issuer, "login_hint": "u", "target_link_uri": target},
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "target_link_uri_malformed" in resp.text


def test_login_accepts_the_launch_url_with_its_default_port_written_out(launcher: Launcher) -> None:
    """The activity's address is compared with the tool's by origin: scheme, host (any case) and port."""
    parts = urlsplit(launcher.launch_url)
    port = parts.port or {"http": 80, "https": 443}[parts.scheme]
    target = f"{parts.scheme}://{parts.hostname.upper() if parts.hostname else ''}:{port}/lti/launch?x=1"
    assert launcher.login(target_link_uri=target).response.status_code == 302


def test_a_state_compressed_as_itsdangerous_writes_it_still_launches(app: Flask, launcher: Launcher) -> None:
    """The state is signed without zlib since the login skips compressing it; a state issued before (compressed,
    itsdangerous's default) is still read."""
    login = launcher.login()
    assert not login.state.startswith(".")
    record = state_signer(app.config["SECRET_KEY"]).loads(login.state)
    compressed = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="nama-lti oidc state").dumps(record)
    assert compressed.startswith(".")  # itsdangerous compressed it
    token = launcher.peer.sign(launcher.claims(login.nonce))
    assert launcher.post_launch(token, compressed).status_code == 303


@pytest.mark.parametrize("param", ["iss", "client_id", "login_hint", "lti_deployment_id"])
def test_login_with_a_nul_character(launcher: Launcher, param: str) -> None:
    """No platform sends a NUL; PostgreSQL refuses one in the registration lookup (the login failed with a 500)."""
    params = {
        "iss": launcher.peer.issuer,
        "client_id": CLIENT_ID,
        "login_hint": "u",
        "target_link_uri": launcher.launch_url,
        "lti_deployment_id": "deployment-1",
    }
    params[param] += "\x00"
    for method in ("GET", "POST"):
        resp = launcher.browser.request(
            method,
            launcher.tool_url + "/lti/login",
            **{"params" if method == "GET" else "data": params},  # type: ignore[arg-type]
            allow_redirects=False,
        )
        assert resp.status_code == 400 and "login_malformed" in resp.text and "Fehlerkennung" in resp.text

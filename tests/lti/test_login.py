"""OIDC third-party initiated login: GET and POST, strict about what it needs, no open redirect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

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


def test_login_with_unknown_client_id(launcher: Launcher) -> None:
    resp = launcher.browser.get(
        launcher.tool_url + "/lti/login",
        params={
            "iss": launcher.peer.issuer,
            "client_id": "nope",
            "login_hint": "u",
            "target_link_uri": launcher.launch_url,
        },
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "unknown_issuer" in resp.text


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

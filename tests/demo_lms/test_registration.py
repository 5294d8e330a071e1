"""Dynamic Registration as Moodle >= 4.1 does it: configuration, single-use token, pending tool."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from ..forms import field, parse
from .conftest import SCOPES, Lms

TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"


def registration(base: str, **overrides: Any) -> dict[str, Any]:
    host = urlsplit(base).netloc
    body: dict[str, Any] = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{base}/lti/login",
        "redirect_uris": [f"{base}/lti/launch"],
        "client_name": "NaMa Grundlagenkurs",
        "jwks_uri": f"{base}/jwks",
        "logo_uri": f"{base}/static/logo.png",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES.values()),
        TOOL_CONFIG: {
            "domain": host,
            "target_link_uri": f"{base}/lti/launch",
            "description": "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement",
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [{"type": "LtiDeepLinkingRequest", "target_link_uri": f"{base}/lti/deep-link"}],
            "custom_parameters": {"course": "grundlagenkurs"},
        },
    }
    body.update(overrides)
    return body


def fresh_token(lms: Lms) -> dict[str, Any]:
    response = lms.http.post(f"{lms.url}/api/registration-token", json={}, timeout=5)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def register(lms: Lms, token: str | None, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return lms.http.post(f"{lms.url}/mod/lti/openid-registration.php", json=body, headers=headers, timeout=5)


def test_openid_configuration(lms: Lms) -> None:
    config = lms.http.get(f"{lms.url}/mod/lti/openid-configuration.php", timeout=5).json()
    assert config["issuer"] == lms.url
    assert config["authorization_endpoint"] == f"{lms.url}/auth"
    assert config["token_endpoint"] == f"{lms.url}/token"
    assert config["jwks_uri"] == f"{lms.url}/jwks"
    assert config["registration_endpoint"] == f"{lms.url}/mod/lti/openid-registration.php"
    assert config["response_types_supported"] == ["id_token"]
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "openid" in config["scopes_supported"]
    assert SCOPES["score"] in config["scopes_supported"]
    platform = config["https://purl.imsglobal.org/spec/lti-platform-configuration"]
    assert platform["product_family_code"] == "moodle"
    assert platform["messages_supported"] == ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"]
    assert "Context.id" in platform["variables"]


def test_registration_end_to_end(lms: Lms) -> None:
    issued = fresh_token(lms)
    claims = jwt.decode(issued["registration_token"], options={"verify_signature": False})
    assert claims["scope"] == "reg"
    assert claims["exp"] - claims["iat"] == 3600
    base = "http://localhost:5099"
    response = register(lms, issued["registration_token"], registration(base))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["client_id"] == issued["client_id"] == claims["sub"]
    config = answer[TOOL_CONFIG]
    tools = lms.http.get(f"{lms.url}/api/tools", timeout=5).json()
    new = next(t for t in tools if t["client_id"] == answer["client_id"])
    assert config["deployment_id"] == str(new["id"]) == new["deployment_id"]
    assert new["status"] == "pending"
    assert new["deep_link_url"] == f"{base}/lti/deep-link"
    assert set(new["scopes"]) == set(SCOPES.values())
    assert config["messages"] == [
        {"type": "LtiDeepLinkingRequest", "target_link_uri": f"{base}/lti/deep-link"}
    ]
    assert config["domain"] == "localhost:5099"
    assert answer["redirect_uris"] == [f"{base}/lti/launch"]
    assert answer["token_endpoint_auth_method"] == "private_key_jwt"
    assert set(answer["scope"].split()) == set(SCOPES.values())

    # Pending: no token, no launch until an admin activates the tool.
    login = lms.http.get(f"{lms.url}/api/launch", params={"activity": "1", "user": "4"}, timeout=5)
    assert login.status_code == 200  # activity 1 belongs to the pre-registered tool
    activate = lms.http.post(
        f"{lms.url}/admin/tools/{new['id']}/status",
        data={"status": "active"},
        allow_redirects=False,
        timeout=5,
    )
    assert activate.status_code == 303
    tools = lms.http.get(f"{lms.url}/api/tools", timeout=5).json()
    assert next(t for t in tools if t["id"] == new["id"])["status"] == "active"


def test_reused_token_is_401(lms: Lms) -> None:
    token = fresh_token(lms)["registration_token"]
    assert register(lms, token, registration("http://localhost:5099")).status_code == 200
    again = register(lms, token, registration("http://localhost:5099"))
    assert again.status_code == 401
    assert "token_already_used" in again.text


def test_missing_or_bad_token_is_401(lms: Lms) -> None:
    assert register(lms, None, registration("http://localhost:5099")).status_code == 401
    assert register(lms, "garbage", registration("http://localhost:5099")).status_code == 401
    forged = jwt.encode(
        {"sub": "x", "scope": "reg", "exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256"
    )
    assert register(lms, forged, registration("http://localhost:5099")).status_code == 401


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_name": None}, "missing required attribute client_name"),
        ({"jwks_uri": ""}, "missing required attribute jwks_uri"),
        ({"redirect_uris": None}, "missing required attribute redirect_uris"),
        ({"initiate_login_uri": None}, "missing required attribute initiate_login_uri"),
        ({"token_endpoint_auth_method": "client_secret_basic"}, "invalid_token_endpoint_auth_method"),
        ({"response_types": ["code"]}, "invalid_response_types"),
        ({"application_type": "native"}, "invalid_application_type"),
        ({TOOL_CONFIG: None}, f"missing required attribute {TOOL_CONFIG}"),
        ({"grant_types": ["implicit"]}, "invalid_grant_types"),
        ({"redirect_uris": ["https://elsewhere.example/launch"]}, "invalid_redirect_uris"),
    ],
)
def test_invalid_registrations_are_400(lms: Lms, change: dict[str, Any], message: str) -> None:
    body = {k: v for k, v in registration("http://localhost:5099", **change).items() if v is not None}
    response = register(lms, fresh_token(lms)["registration_token"], body)
    assert response.status_code == 400
    assert message in response.json()["error_description"]


def test_domain_must_match_target_link_uri_including_the_port(lms: Lms) -> None:
    body = registration("http://localhost:5099")
    body[TOOL_CONFIG]["domain"] = "localhost"  # Moodle keeps the port when comparing domains
    response = register(lms, fresh_token(lms)["registration_token"], body)
    assert response.status_code == 400
    assert "domain_targetlinkuri_mismatch" in response.text
    del body[TOOL_CONFIG]["domain"]
    response = register(lms, fresh_token(lms)["registration_token"], body)
    assert "missing_domain" in response.text


def test_moodle_mode_does_not_check_grant_types(make_lms: Any) -> None:
    lms: Lms = make_lms(REGISTRATION_STRICT=False)
    body = registration("http://localhost:5099", grant_types=None)
    body = {k: v for k, v in body.items() if v is not None}
    assert register(lms, fresh_token(lms)["registration_token"], body).status_code == 200


def test_scopes_and_claims_map_like_moodle(make_lms: Any) -> None:
    lms: Lms = make_lms(AUTO_ACTIVATE_DYNAMIC=True)
    body = registration("http://localhost:5099", scope=SCOPES["result"])
    body[TOOL_CONFIG]["claims"] = ["iss", "sub"]
    answer = register(lms, fresh_token(lms)["registration_token"], body).json()
    # Any AGS scope gives lineitem.readonly + result.readonly + score; lineitem itself only when asked.
    assert set(answer["scope"].split()) == {SCOPES["lineitem.readonly"], SCOPES["result"], SCOPES["score"]}
    tools = lms.http.get(f"{lms.url}/api/tools", timeout=5).json()
    new = next(t for t in tools if t["client_id"] == answer["client_id"])
    assert new["status"] == "active"
    assert (new["send_name"], new["send_email"]) == (False, False)


def test_admin_page_opens_the_tool_registration_url(lms: Lms) -> None:
    page = lms.http.get(f"{lms.url}/admin/tools/register", params={"url": "http://localhost:5099/lti/register"},
                        timeout=5)  # fmt: skip
    assert page.status_code == 200
    src = parse(page.text).iframes[0]
    assert src.startswith("http://localhost:5099/lti/register?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(src).query).items()}
    assert query["openid_configuration"] == f"{lms.url}/mod/lti/openid-configuration.php"
    assert jwt.decode(query["registration_token"], options={"verify_signature": False})["scope"] == "reg"
    assert "org.imsglobal.lti.close" in page.text
    admin = lms.http.get(f"{lms.url}/admin/tools", timeout=5)
    assert "Tool-URL" in admin.text
    assert "NaMa-Werkzeug" in admin.text


def test_test_endpoints_exist_only_with_faults_enabled(make_lms: Any) -> None:
    lms: Lms = make_lms(FAULTS_ENABLED=False)
    assert lms.http.post(f"{lms.url}/api/registration-token", json={}, timeout=5).status_code == 404
    assert lms.http.post(f"{lms.url}/api/faults", json={}, timeout=5).status_code == 404


def test_newcomer_path_register_activate_token_launch(make_lms: Any, tool: Any) -> None:
    """No pre-registered tool: register dynamically, activate, get a token, launch the default activity."""
    lms: Lms = make_lms(TOOLS=[])
    issued = fresh_token(lms)
    answer = register(lms, issued["registration_token"], registration(tool.base)).json()
    client_id = answer["client_id"]
    deployment_id = answer[TOOL_CONFIG]["deployment_id"]
    assert lms.http.get(f"{lms.url}/api/activities", timeout=5).json() == []  # pending: nothing to launch yet

    lms.http.post(f"{lms.url}/admin/tools/{deployment_id}/status", data={"status": "active"}, timeout=5)
    [activity] = lms.http.get(f"{lms.url}/api/activities", timeout=5).json()
    assert activity["custom"] == {"course": "grundlagenkurs"}

    assertion = tool.assertion(f"{lms.url}/token", iss=client_id, sub=client_id)
    token = lms.http.post(
        f"{lms.url}/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": SCOPES["score"],
        },
        timeout=5,
    )
    assert token.status_code == 200, token.text

    login = lms.login_params(activity=str(activity["id"]), user="4")
    assert (login["client_id"], login["lti_deployment_id"]) == (client_id, deployment_id)
    auth = lms.http.get(f"{lms.url}/auth", params=lms.auth_params(login), timeout=5)
    id_token = field(auth.text, "id_token")
    claims = jwt.decode(id_token, options={"verify_signature": False})
    assert claims["aud"] == client_id
    assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == deployment_id
    assert claims["https://purl.imsglobal.org/spec/lti/claim/custom"] == {"course": "grundlagenkurs"}


def test_course_page_shows_the_registered_logo_on_each_activity_like_moodle(make_lms: Any, tool: Any) -> None:
    """Moodle shows a dynamically registered tool's `logo_uri` as the icon of every activity of that tool (a
    tool without a logo there gets none: the pre-registered one has no registration)."""
    lms: Lms = make_lms(TOOLS=[])
    issued = fresh_token(lms)
    answer = register(lms, issued["registration_token"], registration(tool.base)).json()
    deployment_id = answer[TOOL_CONFIG]["deployment_id"]
    lms.http.post(f"{lms.url}/admin/tools/{deployment_id}/status", data={"status": "active"}, timeout=5)
    page = lms.http.get(f"{lms.url}/", timeout=5)
    assert page.status_code == 200
    assert f'<img class="activity-icon" src="{tool.base}/static/logo.png" alt="" width="24" height="24">' in (
        page.text
    )

    preregistered: Lms = make_lms()
    assert '<img class="activity-icon"' not in preregistered.http.get(f"{preregistered.url}/", timeout=5).text

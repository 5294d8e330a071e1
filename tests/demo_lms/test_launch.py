"""Third-party initiated login and the OIDC authorization endpoint, as a tool sees them."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from ..forms import forms, parse
from .conftest import AGS, DL, LTI, NRPS, SCOPES, FakeTool, Lms


def test_resource_link_launch_id_token(lms: Lms) -> None:
    form, claims, params = lms.launch(activity="1", user="4")

    assert form.action == f"{lms.tool.base}/lti/launch"
    assert form.method == "post"
    assert form.value("state") == params["state"]
    assert claims["nonce"] == params["nonce"]
    assert claims["aud"] == lms.tool.client_id  # a string, like Moodle
    assert claims["sub"] == "4"
    assert claims["exp"] - claims["iat"] == 60
    assert claims["name"] == "Lea Schneider"
    assert claims["given_name"] == "Lea"
    assert claims["family_name"] == "Schneider"
    assert claims["email"] == "lea.schneider@example.org"
    assert claims[f"{LTI}/claim/message_type"] == "LtiResourceLinkRequest"
    assert claims[f"{LTI}/claim/version"] == "1.3.0"
    assert claims[f"{LTI}/claim/deployment_id"] == "1"
    assert claims[f"{LTI}/claim/target_link_uri"] == f"{lms.tool.base}/lti/launch"
    assert claims[f"{LTI}/claim/roles"] == ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
    link = claims[f"{LTI}/claim/resource_link"]
    assert link["id"] == "1"
    assert link["title"] == "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement"
    context = claims[f"{LTI}/claim/context"]
    assert context == {
        "id": "demo-course-1",
        "label": "NaMa-Demo",
        "title": "Demo-Kurs NaMa NRW",
        "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
    }
    presentation = claims[f"{LTI}/claim/launch_presentation"]
    assert presentation["document_target"] == "iframe"
    assert presentation["locale"] == "de-DE"
    assert presentation["return_url"].startswith(lms.url)
    assert claims[f"{LTI}/claim/tool_platform"]["product_family_code"] == "moodle"
    assert claims[f"{LTI}/claim/custom"] == {"course": "grundlagenkurs"}
    ags = claims[f"{AGS}/claim/endpoint"]
    assert ags["lineitems"] == f"{lms.url}/mod/lti/services.php/demo-course-1/lineitems?type_id=1"
    assert ags["lineitem"] == f"{lms.url}/mod/lti/services.php/demo-course-1/lineitems/1/lineitem?type_id=1"
    assert set(ags["scope"]) == {
        f"{AGS}/scope/{s}" for s in ("lineitem", "lineitem.readonly", "result.readonly", "score")
    }
    nrps = claims[f"{NRPS}/claim/namesroleservice"]
    assert nrps["context_memberships_url"] == (
        f"{lms.url}/mod/lti/services.php/CourseSection/demo-course-1/bindings/1/memberships"
    )
    assert "2.0" in nrps["service_versions"]
    assert lms.stats()["launches"] == 1


def test_instructor_and_admin_roles(lms: Lms) -> None:
    _, teacher, _ = lms.launch(activity="1", user="3")
    assert teacher[f"{LTI}/claim/roles"] == ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
    assert teacher["name"] == "Dr. Ingrid Lehmann"
    _, admin, _ = lms.launch(activity="1", user="2")
    roles = admin[f"{LTI}/claim/roles"]
    assert "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator" in roles
    assert not any(r.endswith("#Learner") for r in roles)


def test_window_target(lms: Lms) -> None:
    _, claims, _ = lms.launch(activity="1", user="4", target="window")
    assert claims[f"{LTI}/claim/launch_presentation"]["document_target"] == "window"


def test_deep_linking_request(lms: Lms) -> None:
    _, claims, _ = lms.launch(tool="1", user="3", deep_linking="1")
    assert claims[f"{LTI}/claim/message_type"] == "LtiDeepLinkingRequest"
    assert f"{LTI}/claim/resource_link" not in claims
    assert claims[f"{LTI}/claim/target_link_uri"] == f"{lms.tool.base}/lti/deep-link"
    settings = claims[f"{DL}/deep_linking_settings"]
    assert settings["deep_link_return_url"] == f"{lms.url}/deep-linking/return"
    assert settings["accept_types"] == ["ltiResourceLink"]
    assert settings["accept_presentation_document_targets"] == ["iframe", "window"]
    assert settings["accept_multiple"] is True
    assert settings["auto_create"] is True
    assert settings["data"]
    assert "lineitem" not in claims[f"{AGS}/claim/endpoint"]


def test_learner_cannot_deep_link(lms: Lms) -> None:
    response = lms.http.get(
        f"{lms.url}/api/launch", params={"tool": "1", "user": "4", "deep_linking": "1"}, timeout=5
    )
    assert response.status_code == 400


def test_login_initiation_parameters(lms: Lms) -> None:
    login = lms.login_params(activity="1", user="4")
    assert login["iss"] == lms.url
    assert login["login_hint"] == "4"
    assert login["client_id"] == lms.tool.client_id
    assert login["lti_deployment_id"] == "1"
    assert login["target_link_uri"] == f"{lms.tool.base}/lti/launch"
    assert login["lti_message_hint"]


def test_launch_page_embeds_the_tool_login_in_an_iframe(lms: Lms) -> None:
    page = lms.http.get(f"{lms.url}/launch/1", params={"user": "4"}, timeout=5)
    assert page.status_code == 200
    src = parse(page.text).iframes[0]
    assert src.startswith(f"{lms.tool.base}/lti/login?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(src).query).items()}
    assert query["login_hint"] == "4"
    assert query["iss"] == lms.url
    # Like Moodle's "Embed": the LMS page has no link of its own to a new window (the tool's header has one).
    assert "in neuem fenster" not in page.text.lower()

    # A launch into a new window (an activity set to open in one) redirects with a window-target hint.
    start = lms.http.get(
        f"{lms.url}/launch/1/start",
        params={"user": "4", "target": "window"},
        allow_redirects=False,
        timeout=5,
    )
    assert start.status_code == 302
    assert start.headers["Location"].startswith(f"{lms.tool.base}/lti/login?")


def test_login_by_post_like_moodle(make_lms: object) -> None:
    lms: Lms = make_lms(LOGIN_METHOD="post")  # type: ignore[operator]
    page = lms.http.get(f"{lms.url}/launch/1", params={"user": "4"}, timeout=5)
    src = parse(page.text).iframes[0]
    assert src.startswith("/launch/1/start?")
    start = lms.http.get(lms.url + src, timeout=5)
    assert start.headers["Content-Type"].startswith("text/html")
    form = forms(start.text)[0]
    assert form.action == f"{lms.tool.base}/lti/login"
    assert form.method == "post"
    assert form.value("login_hint") == "4"


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"redirect_uri": "http://evil.example/launch"}, "redirect_uri"),
        ({"client_id": "unknown-tool"}, "client_id"),
        ({"nonce": None}, "nonce"),
        ({"state": None}, "state"),
        ({"scope": "openid profile"}, "scope"),
        ({"response_type": "code"}, "response_type"),
        ({"response_mode": "fragment"}, "response_mode"),
        ({"prompt": "login"}, "prompt"),
        ({"login_hint": "5"}, "login_hint"),
        ({"lti_message_hint": "forged"}, "lti_message_hint"),
    ],
)
def test_auth_refuses(lms: Lms, override: dict[str, str | None], fragment: str) -> None:
    params = lms.auth_params(lms.login_params(activity="1", user="4"), **override)
    response = lms.http.post(f"{lms.url}/auth", data=params, timeout=5)
    assert response.status_code == 400
    assert fragment in response.text
    assert 'name="id_token"' not in response.text
    assert lms.stats()["auth_errors"] == 1


def test_message_hint_is_single_use(lms: Lms) -> None:
    login = lms.login_params(activity="1", user="4")
    first = lms.http.get(f"{lms.url}/auth", params=lms.auth_params(login), timeout=5)
    assert first.status_code == 200
    second = lms.http.get(f"{lms.url}/auth", params=lms.auth_params(login), timeout=5)
    assert second.status_code == 400
    assert "schon verwendet" in second.text


def test_pending_tool_cannot_launch(make_lms: object, tool: object) -> None:
    lms: Lms = make_lms()  # type: ignore[operator]
    lms.http.post(f"{lms.url}/admin/tools/1/status", data={"status": "pending"}, timeout=5)
    login_response = lms.http.get(f"{lms.url}/launch/1", params={"user": "4"}, timeout=5)
    assert login_response.status_code == 400
    assert "nicht aktiviert" in login_response.text


def test_id_token_expires_after_a_minute(lms: Lms) -> None:
    _, claims, _ = lms.launch(activity="1", user="4")
    assert claims["exp"] <= time.time() + 61


def test_privacy_settings_leave_names_and_email_out_like_moodle(make_lms: object, tool: FakeTool) -> None:
    """Moodle's "Share launcher's name / e-mail with tool" off: launches carry only `sub` (Moodle's user id), and
    the participant list only the user ids; each setting on its own."""
    lms: Lms = make_lms(TOOLS=[tool.config(send_name=False, send_email=False)])  # type: ignore[operator]
    _, claims, _ = lms.launch(activity="1", user="4")
    assert claims["sub"] == "4"
    assert not {"name", "given_name", "family_name", "email"} & set(claims)
    members = lms.http.get(
        f"{lms.url}/mod/lti/services.php/CourseSection/demo-course-1/bindings/1/memberships",
        headers={"Authorization": f"Bearer {lms.token(SCOPES['nrps'])}"},
        timeout=5,
    )
    assert members.status_code == 200
    lea = next(m for m in members.json()["members"] if m["user_id"] == "4")
    assert lea == {"status": "Active", "roles": ["Learner"], "user_id": "4"}

    only_email: Lms = make_lms(TOOLS=[tool.config(send_name=False)])  # type: ignore[operator]
    _, claims, _ = only_email.launch(activity="1", user="5")
    assert (
        claims["email"] == "jonas.becker@example.org" and "name" not in claims and "given_name" not in claims
    )

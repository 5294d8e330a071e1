"""Every bad launch is refused with a clear page, an error id in the log, and nothing written.

Several of these are gaps in pylti1p3 (docs/launch.md "What pylti1p3 leaves open"): a plain pylti1p3 MessageLaunch accepts the
foreign-azp token, the replayed token, and refuses the slightly-early iat; it never re-fetches keys on an unknown kid.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.db import session_scope
from lti_tool.lti.login import MAX_STATE_LENGTH
from lti_tool.models import Context, Deployment, Membership, ResourceLink, ToolSession, User

from ..conftest import CLIENT_ID, DEPLOYMENT_ID
from ..peer import DROP, INSTRUCTOR, LTI, Launcher, SigningKey, claim

DOMAIN_TABLES = (User, Context, ResourceLink, Membership, ToolSession)


def written(app: Flask) -> dict[str, int]:
    with session_scope(app) as s:
        return {
            m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0) for m in DOMAIN_TABLES
        }


def assert_refused(app: Flask, resp: requests.Response, code: str, status: int = 400) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text[:600])
    assert code in resp.text, resp.text[:1200]
    assert "Fehlerkennung" in resp.text  # German page with an error id
    assert written(app) == {m.__tablename__: 0 for m in DOMAIN_TABLES}


def test_wrong_signature(app: Flask, launcher: Launcher) -> None:
    impostor = SigningKey.generate()
    impostor.kid = launcher.peer.keys[0].kid  # same kid, other key
    assert_refused(app, launcher.launch(sign_key=impostor), "bad_signature")


def test_unknown_kid_is_refetched_once_then_refused(app: Flask, launcher: Launcher) -> None:
    launcher.launch_and_follow()  # warms the JWKS cache
    fetches = launcher.peer.jwks_fetches
    stranger = SigningKey.generate()
    resp = launcher.launch(sign_key=stranger)
    assert resp.status_code == 400 and "kid_unknown" in resp.text
    assert launcher.peer.jwks_fetches == fetches + 1
    # A second unknown kid right after does not hammer the platform (rate-limited refetch).
    launcher.launch(sign_key=SigningKey.generate())
    assert launcher.peer.jwks_fetches == fetches + 1


def test_platform_key_rotation_is_picked_up(app: Flask, launcher: Launcher) -> None:
    launcher.launch_and_follow()
    new_key = SigningKey.generate()
    launcher.peer.keys.insert(0, new_key)  # platform publishes a new key and signs with it
    page = launcher.launch_and_follow()
    assert page.status_code == 200


def test_aud_not_ours(app: Flask, launcher: Launcher) -> None:
    assert_refused(app, launcher.launch(aud="someone-else"), "aud_mismatch")


def test_several_audiences_without_azp(app: Flask, launcher: Launcher) -> None:
    assert_refused(app, launcher.launch(aud=[CLIENT_ID, "other-tool"]), "azp_missing")


def test_several_audiences_with_foreign_azp(app: Flask, launcher: Launcher) -> None:
    # pylti1p3 accepts this token: it takes aud[0] and never looks at azp.
    assert_refused(app, launcher.launch(aud=[CLIENT_ID, "other-tool"], azp="other-tool"), "aud_mismatch")
    assert_refused(app, launcher.launch(aud=[CLIENT_ID, "other-tool"], azp="third"), "azp_mismatch")


def test_several_audiences_with_our_azp_are_accepted(launcher: Launcher) -> None:
    page = launcher.launch_and_follow(aud=["other-tool", CLIENT_ID], azp=CLIENT_ID)
    assert page.status_code == 200


def test_expired_token(app: Flask, launcher: Launcher) -> None:
    now = int(time.time())
    assert_refused(app, launcher.launch(iat=now - 300, exp=now - 120), "token_expired")


def test_expiry_within_leeway_is_accepted(launcher: Launcher) -> None:
    now = int(time.time())
    assert launcher.launch_and_follow(iat=now - 60, exp=now - 30).status_code == 200


def test_iat_slightly_in_the_future_is_accepted(launcher: Launcher) -> None:
    # Real platform clocks drift; pylti1p3 (no leeway) refuses this launch.
    now = int(time.time())
    assert launcher.launch_and_follow(iat=now + 30, exp=now + 90).status_code == 200


def test_iat_far_in_the_future(app: Flask, launcher: Launcher) -> None:
    now = int(time.time())
    assert_refused(app, launcher.launch(iat=now + 300, exp=now + 360), "token_not_yet_valid")


@pytest.mark.parametrize("age", [10**9 * 2, 3600, 121])
def test_iat_before_the_login_is_refused(app: Flask, launcher: Launcher, age: int) -> None:
    """Security Framework §5.1.3 step 8: the tool may refuse an iat far from now. A token's nonce comes from the
    login, so it cannot have been issued before it (beyond the 60 s leeway): iat=0 with a future exp was
    accepted."""
    login = launcher.login()
    now = int(time.time())
    token = launcher.peer.sign(launcher.claims(login.nonce, iat=now - age, exp=now + 60))
    resp = launcher.post_launch(token, login.state)
    assert_refused(app, resp, "token_issued_before_login")
    assert "vor der Anmeldung ausgestellt" in resp.text
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce, iat=now - age, exp=now + 60))
    english = launcher.browser.post(
        launcher.launch_url,
        data={"id_token": token, "state": login.state},
        headers={"Accept-Language": "en"},
        allow_redirects=False,
    )
    assert english.status_code == 400 and "issued before the login that asked for it" in english.text


def test_iat_within_the_leeway_before_the_login_is_accepted(launcher: Launcher) -> None:
    """A platform whose clock is up to LAUNCH_LEEWAY_SECONDS behind the tool's (Moodle: iat = now, exp = now + 60)."""
    login = launcher.login()
    now = int(time.time())
    token = launcher.peer.sign(launcher.claims(login.nonce, iat=now - 55, exp=now + 5))
    assert launcher.post_launch(token, login.state).status_code == 303


@pytest.mark.parametrize("times", [{"iat": "NOW"}, {"exp": "EXP"}, {"iat": True}])
def test_iat_and_exp_must_be_numbers(app: Flask, launcher: Launcher, times: dict[str, Any]) -> None:
    """RFC 7519 NumericDate is a JSON number; PyJWT takes int() of whatever is there ("1796000000", true)."""
    login = launcher.login()
    now = int(time.time())
    claims = launcher.claims(login.nonce)
    for name, value in times.items():
        claims[name] = str(now if name == "iat" else now + 60) if isinstance(value, str) else value
    resp = launcher.post_launch(launcher.peer.sign(claims), login.state)
    assert resp.status_code == 400 and written(app) == {m.__tablename__: 0 for m in DOMAIN_TABLES}
    assert "Fehlerkennung" in resp.text


@pytest.mark.parametrize("claim", ["exp", "iat", "nonce", "aud", "iss"])
def test_registered_claims_are_required(app: Flask, launcher: Launcher, claim: str) -> None:
    resp = launcher.launch(**{claim: DROP})
    assert resp.status_code == 400
    assert written(app) == {m.__tablename__: 0 for m in DOMAIN_TABLES}


def test_replayed_id_token_and_state(app: Flask, launcher: Launcher) -> None:
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    first = launcher.post_launch(token, login.state)
    assert first.status_code == 303
    counts = written(app)
    again = launcher.post_launch(token, login.state)
    assert again.status_code == 400 and "nonce_replayed" in again.text
    assert written(app) == counts  # the replay wrote nothing


def test_replayed_id_token_under_a_fresh_state(app: Flask, launcher: Launcher) -> None:
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    assert launcher.post_launch(token, login.state).status_code == 303
    counts = written(app)
    fresh = launcher.login()
    resp = launcher.post_launch(token, fresh.state)
    assert resp.status_code == 400 and "nonce_mismatch" in resp.text
    assert written(app) == counts


def test_unknown_state(app: Flask, launcher: Launcher) -> None:
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    assert_refused(app, launcher.post_launch(token, "not-a-state"), "state_unknown")


def test_tampered_state(app: Flask, launcher: Launcher) -> None:
    """The state is signed by the tool: changing anything in it (here: its nonce part) breaks the signature."""
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    payload, rest = login.state.split(".", 1)
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest
    assert_refused(app, launcher.post_launch(token, forged), "state_unknown")


def test_a_state_longer_than_any_login_issues(app: Flask, launcher: Launcher) -> None:
    """Refused before its signature is checked (login.MAX_STATE_LENGTH: the login never issues a longer one)."""
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    padded = login.state + "A" * (MAX_STATE_LENGTH + 1 - len(login.state))
    assert_refused(app, launcher.post_launch(token, padded), "state_malformed")


def test_expired_state(app: Flask, launcher: Launcher) -> None:
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    app.config["OIDC_STATE_TTL_SECONDS"] = -1  # as if the login were older than the allowed time
    assert_refused(app, launcher.post_launch(token, login.state), "state_expired")


def test_missing_id_token_or_state(app: Flask, launcher: Launcher) -> None:
    login = launcher.login()
    resp = launcher.browser.post(launcher.launch_url, data={"state": login.state}, allow_redirects=False)
    assert_refused(app, resp, "launch_incomplete")
    resp = launcher.browser.post(launcher.launch_url, data={"id_token": "x.y.z"}, allow_redirects=False)
    assert_refused(app, resp, "launch_incomplete")


def test_state_from_another_browser(app: Flask, launcher: Launcher) -> None:
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    other = requests.Session()
    other.cookies.set("nama_lti_browser", "someone-elses-browser", path="/lti/")
    resp = other.post(
        launcher.launch_url, data={"id_token": token, "state": login.state}, allow_redirects=False
    )
    assert_refused(app, resp, "state_browser_mismatch")


def test_launch_without_any_cookie_works(launcher: Launcher) -> None:
    """Inside a third-party iframe the browser may drop every cookie: the server-side state carries the check."""
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    cookieless = requests.Session()
    resp = cookieless.post(
        launcher.launch_url, data={"id_token": token, "state": login.state}, allow_redirects=False
    )
    assert resp.status_code == 303
    page = cookieless.get(launcher.tool_url + resp.headers["Location"])
    assert page.status_code == 200 and "Lea Schneider" in page.text


def test_nonce_not_from_this_login(app: Flask, launcher: Launcher) -> None:
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims("a-nonce-we-never-issued"))
    assert_refused(app, launcher.post_launch(token, login.state), "nonce_mismatch")


def test_unknown_deployment_is_recorded_inactive_then_approved(
    app: Flask, launcher: Launcher, runner: FlaskCliRunner
) -> None:
    resp = launcher.launch(**claim("deployment_id", "deployment-new"))
    assert_refused(app, resp, "deployment_unknown", status=403)
    assert "platform approve" in resp.text
    with session_scope(app) as s:
        dep = s.scalars(select(Deployment).where(Deployment.deployment_id == "deployment-new")).one()
        assert dep.active is False
    result = runner.invoke(
        args=[
            "platform",
            "approve",
            "--issuer",
            launcher.peer.issuer,
            "--client-id",
            CLIENT_ID,
            "--deployment-id",
            "deployment-new",
        ]
    )
    assert result.exit_code == 0, result.output
    assert launcher.launch_and_follow(**claim("deployment_id", "deployment-new")).status_code == 200


def test_deactivated_deployment(app: Flask, launcher: Launcher, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=[
            "platform",
            "deactivate",
            "--issuer",
            launcher.peer.issuer,
            "--client-id",
            CLIENT_ID,
            "--deployment-id",
            DEPLOYMENT_ID,
        ]
    )
    assert result.exit_code == 0
    assert_refused(app, launcher.launch(), "deployment_inactive", status=403)


def test_unsupported_message_type(app: Flask, launcher: Launcher) -> None:
    assert_refused(
        app,
        launcher.launch(**claim("message_type", "LtiSubmissionReviewRequest")),
        "message_type_unsupported",
    )


def test_wrong_version(app: Flask, launcher: Launcher) -> None:
    assert_refused(app, launcher.launch(**claim("version", "1.1")), "version_unsupported")


@pytest.mark.parametrize(
    ("claim", "code"),
    [
        (LTI + "resource_link", "launch_refused"),
        (LTI + "roles", "launch_refused"),
        (LTI + "context", "context_missing"),
        (LTI + "target_link_uri", "claim_missing"),
        (LTI + "deployment_id", "claim_missing"),
        ("sub", "launch_refused"),
    ],
)
def test_required_lti_claims(app: Flask, launcher: Launcher, claim: str, code: str) -> None:
    assert_refused(app, launcher.launch(**{claim: DROP}), code)


DEEP_LINKING = {
    LTI + "message_type": "LtiDeepLinkingRequest",
    LTI + "roles": INSTRUCTOR,
    LTI + "resource_link": DROP,
}


@pytest.mark.parametrize(
    "overrides",
    [
        claim("resource_link", "rl-1"),
        claim("resource_link", ["rl-1"]),
        claim("resource_link", None),
        {**DEEP_LINKING, "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": "settings"},
        {**DEEP_LINKING, "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": ["x"]},
    ],
)
def test_claims_that_should_be_objects(app: Flask, launcher: Launcher, overrides: dict[str, Any]) -> None:
    """pylti1p3's message validators call `.get` on these claims: a string or list there is a refusal, not a 500."""
    assert_refused(app, launcher.launch(**overrides), "claim_missing")


AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


@pytest.mark.parametrize(
    "overrides",
    [
        claim("deployment_id", True),
        claim("deployment_id", 17),
        claim("deployment_id", {"id": DEPLOYMENT_ID}),
        claim("deployment_id", "d" * 256),
        claim("roles", "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"),
        claim("roles", [1]),
        claim("context", {"id": "c" * 256}),
        claim("resource_link", {"id": "r" * 256}),
        {AGS_CLAIM: "https://platform.example.org/lineitems"},
        {AGS_CLAIM: {"scope": SCORE}},
        {AGS_CLAIM: {"scope": [SCORE, 5]}},
        {NRPS_CLAIM: ["https://platform.example.org/members"]},
    ],
    ids=lambda o: repr(o)[-70:],
)
def test_claims_of_the_wrong_json_type_are_malformed(
    app: Flask, launcher: Launcher, overrides: dict[str, Any]
) -> None:
    """Core §5.3: deployment_id, sub, resource_link.id and context.id are strings of at most 255 characters, roles
    an array of strings; AGS and NRPS claims objects. A deployment_id of true was refused as 'missing'; ids longer
    than 255 were cut short (two courses could become one), an AGS claim that is no object was ignored (grades
    went nowhere)."""
    resp = launcher.launch(**overrides)
    assert_refused(app, resp, "claim_malformed")
    assert "ist fehlerhaft" in resp.text
    with session_scope(app) as s:  # no inactive deployment recorded for a garbled id
        assert s.scalars(select(Deployment.deployment_id)).all() == [DEPLOYMENT_ID]


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": "user-\x001"},
        {"name": "Lea\x00Schneider"},
        claim("context", {"id": "course-1", "title": "NaMa\x00"}),
        claim("resource_link", {"id": "rl-1", "title": "Grundlagen\x00kurs"}),
        claim("custom", {"course": "grundlagenkurs", "note": ["a", {"b": "\x00"}]}),
        claim("deployment_id", DEPLOYMENT_ID + "\x00"),  # looked up before the message's claims are read
    ],
)
def test_nul_characters_in_claims_are_refused(
    app: Flask, launcher: Launcher, overrides: dict[str, Any]
) -> None:
    """No platform sends a NUL; PostgreSQL cannot store one in a text column (the launch failed with a 500)."""
    assert_refused(app, launcher.launch(**overrides), "claim_malformed")
    with session_scope(app) as s:  # no inactive deployment recorded for the garbled id either
        assert s.scalars(select(Deployment.deployment_id)).all() == [DEPLOYMENT_ID]


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "Lea\ud800"},
        {"sub": "user-\udfff"},
        claim("context", {"id": "course-\ud83d", "title": "NaMa"}),
    ],
)
def test_lone_surrogates_in_claims_are_refused(
    app: Flask, launcher: Launcher, overrides: dict[str, Any]
) -> None:
    """JSON can spell half a UTF-16 pair ("\\ud800"); no database can store it (the launch was a 500)."""
    assert_refused(app, launcher.launch(**overrides), "claim_malformed")


@pytest.mark.parametrize("exp", [10**12, 10**40])
def test_expiry_far_in_the_future_is_accepted_once(launcher: Launcher, exp: int) -> None:
    """A valid token may name any expiry; the used-up nonce's marker is kept a bounded time (it failed with a 500:
    a date past year 9999). A replay is still refused: it needs the login's state, which expires much sooner."""
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce, exp=exp))
    assert launcher.post_launch(token, login.state).status_code == 303
    again = launcher.post_launch(token, login.state)
    assert again.status_code == 400 and "nonce_replayed" in again.text


def test_target_link_uri_differs_from_login(app: Flask, launcher: Launcher) -> None:
    resp = launcher.launch(**claim("target_link_uri", launcher.tool_url + "/elsewhere"))
    assert_refused(app, resp, "target_link_uri_mismatch")


def test_issuer_differs_from_login(app: Flask, launcher: Launcher) -> None:
    assert_refused(app, launcher.launch(iss="https://evil.example.org"), "aud_mismatch")


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("not-a-jwt", "token_malformed"),
        ("a.b.c", "token_malformed"),
        ("x" * 5000, "token_malformed"),
        ("e30.e30.", "iss_missing"),
    ],
)
def test_malformed_id_token(app: Flask, launcher: Launcher, token: str, code: str) -> None:
    login = launcher.login()
    assert_refused(app, launcher.post_launch(token, login.state), code)


def test_unsigned_and_symmetric_algorithms_are_refused(app: Flask, launcher: Launcher) -> None:
    import jwt as pyjwt

    login = launcher.login()
    claims = launcher.claims(login.nonce)
    unsigned = pyjwt.encode(claims, "", algorithm="none", headers={"kid": launcher.peer.keys[0].kid})
    assert_refused(app, launcher.post_launch(unsigned, login.state), "alg_refused")
    login = launcher.login()
    claims = launcher.claims(login.nonce)
    hs = pyjwt.encode(
        claims,
        "a-shared-secret-of-enough-length-32b",
        algorithm="HS256",
        headers={"kid": launcher.peer.keys[0].kid},
    )
    assert_refused(app, launcher.post_launch(hs, login.state), "alg_refused")


def test_unknown_course_in_custom_parameters(app: Flask, launcher: Launcher) -> None:
    resp = launcher.launch(**claim("custom", {"course": "no-such-course"}))
    assert_refused(app, resp, "unknown_course", status=404)


def test_unknown_module_in_custom_parameters(app: Flask, launcher: Launcher) -> None:
    resp = launcher.launch(**claim("custom", {"course": "grundlagenkurs", "module": "nope"}))
    assert_refused(app, resp, "unknown_module", status=404)


def test_oversized_body(app: Flask, launcher: Launcher) -> None:
    login = launcher.login()
    resp = launcher.post_launch("x" * (300 * 1024), login.state)
    assert resp.status_code == 413
    assert "zu groß" in resp.text
    assert written(app) == {m.__tablename__: 0 for m in DOMAIN_TABLES}


@pytest.mark.parametrize(
    "body",
    [
        b"id_token=%ff%fe&state=%00%01",
        b"\x00\x01\x02garbage",
        b"id_token=&state=",
        b"state=" + b"s" * 1000 + b"&id_token=a.b.c",
        b"id_token[]=1&state[]=2",
    ],
)
def test_garbage_form_data(app: Flask, launcher: Launcher, body: bytes) -> None:
    resp = launcher.browser.post(
        launcher.launch_url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    assert resp.status_code == 400
    assert written(app) == {m.__tablename__: 0 for m in DOMAIN_TABLES}


def test_refusal_as_json_with_error_id_in_log(
    app: Flask, launcher: Launcher, caplog: pytest.LogCaptureFixture
) -> None:
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce, aud="someone-else"))
    with caplog.at_level(logging.WARNING, logger="lti_tool.errors"):
        resp = launcher.browser.post(
            launcher.launch_url,
            data={"id_token": token, "state": login.state},
            headers={"Accept": "application/json"},
            allow_redirects=False,
        )
    body = resp.json()
    assert resp.status_code == 400 and body["error"] == "aud_mismatch" and body["hint"]
    assert any(body["error_id"] in r.getMessage() for r in caplog.records)
    assert token not in caplog.text  # id_tokens are never logged


def test_english_refusal_page(app: Flask, launcher: Launcher) -> None:
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce, aud="someone-else"))
    resp = launcher.browser.post(
        launcher.launch_url,
        data={"id_token": token, "state": login.state},
        headers={"Accept-Language": "en"},
        allow_redirects=False,
    )
    assert resp.status_code == 400 and "different platform or client" in resp.text and "Error id" in resp.text


def test_a_key_set_nested_deeper_than_the_parser_goes(app: Flask, launcher: Launcher) -> None:
    launcher.peer.jwks_body = '{"keys": ' + "[" * 100000 + "]" * 100000 + "}"  # was a RecursionError: a 500
    assert_refused(app, launcher.launch(), "platform_keys_unavailable", status=502)


def test_a_slow_platform_does_not_hang_the_tool(app: Flask, launcher: Launcher) -> None:
    """Outbound requests have timeouts (pylti1p3 sets none): a JWKS endpoint that never answers is a clear refusal."""
    app.config["HTTP_READ_TIMEOUT"] = 0.5
    app.extensions.pop("nama_http", None)
    launcher.peer.jwks_delay = 3.0
    started = time.monotonic()
    resp = launcher.launch()
    assert time.monotonic() - started < 2.5
    assert_refused(app, resp, "platform_keys_unavailable", status=502)

"""OAuth 2 client credentials with a signed JWT client assertion (RFC 7523)."""

from __future__ import annotations

import time
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import SCOPES, FakeTool, Lms

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def request_token(lms: Lms, assertion: str, scope: str | None = None, **extra: str) -> requests.Response:
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        "scope": scope if scope is not None else " ".join(SCOPES.values()),
    }
    data.update(extra)
    return lms.http.post(f"{lms.url}/token", data=data, timeout=5)


def test_good_assertion_gets_a_token(lms: Lms) -> None:
    response = request_token(
        lms, lms.tool.assertion(f"{lms.url}/token"), f"{SCOPES['score']} {SCOPES['nrps']}"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == f"{SCOPES['score']} {SCOPES['nrps']}"
    assert body["access_token"]
    assert response.headers["Cache-Control"] == "no-store"
    stats = lms.stats()
    assert stats["token_requests"] == 1
    assert stats["by_status"]["token_requests"] == {"200": 1}


def test_aud_may_be_the_issuer_or_the_moodle_path(lms: Lms) -> None:
    assert request_token(lms, lms.tool.assertion(lms.url)).status_code == 200
    assert request_token(lms, lms.tool.assertion([f"{lms.url}/mod/lti/token.php", "x"])).status_code == 200  # type: ignore[arg-type]


def test_only_granted_scopes_are_answered(make_lms: Any, tool: FakeTool) -> None:
    lms: Lms = make_lms(TOOLS=[tool.config(scopes=[SCOPES["score"], SCOPES["result"]])])
    response = request_token(lms, tool.assertion(f"{lms.url}/token"), f"{SCOPES['score']} {SCOPES['nrps']}")
    assert response.json()["scope"] == SCOPES["score"]
    response = request_token(lms, tool.assertion(f"{lms.url}/token"), SCOPES["nrps"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_bad_signature(lms: Lms, other_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    forged = lms.tool.sign(
        {
            "iss": "nama-tool",
            "sub": "nama-tool",
            "aud": f"{lms.url}/token",
            "iat": now,
            "exp": now + 60,
            "jti": "j1",
        },
        key=other_key,
    )
    response = request_token(lms, forged)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_wrong_aud(lms: Lms) -> None:
    response = request_token(lms, lms.tool.assertion("https://other-lms.example/token"))
    assert response.status_code == 401
    assert "aud" in response.json()["error_description"]


def test_reused_jti(lms: Lms) -> None:
    assertion = lms.tool.assertion(f"{lms.url}/token", jti="same-jti")
    assert request_token(lms, assertion).status_code == 200
    again = request_token(lms, assertion)
    assert again.status_code == 401
    assert "jti" in again.json()["error_description"]


def test_expired_assertion(lms: Lms) -> None:
    now = int(time.time())
    response = request_token(lms, lms.tool.assertion(f"{lms.url}/token", iat=now - 600, exp=now - 300))
    assert response.status_code == 401
    assert "expired" in response.json()["error_description"].lower()


def test_iat_far_in_the_future(lms: Lms) -> None:
    now = int(time.time())
    response = request_token(lms, lms.tool.assertion(f"{lms.url}/token", iat=now + 600, exp=now + 900))
    assert response.status_code == 401


def test_small_clock_skew_is_fine(lms: Lms) -> None:
    now = int(time.time())
    assert request_token(lms, lms.tool.assertion(f"{lms.url}/token", iat=now + 20)).status_code == 200


def test_iss_must_equal_sub(lms: Lms) -> None:
    response = request_token(lms, lms.tool.assertion(f"{lms.url}/token", iss="someone-else"))
    assert response.status_code == 401


def test_missing_jti(lms: Lms) -> None:
    response = request_token(lms, lms.tool.assertion(f"{lms.url}/token", jti=None))
    assert response.status_code == 401


def test_unknown_client(lms: Lms) -> None:
    response = request_token(lms, lms.tool.assertion(f"{lms.url}/token", iss="nobody", sub="nobody"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_request_shape_errors(lms: Lms) -> None:
    assertion = lms.tool.assertion(f"{lms.url}/token")
    wrong_grant = request_token(lms, assertion, grant_type="authorization_code")
    assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")
    no_scope = request_token(lms, assertion, scope="")
    assert (no_scope.status_code, no_scope.json()["error"]) == (400, "invalid_request")
    as_json = lms.http.post(f"{lms.url}/token", json={"grant_type": "client_credentials"}, timeout=5)
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")


def test_tool_jwks_is_cached_and_refetched_once_on_unknown_kid(
    lms: Lms, tool: FakeTool, other_key: rsa.RSAPrivateKey
) -> None:
    before = tool.jwks_hits
    assert request_token(lms, tool.assertion(f"{lms.url}/token")).status_code == 200
    assert request_token(lms, tool.assertion(f"{lms.url}/token")).status_code == 200
    assert tool.jwks_hits == before + 1
    # Key rotation: the tool publishes a second key and signs with it.
    tool.extra_keys = [tool.public_jwk(other_key, "tool-key-2")]
    try:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": tool.client_id, "sub": tool.client_id, "aud": f"{lms.url}/token"}
        claims.update(iat=now, exp=now + 60, jti="rotated")
        rotated = tool.sign(claims, key=other_key, kid="tool-key-2")
        assert request_token(lms, rotated).status_code == 200
        assert tool.jwks_hits == before + 2
    finally:
        tool.extra_keys = []
    assert lms.stats()["tool_jwks_fetches"] == 2

"""Fixtures: a fake tool (an RSA key + its JWKS on a real socket) and a demo LMS served per test.

Everything goes over HTTP on 127.0.0.1, the way a real tool talks to the LMS.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify
from jwt.algorithms import RSAAlgorithm

from lti_tool.demo_lms import close_demo_lms, create_demo_lms, serve_in_thread
from lti_tool.demo_lms.keys import generate_private_pem

from ..forms import Form, field, forms

LTI = "https://purl.imsglobal.org/spec/lti"
AGS = "https://purl.imsglobal.org/spec/lti-ags"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim"
SCOPES = {
    "lineitem": f"{AGS}/scope/lineitem",
    "lineitem.readonly": f"{AGS}/scope/lineitem.readonly",
    "result": f"{AGS}/scope/result.readonly",
    "score": f"{AGS}/scope/score",
    "nrps": f"{NRPS}/scope/contextmembership.readonly",
}


class FakeTool:
    """The tool side: its keys, a JWKS endpoint (counting fetches), signing helpers."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "tool-key-1"
        self.extra_keys: list[dict[str, Any]] = []
        self.jwks_hits = 0
        app = Flask("fake_tool")

        @app.get("/jwks")
        def jwks() -> Any:
            self.jwks_hits += 1
            return jsonify({"keys": [self.public_jwk(self.key, self.kid), *self.extra_keys]})

        self.server = serve_in_thread(app)
        self.base = self.server.url
        self.client_id = "nama-tool"
        self.deployment_id = "1"

    @staticmethod
    def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        jwk.update(kid=kid, alg="RS256", use="sig")
        return jwk

    def config(self, **overrides: Any) -> dict[str, Any]:
        data = {
            "client_id": self.client_id,
            "deployment_id": self.deployment_id,
            "name": "NaMa-Werkzeug",
            "login_url": f"{self.base}/lti/login",
            "redirect_uris": [f"{self.base}/lti/launch"],
            "target_link_uri": f"{self.base}/lti/launch",
            "deep_link_url": f"{self.base}/lti/deep-link",
            "jwks_url": f"{self.base}/jwks",
            "scopes": list(SCOPES.values()),
        }
        data.update(overrides)
        return data

    def sign(
        self, claims: dict[str, Any], *, key: rsa.RSAPrivateKey | None = None, kid: str | None = None
    ) -> str:
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    def assertion(self, aud: str, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": aud,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return self.sign({k: v for k, v in claims.items() if v is not None})


class Lms:
    """A served demo LMS plus helpers that act like the tool would."""

    def __init__(self, app: Flask, tool: FakeTool) -> None:
        self.app = app
        self.tool = tool
        self.server = serve_in_thread(app)
        self.url = self.server.url
        self.http = requests.Session()

    def close(self) -> None:
        self.http.close()
        self.server.stop()
        close_demo_lms(self.app)

    # --- launches ---
    def login_params(self, **query: str) -> dict[str, str]:
        response = self.http.get(f"{self.url}/api/launch", params=query, timeout=5)
        assert response.status_code == 200, response.text
        params: dict[str, str] = response.json()["params"]
        return params

    def auth_params(self, login: dict[str, str], **overrides: str | None) -> dict[str, str]:
        params = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": login["client_id"],
            "redirect_uri": f"{self.tool.base}/lti/launch",
            "login_hint": login["login_hint"],
            "lti_message_hint": login["lti_message_hint"],
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
        }
        params.update(overrides)  # type: ignore[arg-type]
        return {k: v for k, v in params.items() if v is not None}

    def launch(self, **query: str) -> tuple[Form, dict[str, Any], dict[str, str]]:
        """Login initiation -> /auth; returns the form, the verified id_token claims and the auth params."""
        params = self.auth_params(self.login_params(**query))
        response = self.http.get(f"{self.url}/auth", params=params, timeout=5)
        assert response.status_code == 200, response.text
        form = forms(response.text)[0]
        claims = self.verify_id_token(field(response.text, "id_token"))
        return form, claims, params

    def verify_id_token(self, token: str) -> dict[str, Any]:
        jwks = self.http.get(f"{self.url}/jwks", timeout=5).json()
        kid = jwt.get_unverified_header(token)["kid"]
        jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
        claims: dict[str, Any] = jwt.decode(
            token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=self.tool.client_id, issuer=self.url
        )
        return claims

    # --- services ---
    def token(self, *scopes: str) -> str:
        response = self.http.post(
            f"{self.url}/token",
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.tool.assertion(f"{self.url}/token"),
                "scope": " ".join(scopes or SCOPES.values()),
            },
            timeout=5,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def lineitem_url(self, activity_id: int = 1) -> str:
        activities = self.http.get(f"{self.url}/api/activities", timeout=5).json()
        activity = next(a for a in activities if a["id"] == activity_id)
        url: str = activity["line_items"][0]["url"]
        return url

    def post_score(self, lineitem_url: str, token: str | None, **score: Any) -> requests.Response:
        body = {
            "userId": "4",
            "timestamp": iso_now(),
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "scoreGiven": 80,
            "scoreMaximum": 100,
        }
        body.update(score)
        body = {k: v for k, v in body.items() if v is not None}
        base, _, query = lineitem_url.partition("?")
        headers = {"Content-Type": "application/vnd.ims.lis.v1.score+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.post(f"{base}/scores?{query}", json=body, headers=headers, timeout=5)

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.http.get(f"{self.url}/api/stats", timeout=5).json()
        return stats


def iso_now(offset: float = 0.0) -> str:
    import datetime as dt

    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)).isoformat(timespec="milliseconds")


@pytest.fixture(scope="session")
def platform_pem() -> str:
    return generate_private_pem()


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    """A key the LMS does not know (forged signatures, key rotation)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def tool() -> Iterator[FakeTool]:
    fake = FakeTool()
    yield fake
    fake.server.stop()


@pytest.fixture
def make_lms(tool: FakeTool, platform_pem: str) -> Iterator[Any]:
    """Factory: make_lms(**config) -> a served Lms with the fake tool pre-registered (unless TOOLS given)."""
    made: list[Lms] = []

    def make(**config: Any) -> Lms:
        settings: dict[str, Any] = {
            "TOOLS": [tool.config()],
            "FAULTS_ENABLED": True,
            "PLATFORM_KEY_PEM": platform_pem,
        }
        settings.update(config)
        lms = Lms(create_demo_lms(settings), tool)
        made.append(lms)
        return lms

    yield make
    for lms in made:
        lms.close()


@pytest.fixture
def lms(make_lms: Any) -> Lms:
    result: Lms = make_lms()
    return result

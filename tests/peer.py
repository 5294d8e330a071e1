"""A platform peer for tests: its own RSA keys and JWKS served over HTTP, and id_tokens it signs itself.

It does only what a platform does in a launch from the tool's point of view; the tool talks to it over HTTP
(fetching its JWKS), and the tests drive the tool over HTTP like a browser the platform redirected.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import make_server

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
INSTRUCTOR = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]


def claim(name: str, value: Any) -> dict[str, Any]:
    """One LTI claim as keyword overrides for a launch: `launcher.launch(**claim("version", "1.1"))`."""
    return {LTI + name: value}


class ServerThread:
    """A WSGI app on 127.0.0.1:<free port> in a daemon thread (threaded: requests may call back)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = make_server(host, port, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}"
        # A short poll interval: stop() waits for it, once per server per test (0.05 s made the tool's and the
        # peer's stops ~55 ms of a test's ~300 ms; a wake-up every 10 ms costs an idle server next to nothing).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


_POOL: list[rsa.RSAPrivateKey] = []
_POOL_SIZE = 4
_TURN = itertools.count()


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        """A key made now, which no peer holds (an impostor's, a rotation's)."""
        return cls(kid=uuid.uuid4().hex[:16], private=_new_rsa_key())

    @classmethod
    def pooled(cls) -> SigningKey:
        """A peer's own key, with a fresh kid: one of a few keys made once per process, in turn. Making a 2048-bit
        RSA key costs 0.1-0.4 s of CPU and most tests start a peer; the platforms of one test still never share
        a key (consecutive peers get different ones), and `generate` makes a key none of them has."""
        if len(_POOL) < _POOL_SIZE:
            _POOL.append(_new_rsa_key())
            private = _POOL[-1]
        else:
            private = _POOL[next(_TURN) % _POOL_SIZE]
        return cls(kid=uuid.uuid4().hex[:16], private=private)

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return jwk


@dataclass
class PeerPlatform:
    issuer: str = ""
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.pooled()])
    jwks_fetches: int = 0
    jwks_delay: float = 0.0
    jwks_body: str | None = None  # served as it is instead of the keys (a garbled key set)
    server: ServerThread | None = None

    def start(self) -> PeerPlatform:
        app = Flask("peer-platform")

        @app.get("/jwks")
        def jwks() -> Any:
            self.jwks_fetches += 1
            time.sleep(self.jwks_delay)
            if self.jwks_body is not None:
                return Response(self.jwks_body, mimetype="application/json")
            return jsonify({"keys": [k.public_jwk() for k in self.keys]})

        self.server = ServerThread(app)
        self.issuer = self.issuer or self.server.url
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop()

    @property
    def jwks_url(self) -> str:
        assert self.server
        return self.server.url + "/jwks"

    @property
    def auth_url(self) -> str:
        assert self.server
        return self.server.url + "/auth"

    @property
    def token_url(self) -> str:
        assert self.server
        return self.server.url + "/token"

    def sign(
        self,
        claims: dict[str, Any],
        *,
        key: SigningKey | None = None,
        headers: dict[str, Any] | None = None,
        alg: str = "RS256",
    ) -> str:
        key = key or self.keys[0]
        hdr = {"kid": key.kid}
        hdr.update(headers or {})
        return jwt.encode(claims, key.private, algorithm=alg, headers=hdr)


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = _Default()


@dataclass
class LoginResult:
    state: str
    nonce: str
    redirect_uri: str
    client_id: str
    response: requests.Response


class Launcher:
    """Drives the tool like a browser that the platform sends through OIDC login and launch."""

    def __init__(self, tool_url: str, peer: PeerPlatform, client_id: str, deployment_id: str) -> None:
        self.tool_url = tool_url.rstrip("/")
        self.peer = peer
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.browser = requests.Session()

    @property
    def launch_url(self) -> str:
        return self.tool_url + "/lti/launch"

    def login(self, method: str = "GET", **overrides: Any) -> LoginResult:
        params = {
            "iss": self.peer.issuer,
            "login_hint": "user-1",
            "target_link_uri": self.launch_url,
            "lti_message_hint": "hint-1",
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }
        params.update({k: v for k, v in overrides.items() if v is not None})
        for k in [k for k, v in overrides.items() if v is None]:
            params.pop(k, None)
        url = self.tool_url + "/lti/login"
        if method == "GET":
            resp = self.browser.get(url, params=params, allow_redirects=False)
        else:
            resp = self.browser.post(url, data=params, allow_redirects=False)
        assert resp.status_code == 302, (resp.status_code, resp.text[:500])
        location = resp.headers["Location"]
        q = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        return LoginResult(q["state"], q["nonce"], q["redirect_uri"], q["client_id"], resp)

    def claims(self, nonce: str, /, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.peer.issuer,
            "aud": self.client_id,
            "sub": "user-1",
            "iat": now,
            "exp": now + 60,
            "nonce": nonce,
            "name": "Lea Schneider",
            "given_name": "Lea",
            "family_name": "Schneider",
            "email": "lea.schneider@example.org",
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": self.launch_url,
            LTI + "resource_link": {"id": "rl-1", "title": "Grundlagenkurs"},
            LTI + "context": {"id": "course-1", "label": "NaMa", "title": "NaMa NRW Demo"},
            LTI + "roles": LEARNER,
            LTI + "launch_presentation": {"document_target": "iframe", "locale": "de-DE"},
            LTI + "custom": {"course": "grundlagenkurs"},
        }
        for k, v in overrides.items():
            if v is _DROP:
                claims.pop(k, None)
            else:
                claims[k] = v
        return claims

    @property
    def platform_origin(self) -> str:
        """Where the platform's auto-submitting launch form is served from (its authorisation endpoint)."""
        parts = urlsplit(self.peer.auth_url)
        return f"{parts.scheme}://{parts.netloc}"

    def post_launch(
        self, id_token: str, state: str, *, origin: str | _Default | None = DEFAULT, **extra: str
    ) -> requests.Response:
        """POST the launch as a browser posts the platform's form: with `Origin` (None: no Origin header)."""
        data = {"id_token": id_token, "state": state}
        data.update(extra)
        sent = self.platform_origin if isinstance(origin, _Default) else origin
        headers = {"Origin": sent} if sent is not None else {}
        return self.browser.post(self.launch_url, data=data, headers=headers, allow_redirects=False)

    def launch(
        self,
        *,
        sign_key: SigningKey | None = None,
        headers: dict[str, Any] | None = None,
        **claim_overrides: Any,
    ) -> requests.Response:
        login = self.login()
        token = self.peer.sign(self.claims(login.nonce, **claim_overrides), key=sign_key, headers=headers)
        return self.post_launch(token, login.state)

    def launch_and_follow(self, **claim_overrides: Any) -> requests.Response:
        resp = self.launch(**claim_overrides)
        assert resp.status_code == 303, (resp.status_code, resp.text[:800])
        return self.browser.get(
            self.tool_url + resp.headers["Location"]
            if resp.headers["Location"].startswith("/")
            else resp.headers["Location"]
        )


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


_DROP = _Drop()
DROP: Any = _DROP


def random_string() -> str:
    return secrets.token_hex(8)

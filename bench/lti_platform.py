"""A benchmark LTI 1.3 platform, run as its own process: one RSA key, several registered tools.

    python bench/lti_platform.py --port 9051 \
        --tool CLIENT_ID,LOGIN_URL,LAUNCH_URL,JWKS_URL[,DEPLOYMENT_ID] [--tool ...]

What it serves (all on 127.0.0.1):
  GET  /jwks                   the platform's public key set (counted: jwks_fetches)
  GET|POST /auth               OIDC authentication request (LTI 1.3 Core §5.1.1.2): checks scope,
                               response_type, response_mode, prompt, client_id, redirect_uri (exact match with
                               the registered launch URL), login_hint, lti_message_hint, nonce (never seen
                               before) and state; answers an HTML page with a form that posts id_token + state
                               to the redirect_uri (what Moodle's auth.php does). Refusals: 400 + reason.
  POST /token                  OAuth 2 client_credentials with a signed JWT client assertion (RFC 7523),
                               checked against the tool's JWKS (fetched once, re-fetched on an unknown kid)
  POST /ags/<ctx>/lineitems/<item>/lineitem/scores   AGS score post (Bearer token from /token)
  GET  /ags/<ctx>/lineitems[/<item>/lineitem]          line items (one per context)
  GET  /nrps/<ctx>/memberships  a small NRPS roster
  GET  /stats                  counters as JSON (the driver reads them before and after a run)
  GET  /healthz                "ok"

Every id_token carries the same claims for every tool (see `launch_claims`): Learner role, context course-1,
resource link rl-1, AGS claim (lineitem, lineitems, scopes), NRPS claim, custom course=grundlagenkurs.
The login_hint names the user (`learner-<n>`), the lti_message_hint the resource link (`rl-1`).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import secrets
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import Request, urlopen

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
STUDENT = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
CONTEXT_ID = "course-1"
RESOURCE_LINK_ID = "rl-1"
LOGIN_HINT = re.compile(r"^learner-(\d{1,9})$")
FIRST_NAMES = ["Lea", "Jonas", "Mia", "Paul", "Emma", "Ben", "Hannah", "Elias", "Sophie", "Noah"]
LAST_NAMES = ["Schneider", "Müller", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch"]


@dataclass
class Tool:
    client_id: str
    login_url: str
    launch_url: str
    jwks_url: str
    deployment_id: str = "deploy-1"
    jwks: dict[str, Any] | None = None


def parse_tool(spec: str) -> Tool:
    parts = spec.split(",")
    if len(parts) not in (4, 5):
        raise argparse.ArgumentTypeError("--tool CLIENT_ID,LOGIN_URL,LAUNCH_URL,JWKS_URL[,DEPLOYMENT_ID]")
    return Tool(*parts)


@dataclass
class Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    values: dict[str, int] = field(default_factory=dict)

    def inc(self, name: str, by: int = 1) -> None:
        with self.lock:
            self.values[name] = self.values.get(name, 0) + by

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.values)


class Platform:
    def __init__(self, issuer: str, tools: list[Tool]) -> None:
        self.issuer = issuer.rstrip("/")
        self.tools = {t.client_id: t for t in tools}
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "bench-" + uuid.uuid4().hex[:12]
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        self.jwks_body = json.dumps({"keys": [jwk]}).encode()
        self.counters = Counters()
        self.seen_nonces: set[tuple[str, str]] = set()
        self.tokens: dict[str, tuple[str, float]] = {}  # access token -> (client_id, expires)
        self.lock = threading.Lock()

    # --- OIDC authentication -----------------------------------------------------------------------

    def launch_claims(self, tool: Tool, user: int, nonce: str) -> dict[str, Any]:
        now = int(time.time())
        given, family = FIRST_NAMES[user % len(FIRST_NAMES)], LAST_NAMES[user % len(LAST_NAMES)]
        ags_base = f"{self.issuer}/ags/{CONTEXT_ID}/lineitems"
        return {
            "iss": self.issuer,
            "aud": tool.client_id,
            "azp": tool.client_id,
            "sub": f"learner-{user}",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": f"{given} {family}",
            "given_name": given,
            "family_name": family,
            "email": f"learner{user}@example.org",
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": tool.deployment_id,
            LTI + "target_link_uri": tool.launch_url,
            LTI + "resource_link": {"id": RESOURCE_LINK_ID, "title": "Grundlagenkurs"},
            LTI + "context": {
                "id": CONTEXT_ID,
                "label": "NaMa",
                "title": "NaMa NRW Grundlagen",
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            },
            LTI + "roles": [LEARNER, STUDENT],
            LTI + "tool_platform": {
                "guid": "bench-platform",
                "name": "Bench platform",
                "product_family_code": "moodle",
                "version": "2024100700",
            },
            LTI + "launch_presentation": {
                "document_target": "iframe",
                "locale": "de",
                "return_url": f"{self.issuer}/return",
            },
            LTI + "custom": {"course": "grundlagenkurs"},
            AGS: {
                "scope": AGS_SCOPES,
                "lineitems": ags_base,
                "lineitem": f"{ags_base}/1/lineitem",
            },
            NRPS: {
                "context_memberships_url": f"{self.issuer}/nrps/{CONTEXT_ID}/memberships",
                "service_versions": ["2.0"],
            },
        }

    def authenticate(self, params: dict[str, str]) -> tuple[int, str, bytes]:
        self.counters.inc("auth_requests")
        expected = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post"}
        for name, value in expected.items():
            if params.get(name) != value:
                return self._refuse(f"{name} must be {value!r}")
        if params.get("prompt", "none") != "none":
            return self._refuse("prompt must be 'none'")
        tool = self.tools.get(params.get("client_id", ""))
        if tool is None:
            return self._refuse("unknown client_id")
        if params.get("redirect_uri") != tool.launch_url:
            return self._refuse("redirect_uri is not the tool's registered launch URL")
        match = LOGIN_HINT.match(params.get("login_hint", ""))
        if not match:
            return self._refuse("unknown login_hint")
        if params.get("lti_message_hint") != RESOURCE_LINK_ID:
            return self._refuse("unknown lti_message_hint")
        nonce, state = params.get("nonce", ""), params.get("state", "")
        if not nonce or len(nonce) > 512 or not state or len(state) > 2048:
            return self._refuse("nonce and state are required")
        with self.lock:
            if (tool.client_id, nonce) in self.seen_nonces:
                return self._refuse("nonce already used")
            self.seen_nonces.add((tool.client_id, nonce))
        claims = self.launch_claims(tool, int(match.group(1)), nonce)
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        self.counters.inc("id_tokens")
        page = (
            "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Launching…</title></head>"
            "<body onload='document.forms[0].submit()'>\n"
            f'<form method="post" action="{html.escape(tool.launch_url)}">\n'
            f'<input type="hidden" name="id_token" value="{html.escape(id_token)}">\n'
            f'<input type="hidden" name="state" value="{html.escape(state)}">\n'
            '<noscript><button type="submit">Continue</button></noscript>\n</form></body></html>\n'
        )
        return 200, "text/html; charset=utf-8", page.encode()

    def _refuse(self, reason: str) -> tuple[int, str, bytes]:
        self.counters.inc("auth_refused")
        return 400, "text/plain; charset=utf-8", f"authentication refused: {reason}\n".encode()

    # --- OAuth 2 token endpoint --------------------------------------------------------------------

    def _tool_key(self, tool: Tool, kid: str | None) -> Any:
        for attempt in range(2):
            if tool.jwks is None or attempt == 1:
                with urlopen(Request(tool.jwks_url, headers={"Accept": "application/json"}), timeout=5) as r:
                    tool.jwks = json.loads(r.read())
                self.counters.inc("tool_jwks_fetches")
            for key in tool.jwks.get("keys", []):  # type: ignore[union-attr]
                if kid is None or key.get("kid") == kid:
                    return RSAAlgorithm.from_jwk(json.dumps(key))
        raise ValueError(f"kid {kid!r} not in the tool's key set")

    def token(self, params: dict[str, str]) -> tuple[int, str, bytes]:
        self.counters.inc("token_requests")

        def refuse(error: str, description: str) -> tuple[int, str, bytes]:
            self.counters.inc("token_refused")
            body = {"error": error, "error_description": description}
            return 400, "application/json", json.dumps(body).encode()

        if params.get("grant_type") != "client_credentials":
            return refuse("unsupported_grant_type", "grant_type must be client_credentials")
        if params.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return refuse("invalid_request", "client_assertion_type must be jwt-bearer")
        assertion = params.get("client_assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            tool = self.tools[unverified.get("sub") or unverified.get("iss")]
            key = self._tool_key(tool, jwt.get_unverified_header(assertion).get("kid"))
            claims = jwt.decode(
                assertion,
                key,
                algorithms=["RS256", "RS384", "RS512"],
                audience=[f"{self.issuer}/token", self.issuer],
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
                leeway=60,
            )
        except (jwt.InvalidTokenError, KeyError, ValueError, OSError) as exc:
            return refuse("invalid_client", f"{type(exc).__name__}: {exc}")
        if claims["iss"] != tool.client_id or claims["sub"] != tool.client_id:
            return refuse("invalid_client", "iss and sub must be the client_id")
        access = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[access] = (tool.client_id, time.time() + 3600)
        self.counters.inc("tokens_issued")
        scope = params.get("scope", " ".join(AGS_SCOPES))
        body = {"access_token": access, "token_type": "Bearer", "expires_in": 3600, "scope": scope}
        return 200, "application/json", json.dumps(body).encode()

    def bearer_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self.lock:
            hit = self.tokens.get(header[7:])
        return hit is not None and hit[1] > time.time()

    def lineitem(self, ctx: str, item: str) -> dict[str, Any]:
        return {
            "id": f"{self.issuer}/ags/{ctx}/lineitems/{item}/lineitem",
            "scoreMaximum": 100,
            "label": "Grundlagenkurs",
            "resourceLinkId": RESOURCE_LINK_ID,
        }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bench-platform"
    platform: Platform  # set on the subclass made in main()

    def log_message(self, format: str, *args: Any) -> None:  # no access log: it would cost CPU
        pass

    def _send(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, body: Any, content_type: str = "application/json") -> None:
        self._send(status, content_type, json.dumps(body).encode())

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def do_GET(self) -> None:
        p = self.platform
        url = urlsplit(self.path)
        parts = [x for x in url.path.split("/") if x]
        if url.path == "/jwks":
            p.counters.inc("jwks_fetches")
            self._send(200, "application/json", p.jwks_body)
        elif url.path == "/auth":
            self._send(*p.authenticate({k: v[0] for k, v in parse_qs(url.query).items()}))
        elif url.path == "/stats":
            self._json(200, p.counters.snapshot())
        elif url.path == "/healthz":
            self._send(200, "text/plain", b"ok\n")
        elif len(parts) >= 3 and parts[0] == "ags" and parts[2] == "lineitems":
            if not p.bearer_ok(self.headers.get("Authorization")):
                self._json(401, {"error": "invalid_token"})
            elif len(parts) == 3:
                self._json(
                    200, [p.lineitem(parts[1], "1")], "application/vnd.ims.lis.v2.lineitemcontainer+json"
                )
            else:
                self._json(200, p.lineitem(parts[1], parts[3]), "application/vnd.ims.lis.v2.lineitem+json")
        elif len(parts) == 3 and parts[0] == "nrps" and parts[2] == "memberships":
            if not p.bearer_ok(self.headers.get("Authorization")):
                self._json(401, {"error": "invalid_token"})
                return
            p.counters.inc("nrps_requests")
            members = [
                {"status": "Active", "user_id": f"learner-{n}", "roles": [LEARNER], "name": f"Learner {n}"}
                for n in range(20)
            ]
            body = {"id": self.path, "context": {"id": parts[1]}, "members": members}
            self._json(200, body, "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
        else:
            self._send(404, "text/plain", b"not found\n")

    def do_POST(self) -> None:
        p = self.platform
        url = urlsplit(self.path)
        parts = [x for x in url.path.split("/") if x]
        if url.path == "/auth":
            self._send(*p.authenticate(self._form()))
        elif url.path == "/token":
            self._send(*p.token(self._form()))
        elif len(parts) == 6 and parts[0] == "ags" and parts[-1] == "scores":
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not p.bearer_ok(self.headers.get("Authorization")):
                p.counters.inc("scores_refused")
                self._json(401, {"error": "invalid_token"})
                return
            try:
                score = json.loads(raw)
                ok = all(k in score for k in ("userId", "activityProgress", "gradingProgress", "timestamp"))
            except ValueError:
                ok = False
            if not ok:
                p.counters.inc("scores_refused")
                self._json(400, {"error": "Incorrect score received"})
                return
            p.counters.inc("scores_received")
            self._send(200, "application/json", b"{}")
        else:
            self._send(404, "text/plain", b"not found\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # listen backlog: the driver opens many connections at once


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=9051)
    ap.add_argument("--issuer", default="", help="platform iss (default http://127.0.0.1:PORT)")
    ap.add_argument("--tool", type=parse_tool, action="append", default=[], help="a registered tool")
    args = ap.parse_args(argv)
    issuer = args.issuer or f"http://127.0.0.1:{args.port}"
    platform = Platform(issuer, args.tool)
    handler = type("BoundHandler", (Handler,), {"platform": platform})
    server = Server(("127.0.0.1", args.port), handler)
    print(f"bench platform {issuer} with {len(args.tool)} tool(s), kid {platform.kid}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

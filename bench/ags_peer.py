"""A minimal, fast AGS platform for bench/grades.py: OAuth2 token endpoint, line items, scores, counters.

Why not the demo LMS: it keeps Moodle's behaviour in an in-memory SQLite database behind one lock and
three transactions per score, which caps it well below what the tool's workers deliver; this peer only
has to be faster than the tool so the benchmark measures the tool. It still does the work a platform
must: verifies each client assertion's signature against the tool's JWKS (fetched once over HTTP, as
Moodle caches it), checks iss/sub/aud/exp and single-use jti, checks the bearer token and the score's
required fields, refuses a timestamp not newer than the stored one (409), and counts everything.

    python bench/ags_peer.py --port 9301 --client-id nama-bench --tool-jwks http://127.0.0.1:9300/.well-known/jwks.json

Routes: POST /token; GET|POST /lineitems; POST /lineitems/<id>/lineitem/scores; GET /stats; GET /scores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import secrets
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import jwt
import requests
from werkzeug.serving import make_server

SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"


class Peer:
    def __init__(self, base: str, client_id: str, jwks_url: str) -> None:
        self.base = base
        self.client_id = client_id
        self.jwks_url = jwks_url
        self.keys: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.tokens: dict[str, float] = {}
        self.jtis: set[str] = set()
        self.items: dict[int, dict[str, Any]] = {1: {"label": "Kurs", "resourceId": "", "tag": ""}}
        self.grades: dict[tuple[int, str], dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()

    # --- plumbing ---
    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            status, headers, out = self.route(method, path, environ, body)
        except Exception as exc:  # a bug here should be visible in the counts, not kill the server
            status, headers, out = 500, {}, json.dumps({"error": str(exc)}).encode()
        with self.lock:
            self.counts[f"{self.kind(path)}:{status}"] += 1
        start_response(f"{status} X", [("Content-Type", "application/json"), *headers.items()])
        return [out]

    @staticmethod
    def kind(path: str) -> str:
        if path == "/token":
            return "token_requests"
        if path.endswith("/scores"):
            return "score_posts"
        if path.startswith("/lineitems"):
            return "lineitem_requests"
        return "other"

    def route(
        self, method: str, path: str, environ: dict[str, Any], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if path == "/token" and method == "POST":
            return self.token(body)
        if path == "/stats":
            with self.lock:
                counts = dict(self.counts)
            return 200, {}, json.dumps(counts).encode()
        if path == "/scores":
            with self.lock:
                rows = [{"item": k[0], "userId": k[1], **v} for k, v in self.grades.items()]
            return 200, {}, json.dumps(rows).encode()
        if not self.authorized(environ):
            return 401, {}, b'{"error": "invalid_token"}'
        if path == "/lineitems":
            return self.lineitems(method, environ, body)
        parts = path.strip("/").split("/")
        if method == "POST" and len(parts) == 4 and parts[0] == "lineitems" and parts[3] == "scores":
            return self.score(int(parts[1]), environ, body)
        return 404, {}, b'{"error": "not found"}'

    # --- OAuth 2 ---
    def key(self, kid: str) -> Any:
        if kid not in self.keys:
            for jwk in requests.get(self.jwks_url, timeout=10).json()["keys"]:
                self.keys[jwk["kid"]] = jwt.PyJWK(jwk).key
        return self.keys[kid]

    def token(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        assertion = form.get("client_assertion", "")
        try:
            claims = jwt.decode(
                assertion,
                self.key(jwt.get_unverified_header(assertion)["kid"]),
                algorithms=["RS256"],
                audience=self.base + "/token",
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            )
        except Exception as exc:
            return 401, {}, json.dumps({"error": "invalid_client", "error_description": str(exc)}).encode()
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
            return 401, {}, b'{"error": "invalid_client"}'
        token = secrets.token_hex(16)
        with self.lock:
            if claims["jti"] in self.jtis:
                return 401, {}, b'{"error": "invalid_client", "error_description": "jti replayed"}'
            self.jtis.add(claims["jti"])
            self.tokens[token] = time.time() + 3600
        out = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": form.get("scope", ""),
        }
        return 200, {}, json.dumps(out).encode()

    def authorized(self, environ: dict[str, Any]) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        expires = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        return expires is not None and expires > time.time()

    # --- AGS ---
    def item_json(self, item_id: int) -> dict[str, Any]:
        item = self.items[item_id]
        return {"id": f"{self.base}/lineitems/{item_id}/lineitem", "scoreMaximum": 100, **item}

    def lineitems(
        self, method: str, environ: dict[str, Any], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "GET":
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            with self.lock:
                found = [
                    self.item_json(i)
                    for i, item in self.items.items()
                    if all(
                        item.get(f) == query[q]
                        for q, f in (("resource_id", "resourceId"), ("tag", "tag"))
                        if q in query
                    )
                ]
            return 200, {}, json.dumps(found).encode()
        data = json.loads(body)
        with self.lock:
            item_id = max(self.items) + 1
            self.items[item_id] = {
                "label": data["label"],
                "resourceId": data.get("resourceId", ""),
                "tag": data.get("tag", ""),
            }
            out = self.item_json(item_id)
        return 201, {}, json.dumps(out).encode()

    def score(self, item_id: int, environ: dict[str, Any], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if environ.get("CONTENT_TYPE", "").split(";")[0] != SCORE_TYPE or item_id not in self.items:
            return 400, {}, b'{"error": "bad request"}'
        score = json.loads(body)
        if any(score.get(f) is None for f in ("userId", "timestamp", "activityProgress", "gradingProgress")):
            return 400, {}, b'{"reason": "Incorrect score received"}'
        stamp = dt.datetime.fromisoformat(score["timestamp"])
        key = (item_id, str(score["userId"]))
        with self.lock:
            held = self.grades.get(key)
            if held is not None and dt.datetime.fromisoformat(held["timestamp"]) >= stamp:
                return 409, {}, b'{"reason": "not newer"}'
            self.grades[key] = {**score, "received": time.time()}
        return 200, {}, b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--tool-jwks", required=True, help="the tool's JWKS URL")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", args.port, Peer(base, args.client_id, args.tool_jwks), threaded=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

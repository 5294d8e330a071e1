"""Browser fixtures: Debian's Chromium through Playwright, an "LMS" on another site that embeds the tool in an
iframe and launches it there (OIDC login + signed id_token, as Moodle's default "embed" container does), and axe-core.

The tool runs on http://127.0.0.1:<port>, the LMS page on http://localhost:<port>: two different sites, so the
tool lives in a third-party iframe where Chromium blocks its cookies (the session travels in the URL).

Reusable by every browser test (learner and instructor pages):
- `chromium`: the browser (skips the test when /usr/bin/chromium is missing, fails with NAMA_REQUIRE_BROWSER=1);
- `lms`: the embedding platform, registered with the tool; `lms.course_url(sub, roles=…)` is its course page;
- `open_in_lms(page, sub, …)`: go to that page and return the tool's frame once the launch landed;
- `assert_no_axe_violations(frame_or_page, label)`: axe-core, WCAG 2.0/2.1 A and AA rules.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask, Response, jsonify, request

from lti_tool.db import session_scope
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.security import platform_origins

from ..peer import LEARNER, Launcher, PeerPlatform, ServerThread

LMS_CLIENT_ID = "lms-client"
LMS_DEPLOYMENT_ID = "lms-deployment"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@dataclass
class EmbeddingLms(PeerPlatform):
    """A platform peer on http://localhost:<port> with an OIDC auth endpoint and a course page with an iframe."""

    tool_url: str = ""
    claims_for: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start(self) -> EmbeddingLms:
        app = Flask("embedding-lms")
        launcher = Launcher(self.tool_url, self, LMS_CLIENT_ID, LMS_DEPLOYMENT_ID)

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify({"keys": [k.public_jwk() for k in self.keys]})

        @app.get("/auth")
        def auth() -> Response:
            """The platform's OIDC authorisation endpoint: sign an id_token, post it to the tool (form_post)."""
            args = request.args
            assert args["redirect_uri"] == launcher.launch_url, args["redirect_uri"]
            assert args["client_id"] == LMS_CLIENT_ID
            sub = args["login_hint"]
            claims = launcher.claims(args["nonce"], sub=sub, **(self.claims_for.get(sub) or {}))
            token = self.sign(claims)
            body = (
                "<!doctype html><html lang='de'><head><title>Weiterleitung</title></head><body>"
                f"<form method='post' action='{html.escape(args['redirect_uri'])}'>"
                f"<input type='hidden' name='id_token' value='{html.escape(token)}'>"
                f"<input type='hidden' name='state' value='{html.escape(args['state'])}'>"
                "<noscript><button>Weiter</button></noscript></form>"
                "<script>document.forms[0].submit()</script></body></html>"
            )
            return Response(body, mimetype="text/html")

        @app.get("/course/<sub>")
        def course(sub: str) -> Response:
            """The LMS's course page with the tool embedded (Moodle's default launch container)."""
            login = (
                launcher.tool_url
                + "/lti/login?"
                + urlencode(
                    {
                        "iss": self.issuer,
                        "login_hint": sub,
                        "target_link_uri": launcher.launch_url,
                        "lti_message_hint": "activity-1",
                        "client_id": LMS_CLIENT_ID,
                        "lti_deployment_id": LMS_DEPLOYMENT_ID,
                    }
                )
            )
            body = (
                "<!doctype html><html lang='de'><head><meta charset='utf-8'>"
                "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                "<title>Moodle: NaMa NRW</title>"
                "<style>body{margin:0;font-family:sans-serif}h1{font-size:1rem;margin:4px}"
                "iframe{display:block;width:100%;height:2400px;border:0}</style></head><body>"
                "<h1>Moodle-Kurs NaMa NRW</h1>"
                f"<iframe title='Grundlagenkurs' src='{html.escape(login)}'></iframe></body></html>"
            )
            return Response(body, mimetype="text/html")

        self.server = ServerThread(app)
        self.issuer = f"http://localhost:{self.server.port}"
        return self

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/jwks"

    @property
    def auth_url(self) -> str:
        return self.issuer + "/auth"

    @property
    def token_url(self) -> str:
        return self.issuer + "/token"

    def course_url(self, sub: str, **claims: Any) -> str:
        """The course page for this user; `claims` override the id_token's claims (roles, custom, names)."""
        self.claims_for[sub] = claims
        return f"{self.issuer}/course/{sub}"

    def http_launcher(self) -> Launcher:
        """A launcher driving the same platform over plain HTTP (for other learners set up by the test)."""
        return Launcher(self.tool_url, self, LMS_CLIENT_ID, LMS_DEPLOYMENT_ID)


@pytest.fixture
def lms(app: Flask, tool_server: ServerThread) -> Iterator[EmbeddingLms]:
    platform = EmbeddingLms(tool_url=tool_server.url).start()
    spec = PlatformSpec(
        issuer=platform.issuer,
        client_id=LMS_CLIENT_ID,
        auth_login_url=platform.auth_url,
        auth_token_url=platform.token_url,
        jwks_url=platform.jwks_url,
        name="Embedding LMS",
    )
    with session_scope(app, write=True) as s:
        add_platform(s, spec, LMS_DEPLOYMENT_ID)
    platform_origins(app).invalidate()  # frame-ancestors must name the new platform now
    yield platform
    platform.stop()


def open_in_lms(page: Any, lms: EmbeddingLms, sub: str = "learner-1", **claims: Any) -> Any:
    """Open the LMS course page for `sub` and return the tool's frame once the launch has landed in it."""
    claims.setdefault("https://purl.imsglobal.org/spec/lti/claim/roles", LEARNER)
    page.goto(lms.course_url(sub, **claims))
    frame = page.wait_for_selector("iframe").content_frame()
    assert frame is not None
    frame.wait_for_url("**/s/**", timeout=15000)
    frame.wait_for_load_state()
    return frame


def axe_violations(target: Any) -> list[dict[str, Any]]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        target,
        options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
    )
    assert results.response["url"] == target.url  # axe checked this document, not the embedding page
    violations: list[dict[str, Any]] = results.response["violations"]
    return violations


def assert_no_axe_violations(target: Any, label: str) -> None:
    violations = axe_violations(target)
    if violations:
        report = [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [
                    n["html"][:200] + " | " + n.get("failureSummary", "")[:300] for n in v["nodes"][:5]
                ],
            }
            for v in violations
        ]
        print(f"axe violations on {label}:\n" + json.dumps(report, indent=2, ensure_ascii=False))
    assert not violations, (
        f"{len(violations)} axe rule(s) violated on {label}: {[v['id'] for v in violations]}"
    )


BARE_BREAKS_JS = """
() => {
  // Every line break inside a word of a heading, table cell or legend: the character before it must be a
  // hyphen (soft or written), a dash or a slash; anything else is a word torn apart without a hyphen.
  const allowed = new Set(['\\u00ad', '-', '\\u2010', '\\u2013', '/']);
  const found = [];
  for (const el of document.querySelectorAll('h1, h2, h3, h4, th, td, legend, caption')) {
    if (el.closest('.visually-hidden')) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.data;
      let top = null;
      for (let i = 0; i < text.length; i++) {
        const ch = text[i];
        if (/\\s/.test(ch)) { top = null; continue; }
        if (ch === '\\u00ad') continue;
        range.setStart(node, i); range.setEnd(node, i + 1);
        const rects = range.getClientRects();  // a range at a line break may also give a rect at the line's end
        const rect = rects[rects.length - 1];
        if (!rect || rect.width === 0) continue;
        if (top !== null && rect.top > top + rect.height / 2) {
          if (!allowed.has(text[i - 1])) {
            const start = text.lastIndexOf(' ', i) + 1, end = text.indexOf(' ', i);
            found.push(`${el.tagName.toLowerCase()}: ${text.slice(start, end < 0 ? undefined : end).replace(/\\u00ad/g, '')} (broken before "${ch}")`);
          }
        }
        top = rect.top;
      }
    }
  }
  return found.slice(0, 10);
}
"""


def assert_no_bare_breaks(target: Any, label: str) -> None:
    """No word in a heading, table or legend breaks across lines without a hyphen (German compounds on a phone)."""
    found = target.evaluate(BARE_BREAKS_JS)
    assert not found, f"{label}: words broken without a hyphen: {found}"

"""The pages in headless Chromium: embedded launch (GET and POST login), deep linking round trip, and
dynamic registration ending with the org.imsglobal.lti.close message. A minimal tool serves the pages."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests
from flask import Flask, redirect, request
from werkzeug.wrappers import Response

from lti_tool.demo_lms import close_demo_lms, create_demo_lms, serve_in_thread

from .conftest import DL, LTI, FakeTool
from .test_registration import registration

pytestmark = pytest.mark.browser  # `chromium` (tests/conftest.py) skips without Debian's chromium, unless CI


def tool_pages(tool: FakeTool) -> Flask:
    """Login, launch, deep linking and registration pages of a minimal tool (keys from the FakeTool)."""
    app = Flask("tool_pages")
    state: dict[str, str] = {}

    @app.route("/lti/login", methods=["GET", "POST"])
    def login() -> Response:
        v = request.values
        params = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": v["client_id"],
            "redirect_uri": f"{request.host_url}lti/launch",
            "login_hint": v["login_hint"],
            "lti_message_hint": v["lti_message_hint"],
            "state": secrets.token_hex(4),
            "nonce": secrets.token_hex(4),
        }
        return redirect(f"{v['iss']}/auth?{urlencode(params)}")

    @app.post("/lti/launch")
    def launch() -> str:
        claims = jwt.decode(request.form["id_token"], options={"verify_signature": False})
        if claims[f"{LTI}/claim/message_type"] == "LtiDeepLinkingRequest":
            settings = claims[f"{DL}/deep_linking_settings"]
            now = int(time.time())
            response = {
                "iss": claims["aud"],
                "aud": claims["iss"],
                "iat": now,
                "exp": now + 300,
                "nonce": uuid.uuid4().hex,
                f"{LTI}/claim/message_type": "LtiDeepLinkingResponse",
                f"{LTI}/claim/version": "1.3.0",
                f"{LTI}/claim/deployment_id": claims[f"{LTI}/claim/deployment_id"],
                f"{DL}/data": settings["data"],
                f"{DL}/msg": "Modul übernommen",
                f"{DL}/content_items": [
                    {
                        "type": "ltiResourceLink",
                        "title": "Modul 2: Agenda 2030",
                        "custom": {"course": "grundlagenkurs", "module": "agenda-2030"},
                        "lineItem": {"scoreMaximum": 10, "label": "Modul 2", "resourceId": "agenda-2030"},
                    }
                ],
            }
            return (
                f'<form id="f" method="post" action="{settings["deep_link_return_url"]}">'
                f'<input type="hidden" name="JWT" value="{tool.sign(response)}"></form>'
                '<script>document.getElementById("f").submit()</script>'
            )
        return f"<h1 id='ok'>Gestartet: {claims['name']}</h1>"

    @app.get("/lti/register")
    def register() -> str:
        config = requests.get(request.args["openid_configuration"], timeout=5).json()
        body = registration(request.host_url.rstrip("/"))
        answer = requests.post(
            config["registration_endpoint"],
            json=body,
            headers={"Authorization": f"Bearer {request.args['registration_token']}"},
            timeout=5,
        ).json()
        state["client_id"] = answer["client_id"]
        return (
            "<p id='done'>registriert</p><script>(window.opener || window.parent)"
            ".postMessage({subject: 'org.imsglobal.lti.close'}, '*');</script>"
        )

    app.config["STATE"] = state
    return app


@pytest.fixture
def browser_setup(chromium: Any, tool: FakeTool, platform_pem: str) -> Iterator[Any]:
    pages_server = serve_in_thread(tool_pages(tool))
    base = pages_server.url
    cfg = tool.config(
        login_url=f"{base}/lti/login",
        redirect_uris=[f"{base}/lti/launch"],
        target_link_uri=f"{base}/lti/launch",
        deep_link_url=f"{base}/lti/launch",
    )
    apps = []

    def lms(**config: Any) -> Any:
        app = create_demo_lms({"TOOLS": [cfg], "PLATFORM_KEY_PEM": platform_pem, **config})
        apps.append(app)
        # "localhost" for the LMS, 127.0.0.1 for the tool: cross-site, as in production.
        return serve_in_thread(app, host="localhost")

    yield chromium, lms, base
    pages_server.stop()
    for app in apps:
        close_demo_lms(app)


@pytest.mark.parametrize("method", ["get", "post"])
def test_embedded_launch(browser_setup: Any, method: str) -> None:
    browser, make, _ = browser_setup
    with make(LOGIN_METHOD=method) as server:
        page = browser.new_page()
        page.goto(f"{server.url}/")
        page.click("text=Als Lea Schneider (Lernende/r) starten")
        assert (
            page.frame_locator("iframe.tool").locator("#ok").inner_text(timeout=10000)
            == "Gestartet: Lea Schneider"
        )
        page.close()


def test_deep_linking_round_trip(browser_setup: Any) -> None:
    browser, make, _ = browser_setup
    with make() as server:
        page = browser.new_page()
        page.goto(f"{server.url}/")
        page.click("text=Inhalte auswählen (Deep Linking) aus NaMa-Werkzeug – als Dr. Ingrid Lehmann")
        page.wait_for_url(f"{server.url}/?hinzugefuegt=*", timeout=10000)
        assert "Modul 2: Agenda 2030" in page.content()
        assert "Modul übernommen" in page.content()
        page.close()


def test_dynamic_registration_closes_and_returns_to_admin(browser_setup: Any) -> None:
    browser, make, base = browser_setup
    with make(TOOLS=[]) as server:
        page = browser.new_page()
        page.goto(f"{server.url}/admin/tools")
        page.fill("#tool-url", f"{base}/lti/register")
        page.click("text=Registrierung starten")
        page.wait_for_url(f"{server.url}/admin/tools", timeout=10000)
        assert "Wartend" in page.content()  # Moodle 4.5 German: mod_lti/pending
        page.click("text=Aktivieren")
        page.wait_for_load_state()
        assert "aktiv" in page.content()
        page.close()

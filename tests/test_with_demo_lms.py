"""The whole way an LMS admin and a course go, against the demo LMS over HTTP only: dynamic registration from an
operator's one-time link, activation, a learner launch, and deep linking a single module as its own activity."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
from flask import Flask
from flask.testing import FlaskCliRunner

from lti_tool.demo_lms import close_demo_lms, create_demo_lms, serve_in_thread

from .forms import iframes, submit
from .peer import ServerThread


@pytest.fixture
def lms() -> Iterator[str]:
    app = create_demo_lms({"FAULTS_ENABLED": True})
    server = serve_in_thread(app)
    yield server.url
    server.stop()
    close_demo_lms(app)


def launch(browser: requests.Session, page_url: str, params: dict[str, Any]) -> requests.Response:
    lms_page = browser.get(page_url, params=params)
    assert lms_page.status_code == 200, lms_page.text[:500]
    [frame] = iframes(lms_page)
    form_page = browser.get(frame)
    assert form_page.status_code == 200, form_page.text[:800]
    return submit(browser, form_page, "id_token")


def test_register_activate_launch_and_deep_link(
    app: Flask, tool_server: ServerThread, runner: FlaskCliRunner, lms: str
) -> None:
    # The operator issues a one-time link; the LMS admin pastes it into the LMS (Moodle: "Tool URL").
    link = runner.invoke(
        args=["platform", "registration-link", "--base-url", tool_server.url]
    ).output.split()[0]
    start = requests.post(lms + "/api/registration-token", json={"tool_url": link}).json()["registration_url"]
    done = requests.get(start)
    assert done.status_code == 200 and "lti-close.js" in done.text, done.text[:800]
    [tool] = requests.get(lms + "/api/tools").json()
    assert tool["status"] == "pending" and tool["login_url"] == tool_server.url + "/lti/login"

    # Moodle keeps dynamically registered tools pending until an admin activates them.
    assert (
        requests.post(f"{lms}/admin/tools/{tool['id']}/status", data={"status": "active"}).status_code == 200
    )

    # Moodle shows the logo the registration names on every activity of the tool: it is there, an SVG.
    logos = re.findall(r'<img class="activity-icon" src="([^"]+)"', requests.get(lms + "/").text)
    assert logos == [tool_server.url + "/static/logo.svg"]
    logo = requests.get(logos[0])
    assert logo.status_code == 200 and logo.headers["Content-Type"].startswith("image/svg+xml")
    assert ElementTree.fromstring(logo.content).tag == "{http://www.w3.org/2000/svg}svg"

    learner = requests.Session()
    page = launch(learner, lms + "/launch/1", {"user": "4"})
    assert page.status_code == 200 and "Lea Schneider" in page.text and "/s/" in page.url

    # The instructor places one module as its own activity through deep linking.
    teacher = requests.Session()
    picker = launch(teacher, lms + "/deep-linking", {"tool": str(tool["id"]), "user": "3"})
    assert "/auswahl/" in picker.url, picker.text[:500]
    assert '/anleitungen/lehrende?lang=de" target="_blank"' in picker.text  # what one column or eight means
    back = submit(teacher, picker, "item", item=["modul-b"])
    returned = submit(teacher, back, "JWT")
    assert returned.status_code == 200, returned.text[:800]
    activities = requests.get(lms + "/api/activities").json()
    placed = [a for a in activities if (a.get("custom") or {}).get("module") == "modul-b"]
    assert len(placed) == 1, activities

    # A learner opening that activity lands on that module only.
    module_page = launch(requests.Session(), f"{lms}/launch/{placed[0]['id']}", {"user": "5"})
    assert (
        module_page.status_code == 200 and "Modul b" in module_page.text and "Modul a" not in module_page.text
    )

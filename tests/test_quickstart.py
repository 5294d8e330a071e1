"""The README's first command: the quickstart starts the tool on SQLite and the demo LMS, registered with each
other; a learner and an instructor launch the real Grundlagenkurs from the demo LMS like from Moodle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import requests

from .forms import iframes, submit
from .test_gunicorn import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quickstart]:
    """The tool's and the demo LMS's URLs, the console (stdout and stderr) and the instance folder."""
    tool_port, lms_port = free_port(), free_port()
    instance = tmp_path_factory.mktemp("quickstart")
    log_path = instance / "console.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTI_TOOL_")}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lti_tool.quickstart",
                "--tool-port",
                str(tool_port),
                "--lms-port",
                str(lms_port),
                "--instance",
                str(instance),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        tool, lms = f"http://127.0.0.1:{tool_port}", f"http://localhost:{lms_port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "Ctrl-C" not in log_path.read_text(errors="replace"):
            if proc.poll() is not None:
                pytest.fail("quickstart exited:\n" + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        try:
            yield Quickstart(tool, lms, log_path, instance)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    output = log_path.read_text(errors="replace")
    assert lms + "/" in output and tool + "/" in output  # the URLs to open are printed


class Quickstart(NamedTuple):
    tool: str
    lms: str
    console: Path
    instance: Path


def launch_from_lms(lms: str, user: str) -> requests.Response:
    browser = requests.Session()
    lms_page = browser.get(f"{lms}/launch/1", params={"user": user})
    assert lms_page.status_code == 200, lms_page.text[:500]
    [frame] = iframes(lms_page)
    form_page = browser.get(frame)  # LMS -> tool login -> LMS /auth: the form_post with id_token and state
    assert form_page.status_code == 200, form_page.text[:500]
    return submit(browser, form_page, "id_token")


def test_learner_launches_the_real_course_from_the_demo_lms(quickstart: Quickstart) -> None:
    tool, lms, _console, _instance = quickstart
    assert requests.get(lms + "/").status_code == 200
    page = launch_from_lms(lms, "4")
    assert page.status_code == 200 and page.url.startswith(tool + "/s/")
    assert "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement" in page.text
    assert "Lea Schneider" in page.text


def test_instructor_launch(quickstart: Quickstart) -> None:
    tool, lms, _console, _instance = quickstart
    page = launch_from_lms(lms, "3")
    assert (
        page.status_code == 200
        and page.url.startswith(tool + "/s/")
        and "/lehrende/" in page.url
        and "<h1>Notenübersicht</h1>" in page.text  # the compact header names no teacher
    )


def test_tool_home_points_to_the_demo_lms(quickstart: Quickstart) -> None:
    tool, lms, _console, _instance = quickstart
    assert lms + "/" in requests.get(tool + "/").text


def test_the_development_servers_log_shows_no_session_token(quickstart: Quickstart) -> None:
    """werkzeug's request log (tool and demo LMS) passes the tool's redaction like every other log line. The
    quickstart writes it to quickstart.log in the instance folder (the console shows only the banner)."""
    tool, lms, _console, instance = quickstart
    log = instance / "quickstart.log"
    page = launch_from_lms(lms, "4")
    token = page.url.split("/s/", 1)[1].split("/", 1)[0]
    assert requests.get(f"{tool}/s/{token}/gibt-es-nicht").status_code == 404
    deadline = time.monotonic() + 10
    while "GET /s/-/gibt-es-nicht" not in log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.1)
    written = log.read_text(errors="replace")
    assert "GET /s/-/gibt-es-nicht" in written and "POST /lti/launch" in written
    assert token not in written
    assert (
        "state=-" in written and "eyJ" not in written
    )  # the LMS's /auth request line carries the OIDC state


def test_the_console_shows_only_the_banner_even_after_launches(quickstart: Quickstart) -> None:
    """Runs after the launches above: no library INFO lines, no request lines, no session token; the banner
    (demo LMS, tool, operator area, how to make the first operator account, where data and log are) is the last
    thing printed."""
    tool, lms, console, _instance = quickstart
    launch_from_lms(lms, "4")
    time.sleep(0.5)
    lines = [line.strip() for line in console.read_text(errors="replace").splitlines() if line.strip()]
    assert lines[0] == "nama-lti läuft / is running", lines
    assert lines[-1] == "Strg+C beendet / Ctrl-C stops."
    assert f"{lms}/" in lines[1] and f"{tool}/" in lines[2] and f"{tool}/admin/" in lines[3]
    assert "LTI_TOOL_INSTANCE_PATH=" in lines[4] and "scripts/flask admin create-user NAME" in lines[4]
    assert "quickstart.log" in lines[5]
    text = "\n".join(lines)
    assert len(lines) == 7 and "/s/" not in text and "INFO" not in text

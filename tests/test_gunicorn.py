"""Production serving: gunicorn with several processes (gthread) on the test database; launches work across
processes because OIDC state and sessions live in the shared store, not in a process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from lti_tool.db import session_scope
from lti_tool.lti import keys

from .conftest import CLIENT_ID, DEPLOYMENT_ID, TEST_REDIS_URL
from .peer import Launcher, PeerPlatform

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gunicorn(app: Flask, test_config: dict, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "LTI_TOOL_DATABASE_URL": test_config["DATABASE_URL"],
            "LTI_TOOL_SECRET_KEY": test_config["SECRET_KEY"],
            "LTI_TOOL_CONTENT_DIR": test_config["CONTENT_DIR"],
            "LTI_TOOL_INSTANCE_PATH": str(tmp_path / "gunicorn-instance"),
            "LTI_TOOL_BIND": f"127.0.0.1:{port}",
            "LTI_TOOL_WEB_WORKERS": "3",
            "LTI_TOOL_WEB_THREADS": "4",
            "LTI_TOOL_EMBEDDED_WORKER": "false",
            "LTI_TOOL_ACCESS_LOG": str(tmp_path / "access.log"),
        }
    )
    if TEST_REDIS_URL:
        env["LTI_TOOL_REDIS_URL"] = TEST_REDIS_URL
        env["LTI_TOOL_REDIS_PREFIX"] = test_config["REDIS_PREFIX"]
    log = tmp_path / "gunicorn.log"
    log_file = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "app:app"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log_file.close()
        pytest.fail("gunicorn did not start:\n" + log.read_text(errors="replace")[-3000:])
    try:
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log_file.close()


def test_launches_across_gunicorn_processes(
    app: Flask, gunicorn: str, registered: PeerPlatform, tmp_path: Path
) -> None:
    launcher = Launcher(gunicorn, registered, CLIENT_ID, DEPLOYMENT_ID)
    session_paths = []
    for _ in range(12):
        launcher.browser = requests.Session()  # a fresh browser each time
        page = launcher.launch_and_follow()
        assert page.status_code == 200 and "Lea Schneider" in page.text
        session_paths.append(urlsplit(page.url).path)
    # The access log has every request, but no session token (they would open the learners' pages).
    access_log = tmp_path / "access.log"
    deadline = time.monotonic() + 10
    while access_log.read_text().count("GET /s/-/") < 12 and time.monotonic() < deadline:
        time.sleep(0.1)  # gunicorn writes the line after the response
    logged = access_log.read_text()
    assert logged.count("GET /s/-/") >= 12 and logged.count("POST /lti/launch") >= 12
    tokens = [path.split("/")[2] for path in session_paths]
    assert all(
        path.startswith("/s/") and len(token) > 20 for path, token in zip(session_paths, tokens, strict=True)
    )
    assert not any(token in logged for token in tokens)
    jwks = requests.get(gunicorn + "/.well-known/jwks.json").json()
    with session_scope(app) as s:
        expected = keys.public_jwks(s, int(app.config["KEY_RETIRE_GRACE_SECONDS"]))
    assert jwks == expected  # every process publishes the same keys from the shared database

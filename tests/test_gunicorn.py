"""Production serving: gunicorn with several processes (gthread) on the test database; launches work across
processes because OIDC state and sessions live in the shared store, not in a process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from lti_tool.db import session_scope
from lti_tool.lti import keys

from .conftest import CLIENT_ID, DEPLOYMENT_ID, TEST_KEY_SECRET, TEST_REDIS_URL
from .peer import Launcher, PeerPlatform

ROOT = Path(__file__).resolve().parent.parent
METRICS_TOKEN = "scrape-token-for-the-test"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metrics_dir(tmp_path: Path) -> Path:
    """Where each gunicorn process keeps its own metrics file (prometheus_client's multi-process mode)."""
    folder = tmp_path / "metrics"
    folder.mkdir(exist_ok=True)
    return folder


def launches_per_process(folder: Path) -> dict[str, float]:
    """Launches counted by each process, read from that process's own counter file (named after its pid)."""
    counted: dict[str, float] = {}
    for path in folder.glob("counter_*.db"):
        with tempfile.TemporaryDirectory() as alone:
            shutil.copy(path, alone)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=alone)  # type: ignore[no-untyped-call]
            counted[path.stem] = (
                registry.get_sample_value("nama_lti_launches_total", {"outcome": "ok"}) or 0.0
            )
    return counted


@pytest.fixture
def gunicorn(app: Flask, test_config: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        {
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir(tmp_path)),
            "LTI_TOOL_DATABASE_URL": test_config["DATABASE_URL"],
            "LTI_TOOL_SECRET_KEY": test_config["SECRET_KEY"],
            "LTI_TOOL_KEY_SECRETS": TEST_KEY_SECRET,
            "LTI_TOOL_CONTENT_DIR": test_config["CONTENT_DIR"],
            "LTI_TOOL_INSTANCE_PATH": str(tmp_path / "gunicorn-instance"),
            "LTI_TOOL_BIND": f"127.0.0.1:{port}",
            "LTI_TOOL_WEB_WORKERS": "3",
            "LTI_TOOL_WEB_THREADS": "4",
            "LTI_TOOL_EMBEDDED_WORKER": "false",
            "LTI_TOOL_ACCESS_LOG": str(tmp_path / "access.log"),
            "LTI_TOOL_METRICS_TOKEN": METRICS_TOKEN,
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
    deadline = (
        time.monotonic() + 90
    )  # three processes importing the app at once take a while on a busy machine
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
    # Metrics add up over the three processes, whichever one answers the scrape.
    for _ in range(6):
        scraped = requests.get(gunicorn + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scraped.status_code == 200
        assert sample(scraped.text, "nama_lti_launches_total", outcome="ok") == 12
        launch_posts = sample(
            scraped.text, "nama_lti_request_duration_seconds_count", route="/lti/launch", method="POST"
        )
        assert launch_posts == 12
    assert requests.get(gunicorn + "/metrics").status_code == 401
    # More than one process served the launches (each counts its own in a file of its own).
    served = launches_per_process(metrics_dir(tmp_path))
    assert sum(served.values()) == 12 and len([n for n in served.values() if n]) >= 2, served


def test_no_log_line_carries_a_token(
    app: Flask, gunicorn: str, registered: PeerPlatform, tmp_path: Path
) -> None:
    """A run that writes each kind of line that used to carry a secret; then both logs are read."""
    import datetime as dt

    from sqlalchemy import update

    from lti_tool.lti.provision import token_hash
    from lti_tool.lti.registration import issue_link
    from lti_tool.models import ToolSession

    launcher = Launcher(gunicorn, registered, CLIENT_ID, DEPLOYMENT_ID)
    page = launcher.launch_and_follow()
    session = page.url.split("/s/", 1)[1].split("/", 1)[0]
    base = f"{gunicorn}/s/{session}"
    assert launcher.browser.get(base + "/gibt-es-nicht").status_code == 404  # "http 404 GET /s/…"
    assert launcher.browser.post(base + "/sprache/", data={"lang": "en"}).status_code == 403  # CSRF failure
    with session_scope(app, write=True) as s:
        s.execute(
            update(ToolSession)
            .where(ToolSession.token_hash == token_hash(session))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    assert launcher.browser.get(base + "/").status_code == 401  # "refused GET /s/…: session_expired"
    with session_scope(app, write=True) as s:
        link_token, _link = issue_link(s, 3600)
    id_token = registered.sign({"iss": registered.issuer, "sub": "x"})
    used = requests.get(
        gunicorn + "/lti/register",
        params={
            "t": link_token,
            "openid_configuration": "http://127.0.0.1:9/mod/lti/openid-configuration.php",
            "registration_token": id_token,
        },
    )
    assert used.status_code == 502  # registration link use, logged
    assert (
        requests.get(gunicorn + "/lti/launch", params={"id_token": id_token, "state": "s"}).status_code == 405
    )
    login = launcher.login()
    refused = launcher.post_launch(id_token, login.state)  # a token without the claims a launch needs
    assert refused.status_code == 400

    access_log, error_log = tmp_path / "access.log", tmp_path / "gunicorn.log"
    deadline = time.monotonic() + 10
    while "GET /lti/launch?" not in access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    logs = access_log.read_text() + error_log.read_text(errors="replace")
    for expected in (
        "GET /s/-/gibt-es-nicht",
        "refused POST /s/-/sprache/: csrf_failed",
        "refused GET /s/-/: session_expired",
        "registration link 1: attempt 1 of 3",
        "GET /lti/register?t=-&",
        "registration_token=-",
        "GET /lti/launch?id_token=-&state=-",
    ):
        assert expected in logs, expected
    for secret in (session, link_token, id_token, login.state, id_token.split(".")[1]):
        assert secret not in logs


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when it is not there)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0

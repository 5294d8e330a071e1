"""Prometheus metrics and readiness, as a scraper and a load balancer see them over HTTP: /metrics only with
its token; launches by outcome, refusals by reason, request latency by URL rule (never a path with a session
token); /readyz with its four checks. Grade deliveries, token requests and the outbox: tests/grading/test_grade_metrics.py."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text, update

from lti_tool.db import head_revision, session_scope
from lti_tool.grading import outbox
from lti_tool.models import WorkerHeartbeat, utcnow

from .peer import Launcher, ServerThread

TOKEN = "a-scrape-token-for-tests"


@pytest.fixture
def test_config(test_config: dict[str, Any]) -> dict[str, Any]:
    return {**test_config, "METRICS_TOKEN": TOKEN}


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): float(sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_the_token(tool_server: ServerThread) -> None:
    assert requests.get(tool_server.url + "/metrics").status_code == 401
    wrong = requests.get(tool_server.url + "/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert "nama_lti" not in wrong.text


def test_no_metrics_route_without_a_token(app: Flask) -> None:
    app.config["METRICS_TOKEN"] = ""
    assert app.test_client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_launches_refusals_and_latency(tool_server: ServerThread, launcher: Launcher) -> None:
    before = scrape(tool_server.url)
    page = launcher.launch_and_follow()
    assert page.status_code == 200
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce))
    assert launcher.post_launch(token, login.state).status_code == 303
    replayed = launcher.post_launch(token, login.state)
    assert replayed.status_code == 400 and "nonce_replayed" in replayed.text
    after = scrape(tool_server.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("nama_lti_launches_total", outcome="ok") == 2
    assert delta("nama_lti_launches_total", outcome="refused") == 1
    assert delta("nama_lti_refusals_total", endpoint="lti.launch", reason="nonce_replayed") == 1
    assert delta("nama_lti_request_duration_seconds_count", route="/lti/launch", method="POST") == 3
    assert delta("nama_lti_responses_total", route="/lti/login", method="GET", status="3xx") == 2
    # The learner's page is counted under its URL rule: the session token never becomes a label.
    learner_routes = [
        dict(labels)["route"]
        for (name, labels) in after
        if name == "nama_lti_request_duration_seconds_count" and dict(labels)["route"].startswith("/s/")
    ]
    assert learner_routes and all("<" in route for route in learner_routes)
    assert page.url.split("/")[4] not in str(after)


def test_readyz(app: Flask, client: Any) -> None:
    not_yet = client.get("/readyz")
    assert not_yet.status_code == 503
    assert not_yet.get_json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "launch_store": "ok",
        "grade_workers": "none alive",
    }
    with session_scope(app, write=True) as s:
        outbox.heartbeat(s, "ready-test", hostname="h", pid=1, started_at=utcnow(), delivered=0)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    # A worker that stopped reporting no longer counts.
    with session_scope(app, write=True) as s:
        s.execute(update(WorkerHeartbeat).values(last_seen_at=utcnow().replace(year=2020)))
    assert client.get("/readyz").status_code == 503


def test_readyz_reports_a_schema_behind_the_code(app: Flask, client: Any) -> None:
    with session_scope(app, write=True) as s:
        outbox.heartbeat(s, "ready-test", hostname="h", pid=1, started_at=utcnow(), delivered=0)
        s.execute(text("UPDATE alembic_version SET version_num = '0001'"))  # as if the upgrade had not run
    try:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.get_json()["checks"]["migrations"] == "behind"
    finally:  # the PostgreSQL test database is shared by the whole run
        with session_scope(app, write=True) as s:
            s.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()})
    assert client.get("/readyz").status_code == 200

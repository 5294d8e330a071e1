"""Metrics of grade delivery, scraped over HTTP: deliveries by outcome with their time, token requests, the outbox
rows and oldest row per state, live workers; a grade worker's own metrics port."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from lti_tool import metrics
from lti_tool.grading import outbox
from lti_tool.grading.worker import Worker

from ..peer import ServerThread
from ..test_gunicorn import free_port
from ..test_metrics import TOKEN, scrape, value
from .conftest import LEARNERS, Classroom, Lms, deliver_all


@pytest.fixture
def test_config(test_config: dict[str, Any]) -> dict[str, Any]:
    return {**test_config, "METRICS_TOKEN": TOKEN}


def test_deliveries_token_requests_and_the_outbox(app: Flask, lms: Lms, tool: ServerThread) -> None:
    classroom = Classroom(app, lms)
    users = classroom.learners(LEARNERS[:3])
    before = scrape(tool.url)
    for user in users:
        classroom.record(user, "modul-a", score=0.4)
    waiting = scrape(tool.url)
    pending = classroom.count(outbox.RowState.PENDING)
    assert pending >= 3 and value(waiting, "nama_lti_outbox_rows", state=outbox.RowState.PENDING) == pending
    assert value(waiting, "nama_lti_outbox_oldest_age_seconds", state=outbox.RowState.PENDING) >= 0
    assert value(waiting, "nama_lti_grade_workers_alive") == 0
    deliver_all(app)
    after = scrape(tool.url)
    assert value(after, "nama_lti_outbox_rows", state=outbox.RowState.PENDING) == 0
    assert (
        value(after, "nama_lti_outbox_rows", state=outbox.RowState.SENT)
        == classroom.count(outbox.RowState.SENT)
        == pending
    )
    sent = value(after, "nama_lti_grade_deliveries_total", outcome="sent") - value(
        before, "nama_lti_grade_deliveries_total", outcome="sent"
    )
    assert sent == pending == len(lms.scores())
    timed = value(after, "nama_lti_grade_delivery_duration_seconds_count", outcome="sent") - value(
        before, "nama_lti_grade_delivery_duration_seconds_count", outcome="sent"
    )
    assert timed == pending
    tokens = value(after, "nama_lti_token_requests_total", outcome="ok") - value(
        before, "nama_lti_token_requests_total", outcome="ok"
    )
    assert tokens == lms.token_requests() == 1  # one token served all three scores


def test_worker_serves_its_metrics_on_its_own_port(app: Flask, lms: Lms) -> None:
    port = free_port()
    server = metrics.serve(f"127.0.0.1:{port}")
    classroom = Classroom(app, lms)
    classroom.record(classroom.person(LEARNERS[3]), "modul-a", score=0.8)
    before = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    deliver_all(app, worker=Worker(app, label="metrics"))
    after = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    server.shutdown()
    server.server_close()

    def sent(text: str) -> float:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "nama_lti_grade_deliveries_total" and sample.labels == {"outcome": "sent"}:
                    return float(sample.value)
        return 0.0

    assert sent(after) - sent(before) == len(lms.scores()) >= 1

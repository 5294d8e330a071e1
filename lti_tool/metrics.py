"""Prometheus metrics (prometheus_client): what the tool does, for the operator's monitoring.

Web processes count launches, refusals, requests and roster refreshes, and answer `GET /metrics` to a scraper that
sends `Authorization: Bearer <LTI_TOOL_METRICS_TOKEN>` (without a token configured the route does not exist).
Under gunicorn every worker process writes its counts to files in PROMETHEUS_MULTIPROC_DIR (config/gunicorn.conf.py
sets one up), so any worker's answer covers all of them. The grade outbox figures (rows and oldest row per state,
live workers) are read from the database at scrape time. Grade workers (`scripts/flask grades worker
--metrics-bind HOST:PORT`) serve their own deliveries and token requests on a separate port.

Labels hold only bounded values: outcomes and refusal codes the code defines, URL rules (never paths).
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from flask.globals import _cv_app, _cv_request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from . import db

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

LAUNCHES = Counter("nama_lti_launches", "LTI launch POSTs by outcome (ok, refused, error)", ["outcome"])
REFUSALS = Counter(
    "nama_lti_refusals",
    "Requests refused with a reason people are shown (login, launch, registration, pages), by endpoint and code",
    ["endpoint", "reason"],
)
REQUEST_SECONDS = Histogram(
    "nama_lti_request_duration_seconds",
    "Time from request to response in the app, by URL rule and method",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
RESPONSES = Counter(
    "nama_lti_responses", "Responses by URL rule, method and status class", ["route", "method", "status"]
)
DELIVERIES = Counter(
    "nama_lti_grade_deliveries",
    "Score posts to platforms by outcome (sent, applied, retry, failed)",
    ["outcome"],
)
DELIVERY_SECONDS = Histogram(
    "nama_lti_grade_delivery_duration_seconds",
    "Time of one delivery (line item look-up, token, score post) by outcome",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)
TOKEN_REQUESTS = Counter(
    "nama_lti_token_requests",
    "OAuth 2 access-token requests to platforms by outcome (ok, error)",
    ["outcome"],
)
ROSTER_REFRESHES = Counter(
    "nama_lti_roster_refreshes", "Course roster (NRPS) refreshes by outcome (ok, refused, error)", ["outcome"]
)
# Endpoints whose POST is counted by outcome, from the response's status (ok < 400 <= refused < 500 <= error).
_OUTCOMES = {"lti.launch": LAUNCHES, "instructor.refresh_participants": ROSTER_REFRESHES}


def refused(endpoint: str | None, reason: str) -> None:
    REFUSALS.labels(endpoint or "unmatched", reason).inc()


def delivery(outcome: str, seconds: float) -> None:
    DELIVERIES.labels(outcome).inc()
    DELIVERY_SECONDS.labels(outcome).observe(seconds)


def token_request(ok: bool) -> None:
    TOKEN_REQUESTS.labels("ok" if ok else "error").inc()


# --- requests ----------------------------------------------------------------------------------------------


# Every request: `g` and the request read through their contexts (each use of the proxies looks them up again).


def _started() -> None:
    _cv_app.get().g._nama_started = time.perf_counter()


# Each request's metric children by their labels: `labels()` checks and joins them on every call.
_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_MAX_CHILDREN = 2048  # routes x methods x status classes; a client's made-up methods cannot grow it for ever


def _children(route: str, method: str, status_class: int) -> tuple[Any, Any]:
    key = (route, method, status_class)
    found = _CHILDREN.get(key)
    if found is None:
        if len(_CHILDREN) >= _MAX_CHILDREN:
            _CHILDREN.clear()
        found = _CHILDREN[key] = (
            REQUEST_SECONDS.labels(route, method),
            RESPONSES.labels(route, method, f"{status_class}xx"),
        )
    return found


def _finished(response: Response) -> Response:
    started = _cv_app.get().g.__dict__.pop("_nama_started", None)
    if started is None:
        return response
    req = _cv_request.get().request
    rule = req.url_rule
    route = rule.rule if rule is not None else "unmatched"
    method = req.method
    seconds, responses = _children(route, method, response.status_code // 100)
    seconds.observe(time.perf_counter() - started)
    responses.inc()
    counter = _OUTCOMES.get(req.endpoint or "")
    if counter is not None and method == "POST":
        code = response.status_code
        counter.labels("ok" if code < 400 else "refused" if code < 500 else "error").inc()
    return response


# --- the outbox, read at scrape time -----------------------------------------------------------------------


class OutboxCollector(Collector):
    """Grade outbox rows and the age of the oldest row per state, and live grade workers, from the database."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self) -> list[Metric]:
        return []  # read on each scrape only (no database access when registered)

    def collect(self) -> Iterator[Metric]:
        from .grading import outbox
        from .models import GradeOutbox, WorkerHeartbeat, utcnow

        rows = GaugeMetricFamily("nama_lti_outbox_rows", "Grade outbox rows by state", labels=["state"])
        oldest = GaugeMetricFamily(
            "nama_lti_outbox_oldest_age_seconds",
            "Age of the oldest grade outbox row by state",
            labels=["state"],
        )
        alive = GaugeMetricFamily(
            "nama_lti_grade_workers_alive", "Grade workers that reported within 3 heartbeat intervals"
        )
        now = utcnow()
        found: dict[str, tuple[int, Any]] = {}
        with db.session_scope(self.app) as s:
            for state, count, first in s.execute(
                select(GradeOutbox.state, func.count(), func.min(GradeOutbox.created_at)).group_by(
                    GradeOutbox.state
                )
            ):
                found[str(state)] = (int(count), first)
            window = 3 * float(self.app.config["GRADE_HEARTBEAT_SECONDS"])
            workers = s.scalar(
                select(func.count())
                .select_from(WorkerHeartbeat)
                .where(WorkerHeartbeat.last_seen_at >= now - dt.timedelta(seconds=window))
            )
        for state in outbox.STATES:
            count, first = found.get(state, (0, None))
            rows.add_metric([state], count)
            oldest.add_metric([state], (now - _aware(first)).total_seconds() if first is not None else 0.0)
        alive.add_metric([], int(workers or 0))
        yield rows
        yield oldest
        yield alive


def _aware(value: Any) -> dt.datetime:
    """func.min bypasses the column type on SQLite: a naive datetime or an ISO string in UTC."""
    moment: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


# --- exposition --------------------------------------------------------------------------------------------

bp = Blueprint("metrics", __name__)


def exposition(app: Flask) -> bytes:
    """This installation's figures in Prometheus' text format."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        processes = generate_latest(registry)
    else:
        processes = generate_latest(REGISTRY)
    outbox_registry = CollectorRegistry(auto_describe=False)
    outbox_registry.register(OutboxCollector(app))
    return processes + generate_latest(outbox_registry)


@bp.get("/metrics")
def scrape() -> Response:
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response(
            "metrics need the bearer token\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}
        )
    body = exposition(current_app._get_current_object())  # type: ignore[attr-defined]
    return Response(body, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


def serve(bind: str) -> Any:
    """A separate metrics port (HOST:PORT) for a process without a web server: a grade worker's own figures
    (deliveries, token requests, the process's CPU and memory). Returns the server (it runs in a thread)."""
    from prometheus_client import start_http_server

    host, _, port = bind.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=REGISTRY)
    return server


def init_app(app: Flask) -> None:
    app.before_request(_started)
    app.after_request(_finished)
    app.register_blueprint(bp)

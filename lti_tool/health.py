"""/healthz: is the database reachable, is the launch store reachable (for load balancers and the operator);
how grade delivery is doing (workers alive, oldest waiting grade)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from . import db
from .cache import get_store
from .grading.outbox import FAILED, PENDING, SENDING, summary

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    checks: dict[str, str] = {}
    try:
        db.ping(db.session())
        checks["database"] = "ok"
    except Exception as exc:  # any failure means unhealthy; the reason goes to the log
        log.warning("health: database: %s", exc)
        checks["database"] = "error"
    try:
        get_store().get("healthz")
        checks["launch_store"] = "ok"
    except Exception as exc:
        log.warning("health: launch store: %s", exc)
        checks["launch_store"] = "error"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "error", checks=checks, grades=_grades()), 200 if ok else 503


def _grades() -> dict[str, Any] | None:
    """Grade delivery at a glance (informational: a stuck outbox does not make the web tier unhealthy)."""
    try:
        alive = 3 * float(current_app.config["GRADE_HEARTBEAT_SECONDS"])
        report = summary(db.session(), alive_within=alive, states=(PENDING, SENDING, FAILED))
    except Exception as exc:
        log.warning("health: grades: %s", exc)
        return None
    return {
        "pending": report.counts["pending"] + report.counts["sending"],
        "failed": report.counts["failed"],
        "oldest_pending_seconds": report.oldest_pending_seconds,
        "workers_alive": report.workers_alive,
    }


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

"""/healthz: is the database reachable, is the launch store reachable (for load balancers and monitoring).

Public, so it says nothing more: how grade delivery is doing (counts, workers, oldest waiting grade) is for
signed-in operators at /admin/health and `flask --app app grades status`."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify

from . import db
from .cache import get_store

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
    return jsonify(status="ok" if ok else "error", checks=checks), 200 if ok else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

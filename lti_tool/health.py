"""/healthz: is the database reachable, is the launch store reachable (for load balancers and monitoring).
/readyz: is the whole service ready: database reachable, its schema at the migration this code needs, launch
store reachable, and a grade worker alive (seen within 3 heartbeat intervals); 503 until all hold, e.g. while a
deployment waits for `scripts/flask db upgrade` or for its grade workers. A load balancer that should keep serving
pages while grades wait uses /healthz.

Both are public, so they say nothing more than "ok" or what failed; the reasons go to the log. How grade
delivery is doing (counts, workers, oldest waiting grade) is for signed-in operators at /admin/health,
`scripts/flask grades status` and the metrics."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import func, select

from . import db
from .cache import get_store
from .models import WorkerHeartbeat, utcnow

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


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks: dict[str, str] = {}
    s = db.session()
    try:
        current, head = db.current_revision(s), db.head_revision()
        checks["database"] = "ok"
        if current == head:
            checks["migrations"] = "ok"
        else:
            log.warning("ready: the database is at migration %s, this code needs %s", current, head)
            checks["migrations"] = "behind"
    except Exception as exc:  # any failure means not ready; the reason goes to the log
        log.warning("ready: database: %s", exc)
        checks["database"] = checks["migrations"] = "error"
    try:
        get_store().get("readyz")
        checks["launch_store"] = "ok"
    except Exception as exc:
        log.warning("ready: launch store: %s", exc)
        checks["launch_store"] = "error"
    checks["grade_workers"] = "error"
    if checks["database"] == "ok":
        try:
            within = 3 * float(current_app.config["GRADE_HEARTBEAT_SECONDS"])
            since = utcnow() - dt.timedelta(seconds=within)
            alive = s.scalar(
                select(func.count()).select_from(WorkerHeartbeat).where(WorkerHeartbeat.last_seen_at >= since)
            )
            checks["grade_workers"] = "ok" if alive else "none alive"
            if not alive:
                log.warning("ready: no grade worker reported within %.0f s", within)
        except Exception as exc:
            log.warning("ready: grade workers: %s", exc)
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

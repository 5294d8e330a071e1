"""SQL statements per request, for benchmarks only: `X-Query-Count` header when LTI_TOOL_BENCH_COUNT_QUERIES is set.

Refuses to start with LTI_TOOL_ENV=production, so a production server never tells anyone how it queries.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, has_request_context
from flask.wrappers import Response
from sqlalchemy import event

from .db import get_db

HEADER = "X-Query-Count"


def init_app(app: Flask) -> None:
    if not app.config.get("BENCH_COUNT_QUERIES"):
        return
    if app.config["ENV"] == "production":
        raise ValueError(
            "LTI_TOOL_BENCH_COUNT_QUERIES is for benchmarks; it cannot run with LTI_TOOL_ENV=production"
        )

    @event.listens_for(get_db(app).engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        if has_request_context():
            g.query_count = g.get("query_count", 0) + 1

    @app.after_request
    def _header(resp: Response) -> Response:
        resp.headers[HEADER] = str(g.get("query_count", 0))
        return resp

"""SQL statements and CPU time per request, for benchmarks only: with LTI_TOOL_BENCH_COUNT_QUERIES every response
carries `X-Query-Count` (statements run) and `X-CPU-Us` (CPU time of the thread that served it, in microseconds,
from the request reaching the app to its response headers; gunicorn's own parsing and writing are not in it).

Refuses to start with LTI_TOOL_ENV=production, so a production server never tells anyone how it queries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.globals import _cv_app, _cv_request
from flask.wrappers import Response
from sqlalchemy import event

from .db import get_db

HEADER = "X-Query-Count"
CPU_HEADER = "X-CPU-Us"


class CpuTime:
    """WSGI middleware: the serving thread's CPU time until the response starts (request threads do not share)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.thread_time_ns()

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append((CPU_HEADER, str((time.thread_time_ns() - started) // 1000)))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def init_app(app: Flask) -> None:
    if not app.config.get("BENCH_COUNT_QUERIES"):
        return
    if app.config["ENV"] == "production":
        raise ValueError(
            "LTI_TOOL_BENCH_COUNT_QUERIES is for benchmarks; it cannot run with LTI_TOOL_ENV=production"
        )

    # The request's `g` read through the app context itself (the `g` proxy looks it up on every use).
    @event.listens_for(get_db(app).engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        if _cv_request.get(None) is not None:
            here = _cv_app.get().g.__dict__
            here["query_count"] = here.get("query_count", 0) + 1

    @app.after_request
    def _header(resp: Response) -> Response:
        resp.headers[HEADER] = str(_cv_app.get().g.__dict__.get("query_count", 0))
        return resp

    app.wsgi_app = CpuTime(app.wsgi_app)  # type: ignore[method-assign]

"""How the tool's processes log: one handler on standard error, text or JSON lines, the tool at LOG_LEVEL,
libraries quiet, and a request id on every line written for one request, in the web process and in the grade
worker that later sends the grade that request caused.

Every process (gunicorn workers, grade workers, `scripts/flask` commands, the quickstart) goes through
`configure(config)` from `create_app`. Libraries log warnings and errors only: Alembic's "Context impl …" lines and
the development server's request lines are noise to an operator (and a request line carries the URL). A process
whose logging someone else set up already (pytest, an embedding program) keeps its handlers. What a line says is
redacted before any of this sees it (lti_tool/logredact.py, the one redaction point).

Request ids: each request gets one (a proxy's `X-Request-ID` when LTI_TOOL_PROXY_FIX says a proxy is in front,
else a new one), answered in the `X-Request-ID` header and kept in `REQUEST_ID` while the request runs. A grade
outbox row stores the id of the request that wrote it; the worker binds it while it sends that row.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"
FORMATS = ("text", "json")
QUIET_LIBRARIES = ("alembic", "werkzeug", "urllib3", "requests", "pylti1p3", "babel", "flask_babel")
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("nama_request_id", default=None)
GIVEN_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class RequestIdFilter(logging.Filter):
    """Puts the current request id on each record (`request_id`, and `request_tag` for text lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = REQUEST_ID.get()
        record.request_id = rid
        record.request_tag = f" [{rid}]" if rid else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, pid, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid is None and "request_id" not in record.__dict__:
            rid = REQUEST_ID.get()  # a handler without the filter (gunicorn's own)
        if rid:
            line["request_id"] = rid
        line["pid"] = record.process
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


def formatter(kind: str) -> logging.Formatter:
    if kind not in FORMATS:
        raise ValueError(f"LTI_TOOL_LOG_FORMAT must be text or json (not {kind!r})")
    return JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT)


def configure(config: dict[str, Any]) -> None:
    level = str(config.get("LOG_LEVEL") or "INFO").upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"LTI_TOOL_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR (not {level!r})")
    kind = str(config.get("LOG_FORMAT") or "text").lower()
    chosen = formatter(kind)
    root = logging.getLogger()
    if not root.handlers:
        stderr = logging.StreamHandler()
        stderr.addFilter(RequestIdFilter())
        root.addHandler(stderr)
    for handler in root.handlers:
        if any(isinstance(f, RequestIdFilter) for f in handler.filters):  # ours: the format may change
            handler.setFormatter(chosen)
    root.setLevel(level)
    library_level = max(logging.WARNING, logging.getLevelNamesMapping()[level])
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(library_level)


def to_file(path: str, *, console_level: int = logging.WARNING) -> None:
    """The quickstart's set-up: every line at INFO (request lines of the development servers too) into `path`,
    only warnings and errors on the console."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(console_level)
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.addFilter(RequestIdFilter())
    file_handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root.addHandler(file_handler)
    root.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.INFO)


def format_gunicorn(handlers: list[logging.Handler]) -> None:
    """gunicorn's error and access logs in the same format as the tool's (LTI_TOOL_LOG_FORMAT)."""
    kind = os.environ.get("LTI_TOOL_LOG_FORMAT", "text").strip().strip('"').lower()
    if kind == "json":
        for handler in handlers:
            handler.setFormatter(JsonFormatter())


@contextlib.contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Lines logged inside carry `request_id` (a grade worker sending the row a request wrote)."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


def current_request_id() -> str | None:
    return REQUEST_ID.get()


# --- in the web process -------------------------------------------------------------------------------------


class RequestIds:
    """WSGI middleware: the request id is set before Flask sees the request (so refusals raised while the URL is
    read carry it too) and answered in `X-Request-ID`."""

    def __init__(self, app: Callable[..., Any], *, trust_proxy: bool) -> None:
        self.app = app
        self.trust_proxy = trust_proxy

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        given = environ.get("HTTP_X_REQUEST_ID", "") if self.trust_proxy else ""
        rid = given if GIVEN_ID.match(given) else os.urandom(8).hex()

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("X-Request-ID", rid))
            return start_response(status, headers, exc_info)

        token = REQUEST_ID.set(rid)
        try:
            return self.app(environ, start)
        finally:
            REQUEST_ID.reset(token)


def init_app(app: Flask) -> None:
    app.wsgi_app = RequestIds(  # type: ignore[method-assign]
        app.wsgi_app, trust_proxy=int(app.config.get("PROXY_FIX") or 0) > 0
    )

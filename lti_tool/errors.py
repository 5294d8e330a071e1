"""Domain errors and how they reach people (a German/English page) and machines (JSON).

Services raise `ToolError` subclasses; the handlers here turn them (and HTTP errors) into a response that names
what went wrong and what to do, with an error id that is also in the log.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import LazyString
from werkzeug.exceptions import HTTPException

from . import metrics
from .i18n import lazy_gettext as _l

log = logging.getLogger("lti_tool.errors")


class ToolError(Exception):
    """An expected refusal: shown to the user with a hint, logged as a warning with its error id."""

    status = 400
    code = "bad_request"
    title: LazyString | str = _l("The request could not be processed")

    def __init__(
        self,
        message: LazyString | str,
        *,
        hint: LazyString | str | None = None,
        detail: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(str(detail or message))
        self.message = message
        self.hint = hint
        # For the log only (never shown): the technical reason, e.g. the library's exception text.
        self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class LaunchError(ToolError):
    title = _l("The launch from your learning platform was refused")
    code = "launch_refused"


class RegistrationError(ToolError):
    title = _l("The registration could not be completed")
    code = "registration_failed"


class NotAllowed(ToolError):
    status = 403
    code = "forbidden"
    title = _l("Access denied")


class NotFound(ToolError):
    status = 404
    code = "not_found"
    title = _l("Not found")


class SessionExpired(ToolError):
    status = 401
    code = "session_expired"
    title = _l("Your session has ended")
    # A text the person posted after the end: shown again to copy; `kept` when the tool keeps it for them.
    posted_text: str | None = None
    kept: bool = False


def wants_json() -> bool:
    if request.is_json or request.path.startswith(("/api/", "/.well-known/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(
    status: int,
    code: str,
    title: Any,
    message: Any,
    hint: Any | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[Response | str, int, dict[str, str]]:
    error_id = uuid.uuid4().hex[:12]
    return _respond(error_id, status, code, title, message, hint, headers or {})


def _respond(
    error_id: str,
    status: int,
    code: str,
    title: Any,
    message: Any,
    hint: Any | None,
    headers: dict[str, str],
    **page: Any,
) -> tuple[Response | str, int, dict[str, str]]:
    if wants_json():
        body: dict[str, Any] = {"error": code, "message": str(message), "error_id": error_id}
        if hint:
            body["hint"] = str(hint)
        return jsonify(body), status, headers
    html = render_template(
        "errors/error.html",
        status=status,
        title=title,
        message=message,
        hint=hint,
        error_id=error_id,
        code=code,
        **page,
    )
    return html, status, headers


def _handle_tool_error(exc: ToolError) -> tuple[Response | str, int, dict[str, str]]:
    error_id = uuid.uuid4().hex[:12]
    metrics.refused(request.endpoint, exc.code)
    log.warning(
        "refused %s %s: %s (%s) error_id=%s",
        request.method,
        request.path,
        exc.code,
        exc.detail or exc.message,
        error_id,
    )
    page: dict[str, Any] = {}
    if isinstance(exc, SessionExpired) and exc.posted_text:
        page = {"posted_text": exc.posted_text, "kept": exc.kept}
    return _respond(error_id, exc.status, exc.code, exc.title, exc.message, exc.hint, {}, **page)


_HTTP_TEXT: dict[int, tuple[str, LazyString, LazyString]] = {
    400: ("bad_request", _l("Bad request"), _l("The request was incomplete or malformed.")),
    401: (
        "unauthorized",
        _l("Not signed in"),
        _l("Please start the course again from your learning platform."),
    ),
    403: ("forbidden", _l("Access denied"), _l("You are not allowed to open this page.")),
    404: ("not_found", _l("Page not found"), _l("This page does not exist (any more).")),
    405: ("method_not_allowed", _l("Not allowed"), _l("This address cannot be used this way.")),
    413: (
        "too_large",
        _l("Input too large"),
        _l("What you sent is larger than the tool accepts. Please shorten it and try again."),
    ),
    429: ("too_many_requests", _l("Too many attempts"), _l("Please wait a moment and try again.")),
}


def _handle_http(exc: HTTPException) -> Any:
    status = exc.code or 500
    if status not in _HTTP_TEXT:
        return exc
    code, title, message = _HTTP_TEXT[status]
    error_id = uuid.uuid4().hex[:12]
    log.info("http %s %s %s error_id=%s", status, request.method, request.path, error_id)
    headers = dict(exc.get_headers())
    headers.pop("Content-Type", None)
    return _respond(error_id, status, code, title, message, None, headers)


def _handle_unexpected(exc: Exception) -> tuple[Response | str, int, dict[str, str]]:
    error_id = uuid.uuid4().hex[:12]
    log.exception("unexpected error on %s %s error_id=%s", request.method, request.path, error_id)
    return _respond(
        error_id,
        500,
        "internal_error",
        _l("Something went wrong"),
        _l("The tool ran into an unexpected problem. Nothing was saved from this request."),
        _l("Please try again. If it keeps happening, tell the tool operator the error id below."),
        {},
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(ToolError, _handle_tool_error)
    app.register_error_handler(HTTPException, _handle_http)
    if not app.testing:
        app.register_error_handler(Exception, _handle_unexpected)

"""Errors: JSON for machines (OAuth 2 / service shapes), a German page for people."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, render_template, request


class PageError(Exception):
    """Shown to a person as a German page naming the problem (status 400 unless told)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class ServiceError(Exception):
    """Answered as JSON. `reason` also goes into the HTTP status line, as Moodle's services do."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        error: str | None = None,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.error = error
        self.detail = detail
        self.headers = headers or {}


def page_error_response(exc: PageError) -> tuple[str, int]:
    return render_template("error.html", message=exc.message, code=exc.code), exc.status


def service_error_response(exc: ServiceError) -> Response:
    # Body shape of Moodle's mod_lti\local\ltiservice\response::send() for errors, plus an OAuth-style
    # `error` code where one applies.
    body: dict[str, Any] = {
        "status": exc.status,
        "reason": exc.reason,
        "request": {"method": request.method, "url": request.full_path.rstrip("?")},
    }
    if exc.error:
        body["error"] = exc.error
    if exc.detail:
        body["detail"] = exc.detail
    response = jsonify(body)
    response.status = f"{exc.status} {_status_line_reason(exc.reason)}"
    for name, value in exc.headers.items():
        response.headers[name] = value
    return response


def oauth_error(status: int, error: str, description: str) -> Response:
    """RFC 6749 §5.2 error response."""
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _status_line_reason(reason: str) -> str:
    # The status line must stay one line of visible ASCII.
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in reason)
    return clean[:200] or "Error"

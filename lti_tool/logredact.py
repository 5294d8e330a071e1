"""One redaction point for every log line of the process: no session token, registration token, id_token,
client assertion, access token or private key reaches a log.

`install()` puts a log record factory in place, so every record any logger makes (the tool's, gunicorn's error
and access logs, werkzeug's development server, libraries) is formatted and redacted once, when it is made,
before any handler or formatter sees it; a traceback attached to it is redacted too. `create_app` and gunicorn's
logger class (`lti_tool.gunicorn_logging`) install it; installing twice changes nothing.

What is replaced, wherever it stands in a line:
- a learner's session in a path, `/s/<token>/…` -> `/s/-/…` (the token opens the learner's pages, auth.py);
- values of query or form parameters that carry secrets: `t=` (registration link), `registration_token`,
  `id_token`, `state`, `access_token`, `client_assertion`, `code`, `csrf_token`, `JWT`, `token`;
- anything shaped like a JSON Web Token (`eyJ….….…`: id_tokens, assertions, registration tokens);
- `Bearer <token>`; `"access_token": "…"` in JSON;
- PEM private keys.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

SESSION_IN_PATH = re.compile(r"/s/[^/?#\s\"']+")
SECRET_PARAMS = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(t|registration_token|id_token|state|access_token|refresh_token|client_assertion|"
    r"code|csrf_token|jwt|token)=([^&\s\"'#]+)"
)
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
BEARER = re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]+")
JSON_TOKEN = re.compile(
    r"(?i)(\"(?:access_token|id_token|refresh_token|registration_token)\"\s*:\s*\")[^\"]*"
)
PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S)


def redact(text: str) -> str:
    if not text:
        return text
    text = PEM.sub("[private key]", text)
    text = JWT.sub("[jwt]", text)
    text = BEARER.sub("Bearer -", text)
    text = JSON_TOKEN.sub(r"\1-", text)
    text = SECRET_PARAMS.sub(r"\1=-", text)
    return SESSION_IN_PATH.sub("/s/-", text)


_ORIGINAL = logging.getLogRecordFactory()


def _record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _ORIGINAL(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it when the record is emitted
        return record
    record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None  # the redacted text stands in for it (a formatter would print the raw one)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Make every log record of this process pass `redact` (idempotent)."""
    if logging.getLogRecordFactory() is not _record:
        logging.setLogRecordFactory(_record)


def installed() -> bool:
    return logging.getLogRecordFactory() is _record

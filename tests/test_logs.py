"""Log lines as an operator reads them: JSON when asked for (one object per line), a request id on every line of
a request that the response names too (X-Request-ID; a proxy's own id is kept only behind a configured proxy),
and still no token in a line (the redaction runs before any formatter)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from lti_tool import create_app, logconfig

from .peer import Launcher


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the tool's own standard-error handler writes with LTI_TOOL_LOG_FORMAT=json, captured."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logconfig.RequestIdFilter())
    handler.setFormatter(logconfig.formatter("json"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_a_refused_launch_logs_one_json_line_with_the_request_id(
    launcher: Launcher, json_lines: io.StringIO
) -> None:
    login = launcher.login()
    token = launcher.peer.sign(launcher.claims(login.nonce, nonce="not-the-one-from-the-login"))
    refused = launcher.post_launch(token, login.state)
    assert refused.status_code == 400
    rid = refused.headers["X-Request-ID"]
    [line] = [entry for entry in lines(json_lines) if entry["logger"] == "lti_tool.errors"]
    assert line["request_id"] == rid and line["level"] == "WARNING"
    assert set(line) == {"time", "level", "logger", "message", "request_id", "pid"}
    assert line["time"].endswith("+00:00") and "refused POST /lti/launch" in line["message"]
    assert token not in json_lines.getvalue() and login.state not in json_lines.getvalue()


def test_every_response_names_its_own_request_id(client: Any) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second and len(first) == 16
    # Without a proxy in front, an id the client sends is not taken over (it could pose as another request).
    assert client.get("/healthz", headers={"X-Request-ID": "chosen-by-client"}).headers["X-Request-ID"] != (
        "chosen-by-client"
    )


def test_behind_a_proxy_its_request_id_is_kept(test_config: dict[str, Any]) -> None:
    app = create_app({**test_config, "PROXY_FIX": 1})
    try:
        client = app.test_client()
        nginx_id = "0123456789abcdef0123456789abcdef"
        assert client.get("/healthz", headers={"X-Request-ID": nginx_id}).headers["X-Request-ID"] == nginx_id
        odd = client.get("/healthz", headers={"X-Request-ID": "no spaces <please>"})
        assert odd.headers["X-Request-ID"] != "no spaces <please>"
    finally:
        app.extensions["nama_db"].dispose()


def test_text_lines_carry_the_request_id_and_json_keeps_exceptions(json_lines: io.StringIO) -> None:
    record = logging.LogRecord("lti_tool.x", logging.ERROR, __file__, 1, "boom %s", ("here",), None)
    with logconfig.bound("req-0000001"):
        logconfig.RequestIdFilter().filter(record)
    text = logging.Formatter(logconfig.TEXT_FORMAT).format(record)
    assert text.endswith("lti_tool.x [req-0000001]: boom here")
    try:
        raise ValueError("inside")
    except ValueError:
        with logconfig.bound("req-0000002"):
            logging.getLogger("lti_tool.test").exception("failed")
    [line] = [entry for entry in lines(json_lines) if entry["logger"] == "lti_tool.test"]
    assert line["request_id"] == "req-0000002" and "ValueError: inside" in line["exception"]


def test_the_format_setting_is_checked(test_config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="LTI_TOOL_LOG_FORMAT"):
        create_app({**test_config, "LOG_FORMAT": "xml"})


def test_app_config_default_is_text(app: Flask) -> None:
    assert app.config["LOG_FORMAT"] == "text"

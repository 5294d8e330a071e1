"""The one redaction point every log record passes (lti_tool/logredact.py); tests/test_gunicorn.py and
tests/test_quickstart.py read the logs of real runs."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from lti_tool.logredact import installed, redact

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("line", "kept", "secret"),
    [
        ("GET /s/abcDEF123_-xyz/m/modul-a/ HTTP/1.1", "GET /s/-/m/modul-a/", "abcDEF123_-xyz"),
        ("refused GET /s/tok3n/lehrende/: csrf_failed", "/s/-/lehrende/", "tok3n"),
        ("GET /lti/register?t=linkTOKEN&openid_configuration=x", "t=-&openid_configuration=x", "linkTOKEN"),
        ("registration_token=regTOKEN", "registration_token=-", "regTOKEN"),
        (f"detail: bad token {JWT} here", "detail: bad token [jwt] here", JWT),
        ("Authorization: Bearer 0123abcdefSECRET", "Bearer -", "0123abcdefSECRET"),
        ('{"access_token": "opaqueSECRET", "expires_in": 3600}', '"access_token": "-"', "opaqueSECRET"),
        (
            "key -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY----- end",
            "key [private key] end",
            "MIIEvQIBADANBgkq",
        ),
        ("POST /lti/launch id_token=abc.def.ghi&state=STATE1", "id_token=-&state=-", "STATE1"),
    ],
)
def test_redact(line: str, kept: str, secret: str) -> None:
    out = redact(line)
    assert kept in out and secret not in out


def test_plain_lines_are_kept() -> None:
    line = "grade 17: attempt 2: 503 Service Unavailable; next in 4.0 s (/lti/launch, module=modul-a)"
    assert redact(line) == line


def test_every_logger_and_traceback_passes_it(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    assert installed()  # create_app installed it
    with caplog.at_level(logging.INFO):
        logging.getLogger("werkzeug").info('"GET /s/%s/ HTTP/1.1" 200 -', "SESSIONTOKEN")
        logging.getLogger("gunicorn.error").warning("Error handling request /s/SESSIONTOKEN/x")
        try:
            raise ValueError(f"bad id_token {JWT}")
        except ValueError:
            logging.getLogger("lti_tool.x").exception("failed for /s/SESSIONTOKEN/")
    assert "SESSIONTOKEN" not in caplog.text and JWT not in caplog.text
    assert "ValueError: bad id_token [jwt]" in caplog.text

"""The tool's response class hands the WSGI server what Flask's (werkzeug's) would, for every kind of response."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.wrappers import Response as FlaskResponse
from werkzeug.test import EnvironBuilder

from lti_tool.responses import ToolResponse


def _stream() -> Iterator[bytes]:
    yield b"a"
    yield b"b"


def _responses() -> list[tuple[str, Callable[[type[Any]], Any]]]:
    def with_headers(
        *headers: tuple[str, str], status: int = 200, body: Any = "x"
    ) -> Callable[[type[Any]], Any]:
        def make(cls: type[Any]) -> Any:
            resp = cls(body, status)
            for name, value in headers:
                resp.headers.add(name, value)
            return resp

        return make

    def without_length(cls: type[Any]) -> Any:
        resp = cls("körper", 200)
        del resp.headers["Content-Length"]
        return resp

    return [
        ("plain", with_headers()),
        ("non-ASCII body", with_headers(body="grüße")),
        ("security headers", with_headers(("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"))),
        ("cookie", with_headers(("Set-Cookie", "a=b; Path=/"), ("Set-Cookie", "c=d"))),
        (
            "absolute Location",
            with_headers(("Location", "https://lms.example.org/auth?x=1&y=%20"), status=302),
        ),
        ("IRI Location", with_headers(("Location", "https://bücher.example/straße?q=ü ä#frag"), status=302)),
        ("upper-case host", with_headers(("Location", "https://LMS.Example.ORG:8443/a b"), status=303)),
        ("relative Location", with_headers(("Location", "/s/abc/m/1/?page=2"), status=303)),
        ("relative IRI", with_headers(("Location", "/s/ä b/"), status=303)),
        ("empty query", with_headers(("Location", "https://lms.example.org/auth?"), status=302)),
        ("lower-case name", with_headers(("location", "/x y"), status=302)),
        ("two Locations", with_headers(("Location", "/first"), ("Location", "/sëcond"), status=302)),
        ("Content-Location", with_headers(("Content-Location", "/ä"))),
        ("no Content-Length", without_length),
        ("streamed", lambda cls: cls(_stream(), 200)),
        ("204", with_headers(status=204, body="")),
        ("304", with_headers(("ETag", '"x"'), ("Content-Language", "de"), status=304, body="")),
        ("101", with_headers(status=101, body="")),
        ("404", with_headers(status=404)),
    ]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(("name", "make"), _responses(), ids=[name for name, _ in _responses()])
def test_the_wsgi_response_is_werkzeugs(name: str, make: Callable[[type[Any]], Any], method: str) -> None:
    environ = EnvironBuilder(path="/x", method=method).get_environ()
    ours, theirs = make(ToolResponse), make(FlaskResponse)
    our_iter, our_status, our_headers = ours.get_wsgi_response(environ)
    their_iter, their_status, their_headers = theirs.get_wsgi_response(environ)
    assert our_status == their_status
    assert our_headers == their_headers
    assert list(our_iter) == list(their_iter)


def test_a_location_marked_as_a_uri_is_sent_as_it_is() -> None:
    environ = EnvironBuilder(path="/x").get_environ()
    uri = "https://lms.example.org/auth?state=a.b-c_d&login_hint=x%2By+z"
    resp = ToolResponse("", 302, [("Location", uri)])
    resp.location_is_uri = True
    assert dict(resp.get_wsgi_response(environ)[2])["Location"] == uri


def test_the_app_answers_with_the_tool_response_class(app: Flask) -> None:
    assert app.response_class is ToolResponse
    resp = app.test_client().get("/lti/config", headers={"Accept": "application/json"})
    assert resp.status_code == 200 and resp.headers["Content-Length"] == str(len(resp.data))

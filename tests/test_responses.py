"""The tool's response class hands the WSGI server what Flask's (werkzeug's) would, for every kind of response."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.wrappers import Response as FlaskResponse
from werkzeug.test import EnvironBuilder
from werkzeug.urls import iri_to_uri
from werkzeug.utils import redirect as werkzeug_redirect

from lti_tool.responses import ToolResponse, is_uri_path


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


@pytest.mark.parametrize(
    ("location", "as_is"),
    [
        ("/s/AbC-12_x/", True),
        ("/s/AbC-12_x/m/3/?page=2&x=%20", True),
        ("/lti/launch?a=b?c", True),
        ("/a:b@c!$&'()*+,;=", True),
        ("/", True),
        ("//evil.example/x", False),  # a host
        ("/a?", False),  # iri_to_uri drops the empty query
        ("/a#frag", False),
        ("/a b", False),
        ("/ä", False),
        ("/a[1]", False),
        ('/a"b', False),
        ("a/b", False),
        ("https://lms.example.org/", False),
        ("", False),
    ],
)
def test_a_path_is_a_uri_where_werkzeug_would_leave_it(location: str, as_is: bool) -> None:
    assert is_uri_path(location) is as_is
    if as_is:
        assert iri_to_uri(location) == location


def test_every_path_taken_as_a_uri_is_one_for_werkzeug() -> None:
    rng = random.Random(17)
    alphabet = "/aZ09-._~!$&'()*+,;=:@%?#[] \"<>\\^`{|}ä\x00"
    taken = 0
    for _ in range(20000):
        location = "/" + "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        if is_uri_path(location):
            taken += 1
            assert iri_to_uri(location) == location, location
    assert taken > 1000


def test_a_redirect_to_the_tools_own_path_is_sent_as_werkzeug_would(app: Flask) -> None:
    environ = EnvironBuilder(path="/x").get_environ()
    with app.test_request_context("/x"):
        for location in ("/s/abc/m/1/?page=2", "/s/ä b/", "https://Bücher.example/x"):
            ours = app.redirect(location, 303)
            assert isinstance(ours, ToolResponse) and ours.location_is_uri is is_uri_path(location)
            theirs = FlaskResponse.force_type(werkzeug_redirect(location, 303), environ)
            assert ours.get_wsgi_response(environ)[2] == list(theirs.get_wsgi_headers(environ))

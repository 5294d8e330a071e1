"""The tool's response class: werkzeug's, with a cheaper way from the response to the WSGI server.

werkzeug's `get_wsgi_headers` copies the response's headers into a new `Headers` before it looks at them, and the
copy checks every value again (each header was checked when it was set): ~10,000 instructions per header, a
dozen headers per response (the security headers, the session cookie, the request id). `get_wsgi_response` here
hands the server the same list without that second check; what werkzeug changes on the way (the `Location` made a
URI, a missing `Content-Length` counted) it changes the same way. Responses werkzeug treats specially (1xx, 204,
304, `Content-Location`, several `Location` headers, the location made absolute) still go through werkzeug.

A redirect whose `Location` the tool wrote as a URI already says so (`location_is_uri`), and werkzeug's
`iri_to_uri` (a URL split, a quote of every part and the host through Python's IDNA codec: 60,000-85,000
instructions for the login's redirect, ~28,000 for a path) is not run on it again: the login's, and every redirect
to one of the tool's own paths as `url_for` builds them (`is_uri_path`, used by `ToolFlask.redirect`).
"""

from __future__ import annotations

import re
from typing import Any

from flask.wrappers import Response
from werkzeug.urls import iri_to_uri

# A path (not "//", which would name a host) with an optional non-empty query, of characters werkzeug's iri_to_uri
# leaves as they are there: unreserved, sub-delimiters, ":", "@", "/", "%" (an escape), and "?" in the query.
_URI_PATH = re.compile(r"/(?!/)[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]+)?")


def is_uri_path(location: str) -> bool:
    """`location` is a path (and query) that werkzeug's `iri_to_uri` returns as it is."""
    return _URI_PATH.fullmatch(location) is not None


class ToolResponse(Response):
    location_is_uri = False
    """True where the code that set `Location` made it a URI (`iri_to_uri` would return it unchanged)."""

    def get_wsgi_response(self, environ: dict[str, Any]) -> tuple[Any, str, list[tuple[str, str]]]:
        status = self.status_code
        if status < 200 or status in (204, 304) or self.autocorrect_location_header:
            return super().get_wsgi_response(environ)
        headers = list(self.headers)  # (name, value) pairs, each value checked when it was set
        location_at = -1
        content_length = False
        for at, (name, _value) in enumerate(headers):
            lowered = name.lower()
            if lowered == "location":
                if location_at >= 0:  # werkzeug keeps the last value at the first place
                    return super().get_wsgi_response(environ)
                location_at = at
            elif lowered == "content-length":
                content_length = True
            elif lowered == "content-location":
                return super().get_wsgi_response(environ)
        if location_at >= 0:
            location = headers[location_at][1]
            headers[location_at] = ("Location", location if self.location_is_uri else iri_to_uri(location))
        if not content_length and self.automatically_set_content_length and self.is_sequence:
            headers.append(("Content-Length", str(sum(len(x) for x in self.iter_encoded()))))
        return self.get_app_iter(environ), self.status, headers

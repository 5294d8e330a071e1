"""Links built once: the tool's Flask class remembers the URLs `url_for` built.

A learner page builds a dozen links or more (header, language switch, session warning, legal links, the course's
steps), and werkzeug's URL building (rule lookup, URL defaults, quoting) costs more than the rest of such a link's
rendering. The URL of an endpoint with given values depends only on the URL map and the request's script root,
except for the one URL default the tool has: the session token (`/s/<sid>/…`, lti_tool/auth.py), which differs per
session. So a link of a session page is built once with a placeholder for the token and kept; each later call
puts the request's token in. Calls with `_external`, `_scheme`, `_anchor`, `_method`, a relative endpoint, an
explicit `sid` or values that cannot be a dictionary key are built as Flask builds them, every time.

A URL default added later that depends on the request (other than the session token) would have to be added to
the key in `ToolFlask.url_for`.

The class also remembers which of its functions Flask must run as coroutines (`ensure_sync`): Flask asks for every
hook and view of every request, and the answer for a function does not change. And a redirect to one of the tool's
own paths says its Location is a URI already (lti_tool/responses.py), so werkzeug does not convert it again.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from flask import Flask, g
from flask.globals import _cv_request
from werkzeug.wrappers import Response as BaseResponse

from .responses import ToolResponse, is_uri_path

SESSION_ARG = "sid"
# Only letters and digits: werkzeug's quoting leaves it as it is, and no session token (token_urlsafe) is this.
PLACEHOLDER = "0SIDPLACEHOLDER0"
_MAX_KEPT = 4096


class ToolFlask(Flask):
    """Flask whose `url_for` keeps what it built (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._links: dict[tuple[Any, ...], str] = {}
        self._session_endpoints: tuple[int, frozenset[str]] = (-1, frozenset())
        # The functions found plain (not coroutines). Weak keys: a function made for one request
        # (after_this_request) is not kept alive by this.
        self._plain: weakref.WeakKeyDictionary[Callable[..., Any], bool] = weakref.WeakKeyDictionary()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's answer, found once per plain function (inspect.iscoroutinefunction on every call: ~8 per
        request)."""
        try:
            if self._plain.get(func):
                return func
        except TypeError:  # no weak reference to it (a builtin): asked each time
            return super().ensure_sync(func)
        sync = super().ensure_sync(func)
        if sync is func:
            self._plain[func] = True
        return sync

    def redirect(self, location: str, code: int = 302) -> BaseResponse:
        """Flask's redirect; a path werkzeug's `iri_to_uri` would leave as it is (`url_for`'s) marked as a URI."""
        resp = super().redirect(location, code)
        if isinstance(resp, ToolResponse) and is_uri_path(location):
            resp.location_is_uri = True
        return resp

    def session_endpoints(self) -> frozenset[str]:
        """Endpoints whose URL carries the session token (recomputed when endpoints were added: routes are
        added before the first request; `Map._rules` would build a list of all rules on every call)."""
        count = len(self.url_map._rules_by_endpoint)
        known, endpoints = self._session_endpoints
        if known != count:
            endpoints = frozenset(
                rule.endpoint for rule in self.url_map.iter_rules() if SESSION_ARG in rule.arguments
            )
            self._session_endpoints = (count, endpoints)
        return endpoints

    def url_for(
        self,
        /,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: Any,
    ) -> str:
        ctx = _cv_request.get(None)
        if (
            ctx is None
            or ctx.url_adapter is None
            or _anchor is not None
            or _method is not None
            or _scheme is not None
            or _external
            or endpoint[:1] == "."
            or SESSION_ARG in values
        ):
            return super().url_for(
                endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external, **values
            )
        token = g.get("session_token") if endpoint in self.session_endpoints() else None
        try:
            key = (ctx.url_adapter.script_name, endpoint, token is not None, *sorted(values.items()))
            kept = self._links.get(key)
        except TypeError:  # a value that is no dictionary key (a list): built each time
            return super().url_for(endpoint, **values)
        if kept is None:
            if token is not None:
                kept = super().url_for(endpoint, **{SESSION_ARG: PLACEHOLDER, **values})
            else:
                kept = super().url_for(endpoint, **values)
            if len(self._links) >= _MAX_KEPT:
                self._links.clear()
            self._links[key] = kept
        return kept.replace(PLACEHOLDER, token, 1) if token is not None else kept

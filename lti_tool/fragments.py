"""The parts of every page that are the same for everyone but a few values: rendered once per language, then
filled in.

The header's language switch and "End session" form, the session warning and the legal links were includes:
rendered on every request, ~1,100 Python calls of a ~5,000-call module page (their ~20 messages, links, the
context Jinja copies for each include). Here each is rendered once per template, language, script root and
choices (`fixed`); what differs per request (`holes`: a link with the session token, the CSRF token, the seconds
left) is put into the template as a marker, and each request puts its own value, escaped as Jinja would have
escaped it, where the marker was. A hole must therefore appear in its template only as `{{ name }}` (no filter, no
test on it): a choice that changes the markup belongs in `fixed`.

Whole pages the same way (`page`): a lesson page is the same for every learner of a course in one language but
for the session token in its links, the CSRF token, its own address and the seconds left; it is rendered once with
markers for those and kept, and each request gets the kept HTML with its own values put in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from contextvars import ContextVar
from typing import Any

from flask import Flask, Request, current_app, g, render_template, request
from flask.globals import _cv_app, _cv_request
from markupsafe import Markup, escape

from .auth import csrf_token, session_clock

_MARK = (
    "\ue000{}\ue001"  # Unicode private-use characters: never in the tool's messages, untouched by escaping
)
_MARKS = re.compile("\ue000(\\w+)\ue001")
_RENDERED: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
_MAX_RENDERED = 1024
# While a whole page is rendered for `page`'s cache, the per-request values are these markers (see `page`).
_MAKING: ContextVar[bool] = ContextVar("nama_page_making", default=False)


def fragment(name: str, fixed: Mapping[str, Any] | None = None, /, **holes: Any) -> Markup:
    """Template `name` rendered with `fixed` (and the request's language), `holes` filled in per call."""
    from .i18n import _current_locale

    fixed = fixed or {}
    key = (name, _current_locale(), request.script_root, tuple(sorted(fixed.items())), tuple(sorted(holes)))
    found = _RENDERED.get(key)
    if found is None:
        marks = {hole: Markup(_MARK.format(hole)) for hole in holes}  # noqa: S704  # our marker, no input
        html = current_app.jinja_env.get_template(name).render(**fixed, **marks)
        parts = _MARKS.split(html)
        if len(_RENDERED) >= _MAX_RENDERED:
            _RENDERED.clear()
        found = _RENDERED[key] = (tuple(parts[0::2]), tuple(parts[1::2]))
    statics, names = found
    out = [statics[0]]
    for hole, static in zip(names, statics[1:], strict=True):
        out.append(escape(holes[hole]))
        out.append(static)
    return Markup("".join(out))  # noqa: S704  # our template's output, the values escaped above


def language_switch() -> Markup:
    """The header's language switch: a form inside a session (the choice is kept in it), else two links."""
    if not g.get("session_token"):
        return fragment("_language_switch.html", {"in_session": False})
    from flask import url_for

    return fragment(
        "_language_switch.html",
        {"in_session": True},
        action=url_for("language.switch"),
        csrf=_csrf(),
        next=(_mark("next") if _MAKING.get() else request.full_path) if request.method == "GET" else "",
    )


def end_session() -> Markup:
    """ "End session" on every page of a session: ends it on the server (auth.end)."""
    if not g.get("visitor"):
        return Markup()
    from flask import url_for

    return fragment("_session.html", action=url_for("session.end"), csrf=_csrf())


def session_warning() -> Markup:
    """The dialog static/session.js shows before the session ends."""
    clock = session_clock()
    if clock is None:
        return Markup()
    from flask import url_for

    return fragment(
        "_session_warning.html",
        {"hours": int(current_app.config["SESSION_LIFETIME_SECONDS"]) // 3600},
        idle=_mark("idle") if _MAKING.get() else clock.idle_remaining,
        absolute=_mark("absolute") if _MAKING.get() else clock.absolute_remaining,
        warn=clock.warn,
        extend_url=url_for("session.extend"),
        csrf=_csrf(),
    )


def legal_links() -> Markup:
    """Privacy notice, imprint and accessibility statement. Where the page may sit in a learning platform's frame
    (a session page, a launch or registration page), they open in a new window in the page's language: the LMS's
    frame shows only the tool's session and LTI pages (lti_tool/security.py)."""
    framed = bool(
        g.get("session_token")
        or request.path.startswith(("/lti/login", "/lti/launch", "/lti/register"))
        or request.headers.get("Sec-Fetch-Dest") == "iframe"
    )
    endpoint = request.endpoint if request.endpoint in _LEGAL else None
    return fragment("_legal_links.html", {"framed": framed, "current": endpoint})


_LEGAL = frozenset({"legal.privacy", "legal.imprint", "legal.accessibility_statement"})


# --- Whole pages ----------------------------------------------------------------------------------------------

# What differs between two requests for the same page (same key, language, session state shape): the session
# token in every link, the CSRF token, the page's own address (header's "Open in a new window", the language
# switch's way back) and the session's seconds left.
_PAGE_HOLES = frozenset({"sid", "csrf", "url", "next", "idle", "absolute"})
# Kept pages of a process, at most (characters; a course's lessons in two languages are ~1 million): beyond it
# they are all forgotten and kept again as asked for.
_MAX_PAGE_CHARS = 4_000_000
# The page's HTML between its holes, as the UTF-8 the response sends (encoded once, not per request), and the
# holes' names; None: this page cannot be kept (rendered every time).
_Kept = tuple[tuple[bytes, ...], tuple[str, ...]] | None


class _Pages:
    """The pages a process keeps (per app)."""

    def __init__(self, max_chars: int = _MAX_PAGE_CHARS) -> None:
        self.pages: dict[tuple[Any, ...], _Kept] = {}
        self.chars = 0
        self.max_chars = max_chars

    def keep(self, shape: tuple[Any, ...], found: _Kept) -> None:
        size = sum(map(len, found[0])) if found else 0
        if self.chars + size > self.max_chars:
            self.pages.clear()
            self.chars = 0
        self.pages[shape] = found
        self.chars += size


def _mark(name: str) -> str:
    return _MARK.format(name)


def _csrf() -> str:
    """The CSRF token; a marker while `page` renders a page to keep (the template global `csrf_token` too)."""
    return _mark("csrf") if _MAKING.get() else csrf_token()


def page_url() -> str:
    """The page's own address (`own_url`); a marker while `page` renders a page to keep."""
    return _mark("url") if _MAKING.get() else own_url()


def own_url() -> str:
    """request.url on the configured public base (BASE_URL) when there is one: the `Host` header can name any
    host, and this address carries the session token."""
    app = _cv_app.get()
    return _own_url(_cv_request.get().request, str(app.app.config["BASE_URL"]))


# What werkzeug's get_current_url leaves as it is in a path (its safe characters, no "%"), and in a query string
# ("?" too): a URL made only of these is the same URI and IRI (uri_to_iri only unquotes).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~!$&'()*+,/:;=@-]*")
_PLAIN_QUERY = re.compile(rb"[A-Za-z0-9_.~!$&'()*+,/:;=?@-]*")
# scheme and Host -> request.host_url: the host as an IRI (punycode decoded, a default port dropped). Few
# different ones reach a process, but the Host header is the client's: bounded.
_HOST_URLS: dict[tuple[str, str], str] = {}


def _own_url(req: Request, base: str) -> str:
    """`request.url` (on `base` instead of scheme and host when given) without working out the whole URL on
    every request: werkzeug quotes it and turns it into an IRI again (~80,000 instructions each, twice per kept
    page), which leaves a path and query of the tool's own characters as they are; any other goes through it."""
    root, path, query = req.root_path.rstrip("/"), req.path.lstrip("/"), req.query_string
    if _PLAIN_PATH.fullmatch(root) and _PLAIN_PATH.fullmatch(path) and _PLAIN_QUERY.fullmatch(query):
        rest = f"{root}/{path}?{query.decode('ascii')}" if query else f"{root}/{path}"
    else:
        rest = req.url[len(req.host_url) - 1 :]
    if base:
        return base + rest
    key = (req.scheme, req.host)
    host_url = _HOST_URLS.get(key)
    if host_url is None:
        if len(_HOST_URLS) >= 64:
            _HOST_URLS.clear()
        host_url = _HOST_URLS[key] = req.host_url
    return host_url[:-1] + rest


# Pages that differ per learner (the course overview, keyed on the learner's progress) are kept apart, in a
# smaller store: many learners' one-off states must not push the lesson pages out.
_MAX_LEARNER_PAGE_CHARS = 1_000_000


def page(
    name: str,
    key: tuple[Hashable, ...],
    context: Callable[[], Mapping[str, Any]],
    holes: Mapping[str, str] | None = None,
    *,
    store: str = "nama_pages",
) -> str | bytes:
    """`render_template(name, **context())`, rendered once per `key` (with the request's language, script root
    and the header's choices) and kept; each request gets the kept HTML with its own per-request values
    (`_PAGE_HOLES`) put in, escaped as the template would have escaped them. The same HTML as rendering it.

    `key` must determine everything `context()` gives the template (the caller's promise: course objects are
    loaded once per process, so their ids will do; a learner's progress goes in as values). `context` is called
    only to render, while the markers stand for the session token (so a link built inside it carries a marker,
    and a `url_for` in the view must be inside it too) and the other per-request values. A page whose HTML
    shows a marker some other way (a link werkzeug quoted, a marker character in course text) is not kept.
    A kept page comes as the UTF-8 bytes a view returns (Flask sends them as they are), a rendered one as text.
    """
    from .i18n import _current_locale

    # Every learner page comes through here: the request, `g` and the app read once (each use of Flask's
    # `request`, `g` or `current_app` looks its context up again).
    app_ctx = _cv_app.get()
    app, here = app_ctx.app, app_ctx.g.__dict__
    req = _cv_request.get().request
    clock = session_clock()
    token = here.get("session_token")
    shape = (
        name,
        _current_locale(),
        req.script_root,
        req.method == "GET" and req.environ.get("HTTP_SEC_FETCH_DEST", "iframe") == "iframe",
        bool(token),
        here.get("visitor") is not None,
        clock.warn if clock is not None else None,
        *key,
    )
    holes = holes or {}
    if not app.config.get("PAGE_CACHE", True) or not token:
        return render_template(name, **{**context(), **holes})
    kept: _Pages | None = app.extensions.get(store)
    if kept is None:
        kept = app.extensions.setdefault(
            store, _Pages(_MAX_PAGE_CHARS if store == "nama_pages" else _MAX_LEARNER_PAGE_CHARS)
        )
    shape = (*shape, *sorted(holes))
    try:
        found = kept.pages[shape]
    except KeyError:
        found = _make(name, context, holes)
        kept.keep(shape, found)
    if found is None:
        return render_template(name, **{**context(), **holes})
    statics, names = found
    values = {"sid": token, **{hole: str(escape(given)) for hole, given in holes.items()}}
    out = [statics[0]]
    for hole, static in zip(names, statics[1:], strict=True):
        value = values.get(hole)
        if value is None:
            value = values[hole] = _page_value(hole, clock, req, app)
        out.append(value.encode())
        out.append(static)
    return b"".join(out)


def _page_value(hole: str, clock: Any, req: Request, app: Flask) -> str:
    if hole == "csrf":
        return str(escape(csrf_token()))
    if hole == "url":
        return str(escape(_own_url(req, str(app.config["BASE_URL"]))))
    if hole == "next":
        return str(escape(req.full_path))
    if hole == "idle":
        return str(escape(clock.idle_remaining))
    return str(escape(clock.absolute_remaining))  # "absolute"


def _make(name: str, context: Callable[[], Mapping[str, Any]], holes: Mapping[str, str]) -> _Kept:
    token = g.session_token
    making = _MAKING.set(True)
    g.session_token = _mark("sid")
    try:
        marks = {hole: Markup(_mark(hole)) for hole in holes}  # noqa: S704  # our marker, no input
        html = render_template(name, **{**context(), **marks})
    finally:
        g.session_token = token
        _MAKING.reset(making)
    parts = _MARKS.split(html)
    statics, names = tuple(parts[0::2]), tuple(parts[1::2])
    stray = any("\ue000" in part or "\ue001" in part for part in statics) or "%EE%80%80" in html.upper()
    if stray or not _PAGE_HOLES.union(holes).issuperset(names):
        return None
    return tuple(static.encode() for static in statics), names


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        language_switch=language_switch,
        end_session=end_session,
        session_warning=session_warning,
        legal_links=legal_links,
        page_url=page_url,
        csrf_token=_csrf,  # after auth.init_app's: a marker while `page` renders a page to keep
    )

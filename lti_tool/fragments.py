"""The parts of every page that are the same for everyone but a few values: rendered once per language, then
filled in.

The header's language switch and "End session" form, the session warning and the legal links were includes:
rendered on every request, ~1,100 Python calls of a ~5,000-call module page (their ~20 messages, links, the
context Jinja copies for each include). Here each is rendered once per template, language, script root and
choices (`fixed`); what differs per request (`holes`: a link with the session token, the CSRF token, the seconds
left) is put into the template as a marker, and each request puts its own value, escaped as Jinja would have
escaped it, where the marker was. A hole must therefore appear in its template only as `{{ name }}` (no filter, no
test on it): a choice that changes the markup belongs in `fixed`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, g, request
from markupsafe import Markup, escape

from .auth import csrf_token, session_clock

_MARK = (
    "\ue000{}\ue001"  # Unicode private-use characters: never in the tool's messages, untouched by escaping
)
_MARKS = re.compile("\ue000(\\w+)\ue001")
_RENDERED: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
_MAX_RENDERED = 1024


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
        csrf=csrf_token(),
        next=request.full_path if request.method == "GET" else "",
    )


def end_session() -> Markup:
    """ "End session" on every page of a session: ends it on the server (auth.end)."""
    if not g.get("visitor"):
        return Markup()
    from flask import url_for

    return fragment("_session.html", action=url_for("session.end"), csrf=csrf_token())


def session_warning() -> Markup:
    """The dialog static/session.js shows before the session ends."""
    clock = session_clock()
    if clock is None:
        return Markup()
    from flask import url_for

    return fragment(
        "_session_warning.html",
        {"hours": int(current_app.config["SESSION_LIFETIME_SECONDS"]) // 3600},
        idle=clock.idle_remaining,
        absolute=clock.absolute_remaining,
        warn=clock.warn,
        extend_url=url_for("session.extend"),
        csrf=csrf_token(),
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


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        language_switch=language_switch,
        end_session=end_session,
        session_warning=session_warning,
        legal_links=legal_links,
    )

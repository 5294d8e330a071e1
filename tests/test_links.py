"""Links built once (lti_tool/links.py): the kept URL of a session page carries the token of the request that
asks for it, and every other call builds what Flask would build."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, url_for
from jinja2 import Environment
from markupsafe import Markup

from lti_tool.i18n import _template_gettext


def _flask_url_for(app: Flask, endpoint: str, **values: Any) -> str:
    return Flask.url_for(app, endpoint, **values)


def test_session_links_carry_each_requests_own_token(app: Flask) -> None:
    built = []
    for token in ("token-one", "token-two", "token-one"):
        with app.test_request_context("/"):
            g.session_token = token
            built.append((url_for("learner.start"), url_for("session.extend")))
            assert built[-1][0] == _flask_url_for(app, "learner.start")
    assert built[0] != built[1] and built[0] == built[2]
    assert "/s/token-two/" in built[1][0] and "token-one" not in built[1][0]


def test_other_links_are_what_flask_builds(app: Flask) -> None:
    with app.test_request_context("/", base_url="http://tool.example/prefix"):
        cases: list[tuple[str, dict[str, Any]]] = [
            ("static", {"filename": "style.css"}),
            ("legal.privacy", {"lang": "en"}),
            ("legal.privacy", {}),
            ("lti.config", {}),
        ]
        for endpoint, values in cases:
            for _ in range(2):  # built, then kept
                assert url_for(endpoint, **values) == _flask_url_for(app, endpoint, **values)
        assert url_for("lti.config", _external=True) == "http://tool.example/prefix/lti/config"
        assert url_for("lti.config", _anchor="x") == "/prefix/lti/config#x"
    with app.test_request_context("/"):  # another script root: its own links
        assert url_for("lti.config") == "/lti/config"


def test_template_gettext_is_jinjas_newstyle_gettext(app: Flask) -> None:
    plain = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    plain.install_gettext_callables(lambda m: m, lambda s, p, n: s if n == 1 else p, newstyle=True)  # type: ignore[attr-defined]
    ours = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    ours.install_gettext_callables(lambda m: m, lambda s, p, n: s if n == 1 else p, newstyle=True)  # type: ignore[attr-defined]
    ours.globals.update(gettext=_template_gettext, _=_template_gettext)
    source = '{{ _("100%% <sure>") }}|{{ _("Hi %(name)s", name="<b>") }}|{{ _("plain") }}|{{ _("plain") }}'
    with app.test_request_context("/"):
        expected = plain.from_string(source).render()
        assert ours.from_string(source).render() == expected
    assert expected == "100% <sure>|Hi &lt;b&gt;|plain|plain"
    assert isinstance(Markup("x"), str)


def test_flask_runs_plain_functions_as_they_are_and_forgets_one_off_ones(app: Flask) -> None:
    """`ToolFlask.ensure_sync` (asked for every hook and view of every request) answers as Flask does, remembers
    a plain function without keeping a one-off one alive, and leaves coroutine functions to Flask."""
    import gc
    import weakref

    def plain() -> str:
        return "ok"

    assert app.ensure_sync(plain) is plain and app.ensure_sync(plain) is plain
    assert app._plain.get(plain) is True  # type: ignore[attr-defined]

    def one_off() -> None:
        return None

    gone = weakref.ref(one_off)
    assert app.ensure_sync(one_off) is one_off
    del one_off
    gc.collect()
    assert gone() is None

    async def coroutine() -> None:
        return None

    try:
        expected: Any = Flask.ensure_sync(app, coroutine)
    except RuntimeError as error:  # Flask without its async extra
        expected = str(error)
    try:
        ours: Any = app.ensure_sync(coroutine)
    except RuntimeError as error:
        ours = str(error)
    assert ours is not coroutine and type(ours) is type(expected)
    assert coroutine not in app._plain  # type: ignore[attr-defined]
    assert app.ensure_sync(len) is len  # a builtin: no weak reference, still answered

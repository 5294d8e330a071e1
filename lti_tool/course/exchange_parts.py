"""The exchange page's answers of colleagues, each rendered once and kept.

An answer with its replies and its reply form (`peer_thread` in `templates/course/_exchange_thread.html`) is the
same on every colleague's page but for the reply form's address (it carries the session token) and CSRF token: it
is rendered with markers for those and kept per app (course/quiz_parts.py's mechanism), keyed on everything it
shows (the answer and its replies as read, the page number, the interface language). A page of twenty answers
was most of the exchange page's template work. The same HTML as rendering them every time (PAGE_CACHE=False).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from flask import current_app, url_for
from markupsafe import Markup, escape

from .. import exchange
from ..auth import csrf_token
from ..i18n import _current_locale
from .model import Course, Module
from .quiz_parts import kept_part, parts_store

TEMPLATE = "course/_exchange_thread.html"
_STORE = "nama_exchange_parts"
# Kept answers of a process, at most this many characters (each a few thousand: an answer of up to 2,000
# characters with its replies, held by its key and rendered with a reply form). An answer whose replies change is
# kept anew, and the old one, asked for no more, is among the first to go. In bench/load.py's soak 1.5 million
# characters (~2 MB per process) were full after three minutes (bench/FINDINGS.md, step 19).
_MAX_THREADS_CHARS = 750_000
_ACTION = "\ue000a\ue001"
_CSRF = "\ue000c\ue001"


def threads_html(course: Course, module: Module, shown: exchange.ExchangePage) -> Markup:
    """The colleagues' answers on the page as `peer_thread` renders them with no reply form come back."""
    macros: Any = current_app.jinja_env.get_template(TEMPLATE).module
    macro = macros.peer_thread
    action = url_for("learner.reply", module_id=module.id)
    values = {"a": str(escape(action)), "c": str(escape(csrf_token()))}
    parts = parts_store(_STORE, _MAX_THREADS_CHARS, _text_chars)
    locale = _current_locale()
    args = (shown.page, exchange.REPLY_MAX, course.language)
    out: list[str] = []
    for thread in shown.threads:
        key = (locale, course.id, module.id, *args, thread.answer, tuple(thread.replies))
        render = functools.partial(_thread, macro, thread, args, values)
        out.append(kept_part(parts, key, render, values))
    return Markup("".join(out))  # noqa: S704  # the template's output, escaped by it


def _text_chars(key: tuple[Any, ...]) -> int:
    """The characters of the answer and replies a kept answer's key holds (its last two items)."""
    answer, replies = key[-2:]
    return len(answer.text) + sum(len(reply.text) for reply in replies)


def _thread(
    macro: Any, thread: exchange.Thread, args: tuple[Any, ...], values: Mapping[str, str], marked: bool
) -> str:
    action, csrf = (_ACTION, _CSRF) if marked else (values["a"], values["c"])
    # Markup: the markers as they are, the values escaped above (as the template would have).
    return str(macro(thread, Markup(action), Markup(csrf), *args, False, "", ""))  # noqa: S704

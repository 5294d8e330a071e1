"""Soft hyphens for long words, so that German compounds break with a hyphen on a phone ("Nachhaltigkeits-
management"), never mid-syllable without one.

Browsers hyphenate only where they have a dictionary for the language (Chromium on Linux and Android often has
none), so the server inserts soft hyphens (U+00AD, invisible unless a line breaks there) with pyphen's
LibreOffice patterns. Applied to headings, titles, tables and lesson text through two Jinja filters:
`hyphenate` (plain text → escaped markup) and `hyphenate_html` (sanitised HTML → markup, text between tags
only, never inside `<code>`/`<pre>`). Both are cached: a course's texts are few and fixed, every page repeats them.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pyphen
from flask import Flask
from markupsafe import Markup, escape

SOFT_HYPHEN = "\u00ad"
# Words shorter than this fit a 360 px line at any size the pages use; hyphenating them only adds noise.
MIN_LENGTH = 10
_WORD = re.compile(rf"[^\W\d_]{{{MIN_LENGTH},}}")
# Text between tags, and the code/pre elements whose text stays as written.
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")
_VERBATIM = re.compile(r"<(code|pre)\b", re.IGNORECASE)


@lru_cache(maxsize=8)
def _dictionary(language: str) -> pyphen.Pyphen | None:
    lang = language.replace("-", "_")
    if lang not in pyphen.LANGUAGES:
        lang = lang.split("_")[0]
        if lang not in pyphen.LANGUAGES:
            return None
    return pyphen.Pyphen(lang=lang, left=3, right=3)


@lru_cache(maxsize=20_000)
def _word(word: str, language: str) -> str:
    dictionary = _dictionary(language)
    return dictionary.inserted(word, hyphen=SOFT_HYPHEN) if dictionary else word


def soft_hyphens(text: str, language: str = "de") -> str:
    """`text` with soft hyphens in every word of MIN_LENGTH letters or more (hyphens already there stay)."""
    return _WORD.sub(lambda m: _word(m.group(0), language), text)


@lru_cache(maxsize=4096)
def _html(html: str, language: str) -> str:
    parts = _TAG_OR_TEXT.split(html)
    verbatim = 0
    for index, part in enumerate(parts):
        if index % 2:  # a tag
            if _VERBATIM.match(part):
                verbatim += 1
            elif verbatim and re.match(r"</(code|pre)\b", part, re.IGNORECASE):
                verbatim -= 1
        elif part and not verbatim:
            parts[index] = soft_hyphens(part, language)
    return "".join(parts)


def hyphenate(text: object, language: str = "de") -> Markup:
    """Jinja filter: plain text, escaped, with soft hyphens."""
    return Markup(_html(str(escape(text)), language))  # noqa: S704  (escaped above; only U+00AD is added)


def hyphenate_html(html: object, language: str = "de") -> Markup:
    """Jinja filter: HTML that is already safe (sanitised course text), with soft hyphens in its text."""
    return Markup(_html(str(html), language))  # noqa: S704  (safe HTML in; only U+00AD is added to its text)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["hyphenate"] = hyphenate
    app.jinja_env.filters["hyphenate_html"] = hyphenate_html

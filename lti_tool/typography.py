"""Soft hyphens for long words, so that German compounds break with a hyphen on a phone ("Nachhaltigkeits-
management"), never mid-syllable without one.

Browsers hyphenate only where they have a dictionary for the language (Chromium on Linux and Android often has
none), so the server inserts soft hyphens (U+00AD, invisible unless a line breaks there) with pyphen's
LibreOffice patterns. Applied to headings, titles, tables and lesson text through two Jinja filters:
`hyphenate` (plain text → escaped markup) and `hyphenate_html` (sanitised HTML → markup, text between tags
only, never inside `<code>`/`<pre>`). Both are cached: a course's texts are few and fixed, every page repeats them.

pyphen's German patterns take ~18 MB and ~1 s of CPU to load in every process that hyphenates. So the words a
page can show are hyphenated once per deployment instead: at its first hyphenation a process reads the word table
of its texts (every word of MIN_LENGTH letters in the course content and the interface catalogs, in each
interface language) from the instance folder, `hyphenation-<digest>.json`. When the table does not exist yet
(new content, a new pyphen), the first process to need it has a short-lived process of its own write it, under a
file lock: a process that loaded the patterns keeps most of that memory even after letting them go. Only a word
from elsewhere (a course title sent by the LMS, the operator's legal facts) loads the patterns in a web process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import pyphen
from flask import Flask
from markupsafe import Markup, escape

PACKAGE = Path(__file__).resolve().parent

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
def _computed(word: str, language: str) -> str:
    dictionary = _dictionary(language)
    return dictionary.inserted(word, hyphen=SOFT_HYPHEN) if dictionary else word


# (word, language) -> the word with soft hyphens, from the word tables (the same as `_computed` gives).
_KNOWN: dict[tuple[str, str], str] = {}
# Word tables to read at the first hyphenation: (instance folder, text files, languages), one per app.
_PENDING: list[tuple[Path, tuple[Path, ...], tuple[str, ...]]] = []
# The (text files, languages) of every table read or pending: another app of the same course and languages in the
# process adds none (a table only holds what `_computed` gives, sooner; the tests build hundreds of apps in one
# process, and each used to queue its own table, all read by the first hyphenation after them).
_QUEUED: set[tuple[tuple[Path, ...], tuple[str, ...]]] = set()
_TABLES_LOCK = threading.Lock()


def _word(word: str, language: str) -> str:
    if _PENDING:
        _read_pending_tables()
    known = _KNOWN.get((word, language))
    return known if known is not None else _computed(word, language)


def _read_pending_tables() -> None:
    with _TABLES_LOCK:
        while _PENDING:
            _KNOWN.update(_word_table(*_PENDING.pop()))


def _corpus(files: Iterable[Path]) -> list[str]:
    words: set[str] = set()
    for path in files:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            words.update(_WORD.findall(path.read_text(encoding="utf-8")))
    return sorted(words)


def _word_table(
    instance: Path, files: tuple[Path, ...], languages: tuple[str, ...]
) -> dict[tuple[str, str], str]:
    words = _corpus(files)
    if all((w, lang) in _KNOWN for w in words for lang in languages):
        return {}  # another app of this process read the same words
    digest = hashlib.sha256(
        json.dumps([pyphen.__version__, MIN_LENGTH, languages, words], ensure_ascii=False).encode()
    ).hexdigest()[:20]
    path = instance / f"hyphenation-{digest}.json"
    table = _read_table(path)
    if table is None:
        instance.mkdir(parents=True, exist_ok=True)
        with (instance / "hyphenation.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                table = _read_table(path)
                if table is None:
                    request = json.dumps({"words": words, "languages": languages})
                    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), *sys.path])}
                    subprocess.run(  # noqa: S603  (this interpreter, this module, a path of our own)
                        [sys.executable, "-m", "lti_tool.typography", str(path)],
                        input=request.encode(),
                        env=env,
                        check=True,
                        timeout=120,
                    )
                    table = _read_table(path)
                    if table is None:
                        raise RuntimeError(f"no hyphenation table written to {path}")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return {(w, lang): h for lang, by_word in table.items() for w, h in by_word.items()}


def _read_table(path: Path) -> dict[str, dict[str, str]] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def soft_hyphens(text: str, language: str = "de") -> str:
    """`text` with soft hyphens in every word of MIN_LENGTH letters or more (hyphens already there stay)."""
    return _WORD.sub(lambda m: _word(m.group(0), language), text)


@lru_cache(maxsize=4096)
def _html(html: str, language: str) -> str:
    """Cached by the caller's own string: a course's Markup is the key as it is (a `str()` copy of each lesson's
    HTML as key cost a web process 0.3-0.5 MB)."""
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
    return Markup(_html(escape(text), language))  # noqa: S704  (escaped here; only U+00AD is added)


def hyphenate_html(html: object, language: str = "de") -> Markup:
    """Jinja filter: HTML that is already safe (sanitised course text), with soft hyphens in its text."""
    text = html if isinstance(html, str) else str(html)
    return Markup(_html(text, language))  # noqa: S704  (safe HTML in; only U+00AD is added to its text)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["hyphenate"] = hyphenate
    app.jinja_env.filters["hyphenate_html"] = hyphenate_html
    content = Path(app.config["CONTENT_DIR"])
    files = (
        *sorted(content.rglob("*.md")),
        *sorted(content.rglob("*.toml")),
        *sorted(PACKAGE.rglob("translations/*/LC_MESSAGES/*.po")),
    )
    languages = tuple(app.config["LANGUAGES"])
    with _TABLES_LOCK:
        if (files, languages) not in _QUEUED:
            _QUEUED.add((files, languages))
            _PENDING.append((Path(app.instance_path), files, languages))


def _write_table(path: Path, words: list[str], languages: list[str]) -> None:
    table = {lang: {w: _computed(w, lang) for w in words} for lang in languages}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)  # atomic: other processes read it whole or not at all


if __name__ == "__main__":  # python -m lti_tool.typography TABLE < {"words": [...], "languages": [...]}
    asked = json.load(sys.stdin)
    _write_table(Path(sys.argv[1]), list(asked["words"]), list(asked["languages"]))

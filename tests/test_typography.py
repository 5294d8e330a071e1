"""Soft hyphens for long German words (lti_tool/typography.py) and tables that screen readers can name."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pyphen
from markupsafe import Markup

from lti_tool import typography
from lti_tool.course.markdown import render_markdown
from lti_tool.typography import SOFT_HYPHEN, hyphenate, hyphenate_html, soft_hyphens


def test_long_german_words_get_soft_hyphens_at_syllables() -> None:
    assert soft_hyphens("Nachhaltigkeitsmanagement").split(SOFT_HYPHEN) == [
        "Nach", "hal", "tig", "keits", "ma", "na", "ge", "ment",
    ]  # fmt: skip
    assert soft_hyphens("Teilnahmebescheinigung").replace(SOFT_HYPHEN, "-") == "Teil-nah-me-be-schei-ni-gung"
    # short words, numbers and words already hyphenated by the author stay as they are
    assert soft_hyphens("Der Beschluss von 2015") == "Der Beschluss von 2015"
    assert SOFT_HYPHEN not in soft_hyphens("Rats-Beschluss")
    # a language pyphen does not know: unchanged
    assert soft_hyphens("Nachhaltigkeitsmanagement", "xx") == "Nachhaltigkeitsmanagement"


def test_html_text_only_never_tags_attributes_or_code() -> None:
    html = (
        '<p><a href="https://example.org/Nachhaltigkeitsmanagement">Nachhaltigkeitsmanagement</a> '
        "<code>Nachhaltigkeitsmanagement</code></p><pre>Nachhaltigkeitsmanagement</pre>"
    )
    out = str(hyphenate_html(html))
    assert out.replace(SOFT_HYPHEN, "") == html
    assert out.count(SOFT_HYPHEN) == 7  # only the link's text
    assert 'href="https://example.org/Nachhaltigkeitsmanagement"' in out


def test_plain_text_is_escaped_first() -> None:
    out = str(hyphenate('<script>alert("Nachhaltigkeitsmanagement")</script>'))
    assert "<script>" not in out and "&lt;script&gt;" in out and SOFT_HYPHEN in out


def test_lesson_tables_have_a_caption_and_row_headers() -> None:
    html = render_markdown(
        "## Die Gremien im Überblick\n\n| Gremium | Größe |\n|---|---|\n| Beirat | 20 |\n", link_base="module"
    )
    assert '<caption class="visually-hidden">Die Gremien im Überblick</caption>' in html
    assert '<th scope="col">Gremium</th>' in html and '<th scope="row">Beirat</th>' in html
    assert "<td>20</td>" in html
    # a table without a heading before it has no caption, and no markup can be smuggled in through a heading
    assert "<caption" not in render_markdown("| a | b |\n|---|---|\n| 1 | 2 |\n", link_base="module")
    sneaky = render_markdown("## <b>x</b> & y\n\n| a |\n|---|\n| 1 |\n", link_base="module")
    assert '<caption class="visually-hidden">&lt;b&gt;x&lt;/b&gt; &amp; y</caption>' in sneaky


def test_a_web_process_hyphenates_its_texts_from_the_word_table(tmp_path: Path) -> None:
    """The table is written once per instance by a process of its own; a process that reads it hyphenates the
    words of its texts as pyphen does without loading pyphen's patterns (~18 MB each); other words still get
    their soft hyphens."""
    text = tmp_path / "content" / "lesson.md"
    text.parent.mkdir()
    text.write_text("Nachhaltigkeitsmanagement der Verwaltungsspitze, Teilnahmebescheinigung.\n")
    expected = {w: soft_hyphens(w) for w in ("Nachhaltigkeitsmanagement", "Verwaltungsspitze")}
    saved = dict(typography._KNOWN)
    try:
        typography._KNOWN.clear()
        table = typography._word_table(tmp_path / "instance", (text,), ("de", "en"))
        assert [p.name.startswith("hyphenation-") for p in (tmp_path / "instance").glob("*.json")] == [True]
        assert table[("Verwaltungsspitze", "de")] == expected["Verwaltungsspitze"]
        assert ("Teilnahmebescheinigung", "en") in table
        typography._KNOWN.update(table)
        typography._dictionary.cache_clear()
        typography._computed.cache_clear()
        pyphen.hdcache.clear()
        assert soft_hyphens("Nachhaltigkeitsmanagement der Verwaltungsspitze") == (
            f"{expected['Nachhaltigkeitsmanagement']} der {expected['Verwaltungsspitze']}"
        )
        assert pyphen.hdcache == {}  # no patterns loaded
        assert typography._word_table(tmp_path / "instance", (text,), ("de", "en")) == {}  # known already
        assert SOFT_HYPHEN in soft_hyphens("Kommunalverwaltungen")  # not in the table: pyphen as before
    finally:
        typography._KNOWN.clear()
        typography._KNOWN.update(saved)


def test_the_cache_keeps_the_callers_html_not_a_copy_of_it() -> None:
    # a course's lesson HTML is cached by the course's own string (a copy per lesson cost a process 0.3-0.5 MB)
    html = Markup(f"<p>{uuid.uuid4().hex} Nachhaltigkeitsmanagement</p>")
    held = sys.getrefcount(html)
    first = hyphenate_html(html)
    assert sys.getrefcount(html) == held + 1  # the cache's key
    assert hyphenate_html(html) == first and SOFT_HYPHEN in first


def test_apps_of_one_course_queue_its_word_table_once(tmp_path: Path) -> None:
    """A process that builds many apps of one course (the tests do) queues the course's word table once, not once
    per app: the first hyphenation after them used to read every queued table's files again."""
    from flask import Flask

    content = tmp_path / "content"
    content.mkdir()
    (content / "lesson.md").write_text("Nachhaltigkeitsmanagement", encoding="utf-8")

    def app(languages: list[str], instance: str) -> Flask:
        made = Flask(__name__, instance_path=str(tmp_path / instance))
        made.config.update(CONTENT_DIR=str(content), LANGUAGES=languages)
        return made

    pending, queued = list(typography._PENDING), set(typography._QUEUED)
    try:
        typography._PENDING.clear()
        for n in range(3):
            typography.init_app(app(["de", "en"], f"instance-{n}"))
        assert [(instance.name, languages) for instance, _, languages in typography._PENDING] == [
            ("instance-0", ("de", "en"))
        ]
        typography.init_app(app(["de"], "instance-3"))  # other languages: another table
        assert len(typography._PENDING) == 2
        assert soft_hyphens("Nachhaltigkeitsmanagement").count(SOFT_HYPHEN) == 7  # the tables read
        assert typography._PENDING == []
        typography.init_app(app(["de", "en"], "instance-4"))  # read already
        assert typography._PENDING == []
    finally:
        typography._PENDING[:] = pending
        typography._QUEUED.clear()
        typography._QUEUED.update(queued)

"""Markdown rendering: links rewritten as the page URLs need, and nothing an author writes can run script."""

from __future__ import annotations

import re

import pytest

from lti_tool.course.markdown import headings, internal_links, render_markdown

HOSTILE = """\
<script>alert("x")</script>

<img src="x" onerror="alert(1)">

<div onclick="alert(2)">Klick</div> <b onmouseover="alert(3)">fett</b>

[Klick mich](javascript:alert(4)) [Noch einer](JaVaScRiPt:alert(5))

[Daten](data:text/html;base64,PHNjcmlwdD4=)

[vb](vbscript:msgbox(6)) [Leer]( javascript:alert(7) )

<a href="javascript:alert(8)">roh</a> <iframe src="https://evil.example"></iframe>

![Bild](javascript:alert(9)) ![Bild2](https://evil.example/x.png "onerror=alert(10)")

[ref]: javascript:alert(11)

Siehe [ref].

<style>body{display:none}</style> <!-- Kommentar -->

```html
<script>alert(12)</script>
```
"""


def test_hostile_markdown_is_neutralised() -> None:
    html = render_markdown(HOSTILE, link_base="module")

    assert "<script" not in html
    assert "<img" not in html
    assert "<iframe" not in html
    assert "<style" not in html
    assert "<div" not in html
    assert "<!--" not in html
    assert not re.search(r"<[^>]*\son\w+\s*=", html), "no event handler attribute in any tag"
    assert not re.search(r"<[^>]*\bhref\s*=\s*\"?\s*(javascript|vbscript|data):", html, re.IGNORECASE)
    # Raw HTML is shown as text, not dropped silently.
    assert "&lt;script&gt;" in html
    # Dropped links keep their text.
    assert "Klick mich" in html
    assert "<a" not in html


def test_hostile_targets_are_reported_for_the_check() -> None:
    targets = internal_links(HOSTILE)
    assert "javascript:alert(4)" in targets
    assert "JaVaScRiPt:alert(5)" in targets
    assert "javascript:alert(11)" in targets


@pytest.mark.parametrize(
    ("language", "hint"),
    [
        ("de", " (öffnet in neuem Fenster)"),
        ("en", " (opens in a new window)"),
        ("en-GB", " (opens in a new window)"),
    ],
)
def test_external_links_open_in_new_window_with_hint(language: str, hint: str) -> None:
    html = render_markdown(
        "Siehe [UN](https://example.org/a?b=1&c=2).", link_base="module", language=language
    )
    assert html == (
        '<p>Siehe <a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">'
        f'UN<span class="visually-hidden">{hint}</span></a>.</p>\n'
    )


def test_mailto_and_autolinks_are_external() -> None:
    html = render_markdown("<mailto:info@example.org> und <http://example.org>", link_base="course")
    assert html.count('target="_blank"') == 2
    assert html.count('class="visually-hidden"') == 2
    assert 'href="mailto:info@example.org"' in html


@pytest.mark.parametrize(
    ("link_base", "target", "href"),
    [
        ("module", "module:agenda-2030", "../agenda-2030/"),
        ("module", "module:agenda-2030/01-beschluss", "../agenda-2030/01-beschluss"),
        ("course", "module:agenda-2030", "m/agenda-2030/"),
        ("course", "module:agenda-2030/01-beschluss", "m/agenda-2030/01-beschluss"),
        ("page", "module:agenda-2030", "../m/agenda-2030/"),
        ("page", "module:agenda-2030/01-beschluss", "../m/agenda-2030/01-beschluss"),
        ("module", "glossary:invkg", "../../glossar#begriff-invkg"),
        ("course", "glossary:invkg", "glossar#begriff-invkg"),
        ("page", "glossary:invkg", "../glossar#begriff-invkg"),
        ("module", "page:anrechnung", "../../seiten/anrechnung"),
        ("course", "page:anrechnung", "seiten/anrechnung"),
        ("page", "page:anrechnung", "../seiten/anrechnung"),
    ],
)
def test_internal_links(link_base: str, target: str, href: str) -> None:
    html = render_markdown(f"[Weiter]({target})", link_base=link_base)  # type: ignore[arg-type]
    assert html == f'<p><a href="{href}">Weiter</a></p>\n'


@pytest.mark.parametrize(
    "target",
    [
        "seite.html",
        "#oben",
        "module:",
        "module:a/b/c",
        "//evil.example",
        "ftp://x",
        "glossary:",
        "glossary:a/b",
        "glossary:-x",
        "page:",
        "page:a/b",
        "page:../x",
        "Glossary:x",
    ],
)
def test_other_targets_lose_their_link(target: str) -> None:
    assert render_markdown(f"[Text]({target})", link_base="module") == "<p>Text</p>\n"


def test_text_tags_survive() -> None:
    text = (
        "## Zwei\n\n### Drei\n\n#### Vier\n\n*kursiv* **fett** `code`\n\n> Zitat\n\n- "
        "a\n- b\n\n3. drei\n4. vier\n\n"
        "| Jahr | Ereignis |\n|---:|---|\n| 2015 | Agenda |\n\n---\n\nZeile  \numbruch\n"
    )
    html = render_markdown(text, link_base="module")
    for tag in (
        "h2",
        "h3",
        "h4",
        "em",
        "strong",
        "code",
        "blockquote",
        "ul",
        "li",
        "table",
        "thead",
        "tbody",
    ):
        assert f"<{tag}>" in html, tag
    assert '<ol start="3">' in html
    # alignment styles are dropped (no inline styles under the CSP)
    assert '<th scope="col">Jahr</th>' in html
    assert '<th scope="row">2015</th>' in html and "<td>Agenda</td>" in html  # the first column heads its row
    assert '<caption class="visually-hidden">Vier</caption>' in html  # named by the heading above it
    assert "<hr>" in html
    assert "<br>" in html


def test_headings() -> None:
    assert headings("# Eins\n\nText\n\nZwei\n----\n\n### Drei *kursiv*\n") == [
        (1, "Eins"),
        (2, "Zwei"),
        (3, "Drei *kursiv*"),
    ]


def test_internal_links_lists_targets_as_written() -> None:
    text = (
        "[a](module:eins) [b](https://x.org/ä) [c](<seite mit leer.html>) [d][r]\n\n[r]: module:zwei/01-x\n"
    )
    assert internal_links(text) == [
        "module:eins",
        "https://x.org/ä",
        "seite mit leer.html",
        "module:zwei/01-x",
    ]


def test_gender_star_stays_a_star_and_emphasis_still_works() -> None:
    html = render_markdown(
        "Teilnehmer*innen und Bürger*innenversammlung, **Manager*innen**, jede*r, ein*e, *kursiv*, 2*3*4",
        link_base="course",
    )
    assert "<em>innen" not in html
    assert "Teilnehmer*innen und Bürger*innenversammlung" in html
    assert "<strong>Manager*innen</strong>" in html
    assert "jede*r, ein*e" in html
    assert "<em>kursiv</em>" in html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        (
            "Motto: [Leave no one behind]{lang=en}.",
            '<p>Motto: <span lang="en">Leave no one behind</span>.</p>\n',
        ),
        ("*[Agenda]{lang=en-GB}*", '<p><em><span lang="en-GB">Agenda</span></em></p>\n'),
        # Only a well-formed language tag, only `lang`: no class, id, style or handler from an author.
        ('[x]{lang="e<n"}', "<p><span>x</span></p>\n"),
        ("[x]{lang=english}", "<p><span>x</span></p>\n"),
        ("[x]{.visually-hidden}", "<p><span>x</span></p>\n"),
        ("[x]{#main}", "<p><span>x</span></p>\n"),
        ('[x]{style="display:none"}', "<p><span>x</span></p>\n"),
        ("[x]{onclick=alert}", "<p><span>x</span></p>\n"),
        ("[x] {lang=en}", "<p>[x] {lang=en}</p>\n"),
    ],
)
def test_language_of_parts(text: str, html: str) -> None:
    assert render_markdown(text, link_base="module") == html


def test_a_language_span_is_not_a_link_target() -> None:
    assert internal_links("[Leave no one behind]{lang=en} und [Modul](module:eins)") == ["module:eins"]

"""Course Markdown to safe HTML.

Markdown is CommonMark (plus tables) with raw HTML turned off; the HTML is then sanitised with nh3 against a
short list of text tags, so nothing a course author writes can run script or style the page. Links are the
only thing rewritten: external ones open in a new window (and say so to screen readers), internal links
(`module:`, `glossary:`, `page:`) become relative URLs that stay inside the learner's session prefix.

The relative URLs follow the learner pages' URL scheme (course/views.py): the overview and the glossary at the
session root (`/s/<sid>/`, `glossar`), modules' pages at `m/<module>/<page>`, course pages at `seiten/<page>`.
So a text's `LinkBase` is the folder it is shown in: "course" (the session root), "module" (`m/<module>/`) or
"page" (`seiten/`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from itertools import pairwise
from typing import Literal

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.attrs import attrs_plugin

LinkBase = Literal["module", "course", "page"]

EXTERNAL_SCHEMES = ("http", "https", "mailto")

_IDENTIFIER = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
INTERNAL_LINK = re.compile(rf"module:(?P<module>{_IDENTIFIER})(?:/(?P<lesson>{_IDENTIFIER}))?")
GLOSSARY_LINK = re.compile(rf"glossary:(?P<term>{_IDENTIFIER})")
PAGE_LINK = re.compile(rf"page:(?P<page>{_IDENTIFIER})")

# Where the glossary and the course pages are, relative to the session root (course/views.py serves them there),
# and the anchor of a term on the glossary page.
GLOSSARY_PATH = "glossar"
PAGES_PATH = "seiten"
TERM_ANCHOR = "begriff-"
# From each link base back to the session root.
_TO_ROOT: dict[str, str] = {"course": "", "module": "../../", "page": "../"}
_EXTERNAL_LINK = re.compile(r"(?:https?|mailto):", re.IGNORECASE)
# The German gender star ("Teilnehmer*innen", "Bürger*in") is a letter's neighbour, not emphasis: CommonMark would
# pair two of them in one paragraph into <em>. Escaped before parsing, so authors write the words as they are.
_GENDER_STAR = re.compile(r"(?<=[^\W\d_])\*(?=innen|(?:in|e|en|er|es|em|r)\b)")

_NEW_WINDOW_HINT = {
    "de": " (öffnet in neuem Fenster)",
    "en": " (opens in a new window)",
}

_ALLOWED_TAGS = {
    "p",
    "h2",
    "h3",
    "h4",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "a",
    "blockquote",
    "code",
    "pre",
    "table",
    "caption",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "br",
    "hr",
    "span",
}

# Language of parts (WCAG 3.1.2): an author marks a phrase in another language as `[Leave no one behind]{lang=en}`
# (a bracketed span with attributes, mdit-py-plugins' attrs); it becomes <span lang="en">. Only `lang` is read,
# and only a well-formed language tag is kept.
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")


def _checked_attribute(element: str, attribute: str, value: str) -> str | None:
    if attribute == "lang":
        return value if LANGUAGE_TAG.fullmatch(value) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href"}, "ol": {"start"}, "span": {"lang"}, "th": {"scope"}},
    attribute_filter=_checked_attribute,
    tag_attribute_values={"a": {"target": {"_blank"}, "rel": {"noopener noreferrer"}}},
    allowed_classes={"span": {"visually-hidden"}, "caption": {"visually-hidden"}},
    link_rel=None,
    url_schemes=set(EXTERNAL_SCHEMES),
)


def _parser(*, keep_targets_as_written: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    attrs_plugin(md, spans=True, after=("span_close",), allowed=["lang"])
    # Every target becomes a link token so that it can be checked and, if not allowed, dropped by us
    # (markdown-it would otherwise leave `javascript:` links as plain text the checker never sees).
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    if keep_targets_as_written:
        md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    return md


_MD = _parser(keep_targets_as_written=False)
_MD_RAW = _parser(keep_targets_as_written=True)


def is_external_link(target: str) -> bool:
    return _EXTERNAL_LINK.match(target) is not None


def internal_href(target: str, link_base: LinkBase) -> str | None:
    """The relative URL of a `module:`, `glossary:` or `page:` link shown in a text at `link_base`, or None if
    the target is not a well-formed one (whether the module, lesson, term or page exists is the loader's check)."""
    root = _TO_ROOT[link_base]
    if match := INTERNAL_LINK.fullmatch(target):
        module, lesson = match["module"], match["lesson"]
        prefix = "../" if link_base == "module" else f"{root}m/"
        return f"{prefix}{module}/{lesson}" if lesson else f"{prefix}{module}/"
    if match := GLOSSARY_LINK.fullmatch(target):
        return f"{root}{GLOSSARY_PATH}#{TERM_ANCHOR}{match['term']}"
    if match := PAGE_LINK.fullmatch(target):
        return f"{root}{PAGES_PATH}/{match['page']}"
    return None


def _walk_inline(tokens: list[Token]) -> list[Token]:
    inline: list[Token] = []
    for token in tokens:
        if token.type == "inline" and token.children:
            inline.extend(token.children)
    return inline


def internal_links(text: str) -> list[str]:
    """The targets of all links in `text`, as written (external, internal and anything else)."""
    return [
        str(token.attrGet("href") or "")
        for token in _walk_inline(_MD_RAW.parse(text))
        if token.type == "link_open"
    ]


def headings(text: str) -> list[tuple[int, str]]:
    """(level, text) of every heading in `text`, in order (ATX `#` and underlined setext headings)."""
    tokens = _MD_RAW.parse(text)
    found: list[tuple[int, str]] = []
    for heading, content in pairwise(tokens):
        if heading.type == "heading_open":
            found.append((int(heading.tag[1:]), content.content))
    return found


LinkResolver = Callable[[str], str | None]


def _rewrite_links(
    children: list[Token], link_base: LinkBase, hint: str, resolve: LinkResolver | None = None
) -> list[Token]:
    """External links: new window + hint. Internal links: relative URL; targets only `resolve` knows: the URL it
    gives (texts outside a course, such as the guides, link their own pages this way). Anything else: text only."""
    result: list[Token] = []
    # For each open link: does its closing token get the hint, or is the pair dropped?
    stack: list[Literal["external", "internal", "dropped"]] = []
    for token in children:
        if token.type == "link_open":
            href = str(token.attrGet("href") or "")
            if is_external_link(href):
                token.attrSet("target", "_blank")
                token.attrSet("rel", "noopener noreferrer")
                stack.append("external")
            elif (relative := internal_href(href, link_base)) is not None:
                token.attrSet("href", relative)
                stack.append("internal")
            elif resolve is not None and (resolved := resolve(href)) is not None:
                token.attrSet("href", resolved)
                stack.append("internal")
            else:
                stack.append("dropped")
                continue
        elif token.type == "link_close":
            kind = stack.pop() if stack else "dropped"
            if kind == "dropped":
                continue
            if kind == "external":
                span = Token("html_inline", "", 0)
                span.content = f'<span class="visually-hidden">{hint}</span>'
                result.append(span)
        result.append(token)
    return result


def _label_tables(tokens: list[Token]) -> list[Token]:
    """Tables a screen reader can name and read by row (WCAG 1.3.1): each table gets the nearest heading before
    it as a (visually hidden) caption, the header cells `scope="col"`, the first cell of each body row becomes
    its row header (`<th scope="row">`)."""
    result: list[Token] = []
    heading = ""
    in_body = False
    first_cell = False
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and index + 1 < len(tokens):
            heading = tokens[index + 1].content
        elif token.type == "table_open":
            result.append(token)
            if heading:
                caption = Token("html_block", "", 0)
                caption.content = f'<caption class="visually-hidden">{escape(heading)}</caption>\n'
                result.append(caption)
            continue
        elif token.type == "tbody_open":
            in_body = True
        elif token.type == "tbody_close":
            in_body = False
        elif token.type == "tr_open":
            first_cell = in_body
        elif token.type == "th_open":
            token.attrSet("scope", "col")
        elif token.type == "td_open" and first_cell:
            token.tag = "th"
            token.attrSet("scope", "row")
        elif token.type == "td_close" and first_cell:
            token.tag = "th"
            first_cell = False
        result.append(token)
    return result


def render_markdown(
    text: str, *, link_base: LinkBase, language: str = "de", resolve_link: LinkResolver | None = None
) -> str:
    """Render course Markdown to sanitised HTML (safe to wrap in `Markup`).

    `link_base` says where the text is shown: "module" for pages at `m/<module>/<page>` (lessons, quiz
    explanations and hints, practice tasks and model answers), "course" for the course overview and the glossary,
    "page" for course pages at `seiten/<page>`. `resolve_link` turns further targets into URLs (None: dropped).
    """
    hint = _NEW_WINDOW_HINT["en" if language.lower().startswith("en") else "de"]
    tokens = _MD.parse(_GENDER_STAR.sub(r"\\*", text))
    for token in tokens:
        if token.type == "inline" and token.children:
            token.children = _rewrite_links(token.children, link_base, hint, resolve_link)
    html = _MD.renderer.render(_label_tables(tokens), _MD.options, {})
    return _CLEANER.clean(html)

"""The guides for Moodle administrators, teachers and learners: Markdown files in `guides/<language>/<id>.md`, and
`guides/moodle-strings.toml`, the Moodle labels they quote (no Flask, no database).

A guide file starts with an HTML comment naming the Moodle strings it quotes (`moodle-strings:` followed by string
keys, see moodle-strings.toml) and then a `# Title` line; the rest is course Markdown (lti_tool/course/markdown.py)
with two additions, filled in when a page is rendered:
- `{{tool:<name>}}`, `{{setting:<name>}}` and `{{course:<name>}}`: a value of this installation (an URL
  /lti/config shows, a session time limit, a figure of the default course), so that a guide never states a URL or
  a number the tool does not have;
- links to `guide:<id>` (another guide) and `tool:<page>` (a page of the tool, see TOOL_PAGES).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

GUIDES_DIR = Path(__file__).resolve().parents[2] / "guides"
STRINGS_FILE = GUIDES_DIR / "moodle-strings.toml"
LANGUAGES = ("de", "en")
# Which guides exist, in the order the index lists them; the id is the URL (/anleitungen/<id>).
GUIDE_IDS = ("moodle-administration", "lehrende", "teilnehmende")
# Pages of the tool a guide may link (`tool:<name>`), as Flask endpoints.
TOOL_PAGES = {"config": "lti.config", "registration-links": "admin.links", "guides": "guides.index"}
TOOL_VALUES = ("login_url", "launch_url", "jwks_url", "deep_linking_url", "base_url", "domain")
# Settings of this installation a guide may state (from the tool's configuration).
SETTING_VALUES = ("idle_minutes", "warning_minutes", "session_hours")
COURSE_VALUES = ("title", "hours", "teaching_units", "modules", "pass_mark", "id")
MENU_SEPARATOR = " › "

_LEADING_COMMENT = re.compile(r"\A\s*<!--(?P<comment>.*?)-->\s*", re.DOTALL)
_STRING_LIST = re.compile(r"moodle-strings:\s*(?P<keys>[^\n]*(?:\n[ \t]+[^\n]*)*)")
PLACEHOLDER = re.compile(r"\{\{(?P<kind>tool|course|setting):(?P<name>[a-z_]+)\}\}")
GUIDE_LINK = re.compile(r"guide:(?P<id>[a-z-]+)")
TOOL_LINK = re.compile(r"tool:(?P<page>[a-z-]+)")


class GuideError(ValueError):
    """A guide or the strings file is not what the loader expects (a mistake in the repository, found at start)."""


@dataclass(frozen=True)
class MoodleString:
    key: str
    de: str
    en: str | None
    de_source: str
    en_source: str | None
    en_verified: bool

    def text(self, language: str) -> str | None:
        return self.de if language == "de" else self.en


@dataclass(frozen=True)
class MoodleStrings:
    strings: dict[str, MoodleString]
    paths: dict[str, tuple[str, ...]]
    sources: dict[str, str]

    def path_text(self, name: str, language: str) -> str:
        return MENU_SEPARATOR.join(str(self.strings[key].text(language)) for key in self.paths[name])


@dataclass(frozen=True)
class Guide:
    id: str
    language: str
    title: str
    body: str  # Markdown with placeholders, without the leading comment and title
    cited: tuple[str, ...]  # the Moodle string keys its comment names


def load_strings(path: Path = STRINGS_FILE) -> MoodleStrings:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    sources = {str(k): str(v) for k, v in data.get("sources", {}).items()}
    strings: dict[str, MoodleString] = {}
    for key, entry in data.get("strings", {}).items():
        if "/" not in key or not isinstance(entry.get("de"), str) or entry.get("de_source") not in sources:
            raise GuideError(
                f"{path.name}: string {key!r} needs a component/id key, `de` and a known de_source"
            )
        en_source = entry.get("en_source")
        if en_source is not None and en_source not in sources:
            raise GuideError(f"{path.name}: string {key!r} names an unknown en_source {en_source!r}")
        strings[key] = MoodleString(
            key=key,
            de=entry["de"],
            en=entry.get("en"),
            de_source=entry["de_source"],
            en_source=en_source,
            en_verified=bool(entry.get("en_verified", en_source is not None)),
        )
    paths: dict[str, tuple[str, ...]] = {}
    for name, keys in data.get("paths", {}).items():
        unknown = [k for k in keys if k not in strings]
        if unknown:
            raise GuideError(f"{path.name}: path {name!r} names unknown strings {unknown}")
        paths[name] = tuple(keys)
    return MoodleStrings(strings, paths, sources)


def parse_guide(guide_id: str, language: str, text: str) -> Guide:
    match = _LEADING_COMMENT.match(text)
    if match is None:
        raise GuideError(f"{language}/{guide_id}.md: starts without the comment naming its Moodle strings")
    cited_match = _STRING_LIST.search(match["comment"])
    cited = tuple(cited_match["keys"].replace(",", " ").split()) if cited_match else ()
    rest = text[match.end() :]
    first, _, body = rest.partition("\n")
    if not first.startswith("# "):
        raise GuideError(f"{language}/{guide_id}.md: the line after the comment must be the `# Title`")
    for placeholder in PLACEHOLDER.finditer(body):
        allowed = {"tool": TOOL_VALUES, "course": COURSE_VALUES, "setting": SETTING_VALUES}[
            placeholder["kind"]
        ]
        if placeholder["name"] not in allowed:
            raise GuideError(f"{language}/{guide_id}.md: unknown placeholder {placeholder.group(0)}")
    return Guide(guide_id, language, first[2:].strip(), body.strip() + "\n", cited)


def load_guides(directory: Path = GUIDES_DIR) -> dict[tuple[str, str], Guide]:
    """Every guide in every language, keyed by (id, language); a missing file is an error (each guide exists in
    German and English)."""
    guides: dict[tuple[str, str], Guide] = {}
    for guide_id in GUIDE_IDS:
        for language in LANGUAGES:
            path = directory / language / f"{guide_id}.md"
            if not path.is_file():
                raise GuideError(f"missing guide {language}/{guide_id}.md")
            guides[(guide_id, language)] = parse_guide(guide_id, language, path.read_text(encoding="utf-8"))
    return guides

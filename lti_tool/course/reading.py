"""What the readers of one course folder share: its problems, its sources, its Markdown and the link check.

The link check runs last, once every module, lesson, glossary term and course page is known, so each reader
hands its Markdown to `Reading.markdown`, which renders it at once and keeps the text for the check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .fields import Report, Table
from .markdown import (
    GLOSSARY_LINK,
    INTERNAL_LINK,
    PAGE_LINK,
    LinkBase,
    headings,
    internal_links,
    is_external_link,
    render_markdown,
)
from .model import Source

_FRONT_MATTER = re.compile(
    r"\A\+\+\+[ \t]*\r?\n(?P<toml>.*?)^\+\+\+[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE
)


@dataclass(frozen=True, slots=True)
class _Text:
    path: Path
    field: str
    text: str


@dataclass
class Targets:
    """Everything a link may point at: module id -> its lesson ids, glossary term ids, course page ids."""

    lessons: dict[str, set[str]] = field(default_factory=dict)
    terms: set[str] = field(default_factory=set)
    pages: set[str] = field(default_factory=set)

    def problem(self, target: str) -> str | None:
        """Why a link target is wrong, or None when it is fine."""
        if is_external_link(target):
            return None
        if match := INTERNAL_LINK.fullmatch(target):
            module_id, lesson_id = match["module"], match["lesson"]
            if module_id not in self.lessons:
                return f"link {target!r}: there is no module {module_id!r}"
            if lesson_id is not None and lesson_id not in self.lessons[module_id]:
                return f"link {target!r}: module {module_id!r} has no lesson {lesson_id!r}"
            return None
        if match := GLOSSARY_LINK.fullmatch(target):
            if match["term"] not in self.terms:
                return f"link {target!r}: the glossary (glossary.toml) has no term {match['term']!r}"
            return None
        if match := PAGE_LINK.fullmatch(target):
            if match["page"] not in self.pages:
                return f"link {target!r}: there is no course page pages/{match['page']}.md"
            return None
        if target.startswith("module:"):
            return f"link {target!r}: write module:<module-id> or module:<module-id>/<lesson-id>"
        if target.startswith(("glossary:", "page:")):
            kind = target.split(":", 1)[0]
            return f"link {target!r}: write {kind}:<{'term' if kind == 'glossary' else 'page'}-id>"
        return f"link {target!r}: links go to http(s)://, mailto:, module:, glossary: or page: targets"


class Reading:
    """One pass over one course folder."""

    def __init__(self, course_dir: Path) -> None:
        self.dir = course_dir
        self.report = Report(course_dir)
        self.sources: dict[str, Source] = {}
        self.targets = Targets()
        self.language = "de"
        self._texts: list[_Text] = []

    def markdown(self, path: Path, field_name: str, text: str, link_base: LinkBase) -> str:
        self._texts.append(_Text(path, field_name, text))
        return render_markdown(text, link_base=link_base, language=self.language)

    def cited(self, table: Table, key: str, *, required: bool) -> tuple[Source, ...]:
        ids = table.strings(key, required=required)
        if ids is None:
            return ()
        if required and not ids:
            table.problem(key, "must list at least one source")
        found: list[Source] = []
        for source_id in ids:
            source = self.sources.get(source_id)
            if source is None:
                table.problem(key, f"unknown source {source_id!r} (not in [sources] of course.toml)")
            else:
                found.append(source)
        return tuple(found)

    def page_file(self, path: Path) -> tuple[Table, str] | None:
        """A Markdown file with TOML front matter (lessons, course pages): the front matter and the body."""
        text = self.report.read_text(path)
        if text is None:
            return None
        match = _FRONT_MATTER.match(text)
        if match is None:
            self.report.add(
                path, "", "missing front matter (a block between +++ lines at the top of the file)"
            )
            return None
        data = self.report.parse_toml(path, match["toml"], first_line=2)
        if data is None:
            return None
        body = text[match.end() :]
        for level, heading in headings(body):
            if level == 1:
                self.report.add(
                    path, "text", f"level-1 heading {heading!r}: the page title is the title, start at ##"
                )
        return Table(self.report, path, data), body

    def check_links(self) -> None:
        for text in self._texts:
            for target in internal_links(text.text):
                problem = self.targets.problem(target)
                if problem:
                    self.report.add(text.path, text.field, problem)

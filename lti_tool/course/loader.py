"""Course folders to frozen objects (`model.py`), with every content problem reported at once.

`content/FORMAT.md` is the contract. One pass over a course folder both checks and builds (see `fields.py`
for how problems are collected); `load_course` hands out the built course only when there were none.
Markdown is rendered here, once per process, so pages only look things up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeGuard

from .fields import IDENTIFIER, CourseError, Problem, Report, Table, duplicates
from .markdown import INTERNAL_LINK, LinkBase, headings, internal_links, is_external_link, render_markdown
from .model import (
    QUESTION_KINDS,
    Catalog,
    Course,
    Lesson,
    Module,
    Option,
    PracticeTask,
    Question,
    QuestionKind,
    Quiz,
    Source,
)

LESSON_FILE = re.compile(r"[0-9]{2}-[A-Za-z0-9][A-Za-z0-9_-]*\.md")
MAX_OPTIONS = 8
DEFAULT_PASS_MARK = 80
DEFAULT_MIN_LENGTH = 50
DEFAULT_MAX_LENGTH = 5000

_FRONT_MATTER = re.compile(
    r"\A\+\+\+[ \t]*\r?\n(?P<toml>.*?)^\+\+\+[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE
)


def _is_kind(value: str) -> TypeGuard[QuestionKind]:
    return value in QUESTION_KINDS


# --- The pass over one course folder -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    """Markdown waiting for the link check (which needs every module and lesson id first)."""

    path: Path
    field: str
    text: str


class _CourseReader:
    def __init__(self, course_dir: Path) -> None:
        self.dir = course_dir
        self.report = Report(course_dir)
        self.sources: dict[str, Source] = {}
        self.texts: list[_Text] = []
        # module id -> its lesson ids, also for modules whose module.toml is broken (for the link check)
        self.lesson_ids: dict[str, set[str]] = {}

    def markdown(self, path: Path, field_name: str, text: str, link_base: LinkBase, language: str) -> str:
        self.texts.append(_Text(path, field_name, text))
        return render_markdown(text, link_base=link_base, language=language)

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

    def read(self) -> Course | None:
        path = self.dir / "course.toml"
        data = self.report.load_toml(path)
        if data is None:
            return None
        course = Table(self.report, path, data)

        course_id = course.identifier("id")
        if course_id and course_id != self.dir.name:
            course.problem("id", f"{course_id!r} must equal the folder name {self.dir.name!r}")
        title = course.string("title")
        language = course.string("language", default="de")
        description = course.string("description")
        issuer = course.string("issuer")
        pass_mark = course.integer("pass_mark", required=False, default=DEFAULT_PASS_MARK)
        if not 1 <= pass_mark <= 100:
            course.problem("pass_mark", f"must be between 1 and 100 (percent), not {pass_mark}")
        practice_required = course.boolean("practice_required", required=False, default=True)
        practice_review_required = course.boolean("practice_review_required", required=False, default=False)
        self.read_sources(course)

        module_ids = self.module_ids(course)
        listed = course.data.get("modules")
        required = course.strings("required_modules", required=False)
        if required is None:
            required = module_ids
        for module_id in required:
            # Checked against the list as written: a listed module without folder is reported once, above.
            if not isinstance(listed, list) or module_id not in listed:
                course.problem("required_modules", f"{module_id!r} is not in modules")
        for duplicate in duplicates(required):
            course.problem("required_modules", f"{duplicate!r} is listed twice")
        course.end()

        description_html = self.markdown(path, "description", description, "course", language)
        modules = tuple(
            module
            for position, module_id in enumerate(module_ids, start=1)
            if (module := self.read_module(module_id, position, language)) is not None
        )
        self.check_links()

        return Course(
            id=course_id,
            title=title,
            language=language,
            description_html=description_html,
            issuer=issuer,
            pass_mark=pass_mark,
            modules=modules,
            required_module_ids=frozenset(required),
            practice_required=practice_required,
            practice_review_required=practice_review_required,
            sources=MappingProxyType(dict(self.sources)),
            path=self.dir,
        )

    def read_sources(self, course: Table) -> None:
        sources = course.table("sources")
        if sources is None:
            return
        for source_id in sources.data:
            if not IDENTIFIER.fullmatch(source_id):
                sources.problem(source_id, "is not a valid source id")
            entry = sources.table(source_id)
            if entry is None:
                continue
            source_title = entry.string("title")
            url = entry.string("url")
            if url and not re.match(r"https?://[^\s/]", url, re.IGNORECASE):
                entry.problem("url", f"must be an http:// or https:// address, not {url!r}")
            entry.end()
            self.sources[source_id] = Source(source_id, source_title, url)

    def module_ids(self, course: Table) -> list[str]:
        listed = course.strings("modules")
        if listed is None:
            return []
        if not listed:
            course.problem("modules", "must list at least one module")
        usable: list[str] = []
        for module_id in listed:
            if not IDENTIFIER.fullmatch(module_id):
                course.problem("modules", f"{module_id!r} is not a valid module id")
            elif not (self.dir / module_id).is_dir():
                course.problem("modules", f"{module_id!r} has no folder {module_id}/")
            elif module_id not in usable:
                usable.append(module_id)
        for duplicate in duplicates(listed):
            course.problem("modules", f"{duplicate!r} is listed twice")
        for folder in sorted(self.dir.iterdir()):
            if folder.is_dir() and not folder.name.startswith(".") and folder.name not in listed:
                course.problem(
                    "modules", f"folder {folder.name}/ is not listed (add it or remove the folder)"
                )
        return usable

    def read_module(self, module_id: str, position: int, language: str) -> Module | None:
        folder = self.dir / module_id
        path = folder / "module.toml"
        data = self.report.load_toml(path)
        lessons = self.read_lessons(folder, None if data is None else data.get("lessons"), language)
        self.lesson_ids[module_id] = {lesson.id for lesson in lessons}
        quiz = self.read_quiz(folder / "quiz.toml", language)
        if data is None:
            return None
        module = Table(self.report, path, data)
        title = module.string("title")
        minutes = module.integer("minutes")
        if module.valid("minutes") and minutes <= 0:
            module.problem("minutes", "must be greater than 0")
        objectives = module.strings("objectives") or []
        if module.valid("objectives") and not objectives:
            module.problem("objectives", "must list at least one learning objective")
        for number, objective in enumerate(objectives, start=1):
            if not objective.strip():
                module.problem(f"objectives[{number}]", "must not be empty")
        summary = module.string("summary", required=False)
        practice = self.read_practice(module, language)
        module.end(also_allowed={"lessons"})  # checked by read_lessons
        return Module(
            id=module_id,
            title=title,
            minutes=minutes,
            objectives=tuple(objectives),
            summary=summary,
            lessons=lessons,
            quiz=quiz,
            practice=practice,
            position=position,
        )

    def read_practice(self, module: Table, language: str) -> PracticeTask:
        practice = module.table("practice")
        if practice is None:
            return PracticeTask("", "", DEFAULT_MIN_LENGTH, DEFAULT_MAX_LENGTH)
        title = practice.string("title")
        prompt = practice.string("prompt")
        min_length = practice.integer("min_length", required=False, default=DEFAULT_MIN_LENGTH)
        max_length = practice.integer("max_length", required=False, default=DEFAULT_MAX_LENGTH)
        if min_length < 0:
            practice.problem("min_length", "must not be negative")
        if max_length < 1:
            practice.problem("max_length", "must be at least 1")
        if min_length > max_length:
            practice.problem("min_length", f"{min_length} is greater than max_length {max_length}")
        practice.end()
        prompt_html = self.markdown(module.path, practice.at("prompt"), prompt, "module", language)
        return PracticeTask(title, prompt_html, min_length, max_length)

    def read_lessons(self, folder: Path, listed: Any, language: str) -> tuple[Lesson, ...]:
        lessons_dir = folder / "lessons"
        module_toml = folder / "module.toml"
        present = sorted(p.name for p in lessons_dir.iterdir()) if lessons_dir.is_dir() else []
        names: list[str]
        if listed is None:
            names = [name for name in present if name.endswith(".md")]
            for name in present:
                if not name.endswith(".md") and not name.startswith("."):
                    self.report.add(lessons_dir / name, "", "not a lesson (lesson files end in .md)")
        elif not isinstance(listed, list) or not all(isinstance(name, str) for name in listed):
            self.report.add(module_toml, "lessons", "must be a list of file names")
            return ()
        else:
            names = []
            for name in listed:
                if name not in present:
                    self.report.add(module_toml, "lessons", f"{name!r} is not a file in lessons/")
                elif name not in names:
                    names.append(name)
            for duplicate in duplicates(listed):
                self.report.add(module_toml, "lessons", f"{duplicate!r} is listed twice")
            for name in present:
                if name not in listed and not name.startswith("."):
                    self.report.add(module_toml, "lessons", f"lessons/{name} is not listed")
        lessons: list[Lesson] = []
        for name in names:
            if not LESSON_FILE.fullmatch(name) or not IDENTIFIER.fullmatch(name.removesuffix(".md")):
                self.report.add(
                    lessons_dir / name, "", "file name must look like NN-slug.md (e.g. 01-beschluss.md)"
                )
                continue
            lesson = self.read_lesson(lessons_dir / name, len(lessons) + 1, language)
            if lesson is not None:
                lessons.append(lesson)
        return tuple(lessons)

    def read_lesson(self, path: Path, position: int, language: str) -> Lesson | None:
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
        front = Table(self.report, path, data)
        title = front.string("title")
        sources = self.cited(front, "sources", required=True)
        front.end()
        body = text[match.end() :]
        for level, heading in headings(body):
            if level == 1:
                self.report.add(
                    path, "text", f"level-1 heading {heading!r}: the page title is the title, start at ##"
                )
        html = self.markdown(path, "text", body, "module", language)
        return Lesson(path.stem, title, sources, html, position)

    def read_quiz(self, path: Path, language: str) -> Quiz:
        data = self.report.load_toml(path)
        if data is None:
            return Quiz(())
        quiz = Table(self.report, path, data)
        tables = quiz.tables("questions")
        if quiz.data.get("questions") == []:
            quiz.problem("questions", "a quiz needs at least one question")
        questions = [self.read_question(table, language) for table in tables]
        for duplicate in duplicates(question.id for question in questions):
            quiz.problem("questions", f"question id {duplicate!r} is used twice")
        quiz.end()
        return Quiz(tuple(questions))

    def read_question(self, question: Table, language: str) -> Question:
        question_id = question.identifier("id")
        kind = question.string("kind")
        if kind and kind not in QUESTION_KINDS:
            question.problem("kind", f"{kind!r} is not one of {', '.join(QUESTION_KINDS)}")
        prompt = question.string("prompt")
        sources = self.cited(question, "sources", required=False)
        options = question.tables("options")
        built = [self.read_option(option, kind, language) for option in options]
        question.end()
        for duplicate in duplicates(option.id for option in built):
            question.problem("options", f"option id {duplicate!r} is used twice")
        self.check_kind(question, kind, options, built)
        return Question(question_id, kind if _is_kind(kind) else "single", prompt, tuple(built), sources)

    def read_option(self, option: Table, kind: str, language: str) -> Option:
        option_id = option.identifier("id")
        text = option.string("text")
        correct = False
        if kind != "ordering":
            correct = option.boolean("correct", required=False, default=False)
        explanation = option.string("explanation")
        option.end(also_allowed={"correct"})  # in an ordering question, check_kind says why it is wrong
        explanation_html = self.markdown(
            option.path, option.at("explanation"), explanation, "module", language
        )
        return Option(option_id, text, correct, explanation_html)

    def check_kind(self, question: Table, kind: str, tables: list[Table], options: list[Option]) -> None:
        count = len(options)
        correct = sum(option.correct for option in options)
        if kind in ("single", "multiple") and not 2 <= count <= MAX_OPTIONS:
            question.problem("options", f"a {kind} question needs 2 to {MAX_OPTIONS} options, not {count}")
        if kind == "single" and correct != 1:
            question.problem("options", f"a single question needs exactly one correct option, not {correct}")
        if kind == "multiple" and correct < 1:
            question.problem("options", "a multiple question needs at least one correct option")
        if kind == "truefalse":
            if sorted(option.id for option in options) != ["false", "true"]:
                question.problem(
                    "options", 'a truefalse question has exactly two options, ids "true" and "false"'
                )
            if correct != 1:
                question.problem(
                    "options", f"a truefalse question needs exactly one correct option, not {correct}"
                )
        if kind == "ordering":
            if not 3 <= count <= MAX_OPTIONS:
                question.problem(
                    "options", f"an ordering question needs 3 to {MAX_OPTIONS} options, not {count}"
                )
            for table in tables:
                if table.has("correct"):
                    table.problem(
                        "correct", "not used in ordering questions (write the options in the right order)"
                    )

    def check_links(self) -> None:
        for text in self.texts:
            for target in internal_links(text.text):
                problem = _link_problem(target, self.lesson_ids)
                if problem:
                    self.report.add(text.path, text.field, problem)


def _link_problem(target: str, lessons: Mapping[str, set[str]]) -> str | None:
    if is_external_link(target):
        return None
    match = INTERNAL_LINK.fullmatch(target)
    if match is None:
        if target.startswith("module:"):
            return f"link {target!r}: write module:<module-id> or module:<module-id>/<lesson-id>"
        return f"link {target!r}: links go to http(s)://, mailto: or module: targets"
    module_id, lesson_id = match["module"], match["lesson"]
    if module_id not in lessons:
        return f"link {target!r}: there is no module {module_id!r}"
    if lesson_id is not None and lesson_id not in lessons[module_id]:
        return f"link {target!r}: module {module_id!r} has no lesson {lesson_id!r}"
    return None


# --- Public entry points -----------------------------------------------------------------------


def _read(path: Path) -> tuple[Course | None, list[Problem]]:
    reader = _CourseReader(path)
    if not path.is_dir():
        reader.report.add(path, "", "course folder not found")
        return None, reader.report.problems
    course = reader.read()
    return course, reader.report.problems


def check_course(path: Path) -> list[Problem]:
    """Every problem of the course folder at `path`; never raises for content problems."""
    return _read(path)[1]


def load_course(path: Path) -> Course:
    """The course at `path`; raises CourseError listing every problem if there is any."""
    course, problems = _read(path)
    if problems or course is None:
        raise CourseError(problems)
    return course


def course_folders(content_dir: Path) -> list[Path]:
    """The sub-folders of `content_dir` that hold a course.toml, sorted by name."""
    if not content_dir.is_dir():
        return []
    return sorted(p for p in content_dir.iterdir() if (p / "course.toml").is_file())


def load_catalog(content_dir: Path) -> Catalog:
    """Every course under `content_dir`; raises CourseError listing the problems of all broken courses."""
    if not content_dir.is_dir():
        raise CourseError([Problem(content_dir.as_posix(), "", "content folder not found")])
    courses: dict[str, Course] = {}
    problems: list[Problem] = []
    for folder in course_folders(content_dir):
        course, found = _read(folder)
        problems.extend(found)
        if course is not None and not found:
            courses[course.id] = course
    if problems:
        raise CourseError(problems)
    return Catalog(MappingProxyType(courses))

"""Course folders to frozen objects, with every content problem reported at once.

`content/FORMAT.md` is the contract. One pass over a course folder both checks and builds: each reader
records a `Problem` (file + field + message) and carries on with a harmless stand-in value, so an author sees
all problems in one run; `load_course` hands out the built course only when there were none. Markdown is
rendered here, once per process, so pages only look things up.

Field names in problems count list entries from 1, as an author counts `[[questions]]` blocks in a file:
`questions[2].options[1].explanation` is the first option of the second question.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeGuard, get_args

from .markdown import INTERNAL_LINK, LinkBase, headings, internal_links, is_external_link, render_markdown

QuestionKind = Literal["single", "multiple", "truefalse", "ordering"]
QUESTION_KINDS: tuple[str, ...] = get_args(QuestionKind)

IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
LESSON_FILE = re.compile(r"[0-9]{2}-[A-Za-z0-9][A-Za-z0-9_-]*\.md")
MAX_OPTIONS = 8
DEFAULT_PASS_MARK = 80
DEFAULT_MIN_LENGTH = 50
DEFAULT_MAX_LENGTH = 5000

_FRONT_MATTER = re.compile(
    r"\A\+\+\+[ \t]*\r?\n(?P<toml>.*?)^\+\+\+[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE
)
_TOML_POSITION = re.compile(r"\s*\(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$")


# --- The course as the tool sees it -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    text: str
    correct: bool  # always False in an ordering question
    explanation_html: str


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    kind: QuestionKind
    prompt: str
    options: tuple[Option, ...]
    sources: tuple[Source, ...]

    @property
    def correct_option_ids(self) -> frozenset[str]:
        """The options to tick (single/multiple/truefalse); empty for an ordering question."""
        return frozenset(option.id for option in self.options if option.correct)

    @property
    def correct_order(self) -> tuple[str, ...]:
        """Ordering questions: option ids in the right order (the file's order)."""
        return tuple(option.id for option in self.options)

    def is_correct(self, answer: Sequence[str]) -> bool:
        """Exactly right: all and only the correct options, or the whole order. A bare str is one id."""
        given = (answer,) if isinstance(answer, str) else tuple(answer)
        known = {option.id for option in self.options}
        if not set(given) <= known or len(set(given)) != len(given):
            return False
        if self.kind == "ordering":
            return given == self.correct_order
        return frozenset(given) == self.correct_option_ids

    def option(self, option_id: str) -> Option | None:
        return next((option for option in self.options if option.id == option_id), None)


@dataclass(frozen=True, slots=True)
class Quiz:
    questions: tuple[Question, ...]

    def question(self, question_id: str) -> Question | None:
        return next((question for question in self.questions if question.id == question_id), None)


@dataclass(frozen=True, slots=True)
class Lesson:
    id: str
    title: str
    sources: tuple[Source, ...]
    html: str
    position: int  # 1-based within the module


@dataclass(frozen=True, slots=True)
class PracticeTask:
    title: str
    prompt_html: str
    min_length: int
    max_length: int


@dataclass(frozen=True, slots=True)
class Module:
    id: str
    title: str
    minutes: int
    objectives: tuple[str, ...]
    summary: str
    lessons: tuple[Lesson, ...]
    quiz: Quiz
    practice: PracticeTask
    position: int  # 1-based within the course

    def lesson(self, lesson_id: str) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.id == lesson_id), None)


@dataclass(frozen=True, slots=True)
class Course:
    id: str
    title: str
    language: str
    description_html: str
    issuer: str
    pass_mark: int
    modules: tuple[Module, ...]
    required_module_ids: frozenset[str]
    practice_required: bool
    practice_review_required: bool
    sources: Mapping[str, Source]
    path: Path

    def module(self, module_id: str) -> Module | None:
        return next((module for module in self.modules if module.id == module_id), None)

    def next_module(self, module_id: str) -> Module | None:
        current = self.module(module_id)
        if current is None or current.position >= len(self.modules):
            return None
        return self.modules[current.position]


@dataclass(frozen=True, slots=True)
class Catalog:
    courses: Mapping[str, Course]

    def get(self, course_id: str) -> Course | None:
        return self.courses.get(course_id)


@dataclass(frozen=True, slots=True)
class Problem:
    file: str  # relative to the course folder's parent, e.g. "grundlagenkurs/agenda-2030/quiz.toml"
    field: str  # e.g. "questions[2].options[1].explanation"; "" for the file as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}" if self.field else f"{self.file}: {self.message}"


class CourseError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


# --- Reading TOML with problems instead of exceptions ------------------------------------------


class _Report:
    """Collects the problems of one course; `file` names are relative to the course folder's parent."""

    def __init__(self, course_dir: Path) -> None:
        self.base = course_dir.parent
        self._problems: list[Problem] = []
        # Files in the order they were read, so that each file's problems can be listed together.
        self._files: dict[str, int] = {}

    @property
    def problems(self) -> list[Problem]:
        """Grouped by file (in reading order), each file's problems in the order they were found."""
        return sorted(self._problems, key=lambda problem: self._files[problem.file])

    def _visit(self, path: Path) -> str:
        name = self.name(path)
        self._files.setdefault(name, len(self._files))
        return name

    def name(self, path: Path) -> str:
        try:
            return path.relative_to(self.base).as_posix()
        except ValueError:
            return path.as_posix()

    def add(self, path: Path, field_name: str, message: str) -> None:
        self._problems.append(Problem(self._visit(path), field_name, message))

    def read_text(self, path: Path) -> str | None:
        self._visit(path)
        try:
            return path.read_text(encoding="utf-8").removeprefix("\ufeff")
        except FileNotFoundError:
            self.add(path, "", "file not found")
        except UnicodeDecodeError as exc:
            self.add(path, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        except OSError as exc:
            self.add(path, "", f"cannot be read ({exc.strerror})")
        return None

    def parse_toml(self, path: Path, text: str, *, first_line: int = 1) -> dict[str, Any] | None:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            position = _TOML_POSITION.search(message)
            if position is None:
                self.add(path, "", f"TOML syntax error: {message}")
            elif position["line"] is None:
                where = "end of file" if first_line == 1 else "end of front matter"
                self.add(path, where, f"TOML syntax error: {message[: position.start()]}")
            else:
                line = int(position["line"]) + first_line - 1
                where = f"line {line}, column {position['column']}"
                self.add(path, where, f"TOML syntax error: {message[: position.start()]}")
            return None

    def load_toml(self, path: Path) -> dict[str, Any] | None:
        text = self.read_text(path)
        return None if text is None else self.parse_toml(path, text)


@dataclass
class _Table:
    """One TOML table of one file: typed getters that report problems and return stand-ins."""

    report: _Report
    path: Path
    data: Mapping[str, Any]
    prefix: str = ""
    seen: set[str] = dataclasses.field(default_factory=set)
    broken: set[str] = dataclasses.field(default_factory=set)

    def at(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def problem(self, key: str, message: str) -> None:
        self.broken.add(key)
        self.report.add(self.path, self.at(key), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def valid(self, key: str) -> bool:
        """The key is there and no problem was found with it so far (for follow-up checks)."""
        return key in self.data and key not in self.broken

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                self.problem(key, "missing")
            return None
        return self.data[key]

    def string(self, key: str, *, required: bool = True, default: str = "") -> str:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(key, "must be a string")
            return default
        if not value.strip():
            self.problem(key, "must not be empty")
        return value

    def identifier(self, key: str) -> str:
        value = self.string(key)
        if value and not IDENTIFIER.fullmatch(value):
            self.problem(key, f"{value!r} is not a valid identifier ({IDENTIFIER.pattern})")
        return value

    def integer(self, key: str, *, required: bool = True, default: int = 0) -> int:
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, "must be a whole number")
            return default
        return value

    def boolean(self, key: str, *, required: bool = True, default: bool = False) -> bool:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(key, "must be true or false")
            return default
        return value

    def strings(self, key: str, *, required: bool = True) -> list[str] | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.problem(key, "must be a list of strings")
            return None
        return value

    def table(self, key: str, *, required: bool = True) -> _Table | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(key, "must be a table")
            return None
        return _Table(self.report, self.path, value, prefix=f"{self.at(key)}.")

    def tables(self, key: str, *, required: bool = True) -> list[_Table]:
        value = self._get(key, required)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.problem(key, f"must be a list of tables ([[{self.at(key)}]])")
            return []
        return [
            _Table(self.report, self.path, item, prefix=f"{self.at(key)}[{number}].")
            for number, item in enumerate(value, start=1)
        ]

    def end(self, also_allowed: Iterable[str] = ()) -> None:
        """Report the keys nobody asked for (typos, keys from another format)."""
        allowed = self.seen | set(also_allowed)
        for key in self.data:
            if key not in allowed:
                self.problem(key, "unknown key")


def _is_kind(value: str) -> TypeGuard[QuestionKind]:
    return value in QUESTION_KINDS


def _duplicates(values: Iterable[str]) -> list[str]:
    """Values given more than once (empty ones are reported as missing elsewhere)."""
    seen: set[str] = set()
    duplicates: list[str] = []
    for value in values:
        if value and value in seen and value not in duplicates:
            duplicates.append(value)
        seen.add(value)
    return duplicates


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
        self.report = _Report(course_dir)
        self.sources: dict[str, Source] = {}
        self.texts: list[_Text] = []
        # module id -> its lesson ids, also for modules whose module.toml is broken (for the link check)
        self.lesson_ids: dict[str, set[str]] = {}

    def markdown(self, path: Path, field_name: str, text: str, link_base: LinkBase, language: str) -> str:
        self.texts.append(_Text(path, field_name, text))
        return render_markdown(text, link_base=link_base, language=language)

    def cited(self, table: _Table, key: str, *, required: bool) -> tuple[Source, ...]:
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
        course = _Table(self.report, path, data)

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
        for duplicate in _duplicates(required):
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

    def read_sources(self, course: _Table) -> None:
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

    def module_ids(self, course: _Table) -> list[str]:
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
        for duplicate in _duplicates(listed):
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
        module = _Table(self.report, path, data)
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

    def read_practice(self, module: _Table, language: str) -> PracticeTask:
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
            for duplicate in _duplicates(listed):
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
        front = _Table(self.report, path, data)
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
        quiz = _Table(self.report, path, data)
        tables = quiz.tables("questions")
        if quiz.data.get("questions") == []:
            quiz.problem("questions", "a quiz needs at least one question")
        questions = [self.read_question(table, language) for table in tables]
        for duplicate in _duplicates(question.id for question in questions):
            quiz.problem("questions", f"question id {duplicate!r} is used twice")
        quiz.end()
        return Quiz(tuple(questions))

    def read_question(self, question: _Table, language: str) -> Question:
        question_id = question.identifier("id")
        kind = question.string("kind")
        if kind and kind not in QUESTION_KINDS:
            question.problem("kind", f"{kind!r} is not one of {', '.join(QUESTION_KINDS)}")
        prompt = question.string("prompt")
        sources = self.cited(question, "sources", required=False)
        options = question.tables("options")
        built = [self.read_option(option, kind, language) for option in options]
        question.end()
        for duplicate in _duplicates(option.id for option in built):
            question.problem("options", f"option id {duplicate!r} is used twice")
        self.check_kind(question, kind, options, built)
        return Question(question_id, kind if _is_kind(kind) else "single", prompt, tuple(built), sources)

    def read_option(self, option: _Table, kind: str, language: str) -> Option:
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

    def check_kind(self, question: _Table, kind: str, tables: list[_Table], options: list[Option]) -> None:
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

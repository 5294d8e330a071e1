"""Course folders to frozen objects (`model.py`), with every content problem reported at once.

`content/FORMAT.md` is the contract. One pass over a course folder both checks and builds (`fields.py` says
how problems are collected, `reading.py` what the readers share); `load_course` hands out the built course
only when there were none. Markdown is rendered here, once per process, so pages only look things up.
This file reads course.toml, module.toml and the lessons; `settings_loader.py` the assessment settings of
course.toml, `quiz_loader.py` the quizzes, `pages_loader.py` the glossary and the course pages.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .fields import IDENTIFIER, CourseError, Problem, Table, duplicates
from .model import Catalog, Course, Lesson, Module, PracticeTask, Source
from .pages_loader import PAGES_FOLDER, read_glossary, read_pages
from .quiz_loader import QuizReader, QuizRules
from .reading import Reading
from .settings_loader import HTTP_URL, read_settings

LESSON_FILE = re.compile(r"[0-9]{2}-[A-Za-z0-9][A-Za-z0-9_-]*\.md")
SOURCE_LANG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
STAND = re.compile(r"(?:0[1-9]|1[0-2])/[0-9]{4}")
DEFAULT_PASS_MARK = 80
DEFAULT_MIN_LENGTH = 50
DEFAULT_MAX_LENGTH = 5000


class _CourseReader:
    def __init__(self, course_dir: Path) -> None:
        self.dir = course_dir
        self.reading = Reading(course_dir)
        self.report = self.reading.report
        self.quiz_rules = QuizRules(hints_required=False, min_pool_factor=0)

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
        self.reading.language = language
        description = course.string("description")
        issuer = course.string("issuer")
        pass_mark = course.integer("pass_mark", required=False, default=DEFAULT_PASS_MARK)
        if not 1 <= pass_mark <= 100:
            course.problem("pass_mark", f"must be between 1 and 100 (percent), not {pass_mark}")
        practice_required = course.boolean("practice_required", required=False, default=True)
        practice_review_required = course.boolean("practice_review_required", required=False, default=False)
        settings = read_settings(course)
        self.quiz_rules = QuizRules(settings.hints_required, settings.min_pool_factor)
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

        description_html = self.reading.markdown(path, "description", description, "course")
        glossary = read_glossary(self.reading)
        pages = read_pages(self.reading)
        modules = tuple(
            module
            for position, module_id in enumerate(module_ids, start=1)
            if (module := self.read_module(module_id, position)) is not None
        )
        self.reading.check_links()

        review = settings.review
        questions = [question for module in modules for question in module.quiz.questions]
        if settings.failed_hints_by_default and questions and all(q.hint_html for q in questions):
            review = dataclasses.replace(review, failed=dataclasses.replace(review.failed, hints=True))
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
            sources=MappingProxyType(dict(self.reading.sources)),
            path=self.dir,
            review=review,
            attempts=settings.attempts,
            workload=settings.workload,
            issuer_url=settings.issuer_url,
            min_pool_factor=settings.min_pool_factor,
            glossary=glossary,
            pages=pages,
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
            if url and not HTTP_URL.match(url):
                entry.problem("url", f"must be an http:// or https:// address, not {url!r}")
            lang = entry.string("lang", required=False)
            if lang and not SOURCE_LANG.fullmatch(lang):
                entry.problem("lang", f'{lang!r} is not a language tag (e.g. "en" or "en-GB")')
            stand = entry.string("stand", required=False)
            if stand and not STAND.fullmatch(stand):
                entry.problem("stand", f'{stand!r} is not a month as MM/JJJJ (e.g. "03/2025")')
            entry.end()
            self.reading.sources[source_id] = Source(source_id, source_title, url, lang=lang, stand=stand)

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
            elif module_id == PAGES_FOLDER:
                course.problem("modules", f"{module_id!r}: the folder {PAGES_FOLDER}/ holds the course pages")
            elif not (self.dir / module_id).is_dir():
                course.problem("modules", f"{module_id!r} has no folder {module_id}/")
            elif module_id not in usable:
                usable.append(module_id)
        for duplicate in duplicates(listed):
            course.problem("modules", f"{duplicate!r} is listed twice")
        for folder in sorted(self.dir.iterdir()):
            if folder.name == PAGES_FOLDER or folder.name.startswith("."):
                continue
            if folder.is_dir() and folder.name not in listed:
                course.problem(
                    "modules", f"folder {folder.name}/ is not listed (add it or remove the folder)"
                )
        return usable

    def read_module(self, module_id: str, position: int) -> Module | None:
        folder = self.dir / module_id
        path = folder / "module.toml"
        data = self.report.load_toml(path)
        lessons = self.read_lessons(folder, None if data is None else data.get("lessons"))
        lesson_ids = {lesson.id for lesson in lessons}
        self.reading.targets.lessons[module_id] = lesson_ids
        quiz = QuizReader(self.reading, folder / "quiz.toml", lesson_ids, self.quiz_rules).read()
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
        practice = self.read_practice(module)
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

    def read_practice(self, module: Table) -> PracticeTask:
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
        model_answer = practice.string("model_answer", required=False)
        checklist = practice.strings("checklist", required=False) or []
        if practice.valid("checklist") and not checklist:
            practice.problem(
                "checklist", "lists no point (leave checklist out, or name what a good answer covers)"
            )
        for number, point in enumerate(checklist, start=1):
            if not point.strip():
                practice.problem(f"checklist[{number}]", "must not be empty")
        practice.end()
        markdown = self.reading.markdown
        prompt_html = markdown(module.path, practice.at("prompt"), prompt, "module")
        model_answer_html = (
            markdown(module.path, practice.at("model_answer"), model_answer, "module") if model_answer else ""
        )
        return PracticeTask(title, prompt_html, min_length, max_length, model_answer_html, tuple(checklist))

    def read_lessons(self, folder: Path, listed: Any) -> tuple[Lesson, ...]:
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
            lesson = self.read_lesson(lessons_dir / name, len(lessons) + 1)
            if lesson is not None:
                lessons.append(lesson)
        return tuple(lessons)

    def read_lesson(self, path: Path, position: int) -> Lesson | None:
        read = self.reading.page_file(path)
        if read is None:
            return None
        front, body = read
        title = front.string("title")
        sources = self.reading.cited(front, "sources", required=True)
        front.end()
        html = self.reading.markdown(path, "text", body, "module")
        return Lesson(path.stem, title, sources, html, position)


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

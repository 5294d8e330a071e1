"""The course as the tool sees it: frozen objects built once per process by `loader.py`.

Nothing here reads files or touches Flask or the database; pages, progress, grading and the certificate
only look things up in these objects. `content/FORMAT.md` says what each field means to a course author.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

QuestionKind = Literal["single", "multiple", "truefalse", "ordering"]
QUESTION_KINDS: tuple[str, ...] = get_args(QuestionKind)


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

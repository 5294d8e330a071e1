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
    lang: str = ""  # language of the source when it is not the course's (WCAG 3.1.2); "" = the course's
    stand: str = ""  # "MM/JJJJ": when a time-sensitive source was last checked; "" = not given


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
    topic: str = ""  # topic id when the quiz has [topics]
    applied: bool = False  # a municipal situation to judge, not recall of a date, number or name
    hint_html: str = ""  # after a failed attempt, for a wrong answer: where to read again, never the answer
    lesson_id: str = ""  # the lesson of this module the hint sends the learner to

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
class Topic:
    """A topic group of a pool: every attempt draws `draw` of its questions."""

    id: str
    title: str
    draw: int


@dataclass(frozen=True, slots=True)
class Quiz:
    questions: tuple[Question, ...]
    draw: int = 0  # questions per attempt; 0 = every question (no pool)
    topics: tuple[Topic, ...] = ()

    @property
    def questions_per_attempt(self) -> int:
        return self.draw or len(self.questions)

    @property
    def is_pool(self) -> bool:
        """An attempt asks fewer questions than the quiz has."""
        return self.questions_per_attempt < len(self.questions)

    def question(self, question_id: str) -> Question | None:
        return next((question for question in self.questions if question.id == question_id), None)

    def topic_questions(self, topic_id: str) -> tuple[Question, ...]:
        return tuple(question for question in self.questions if question.topic == topic_id)


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
    model_answer_html: str = ""  # shown only after the learner submitted
    checklist: tuple[str, ...] = ()  # points a good answer covers, shown beside the model answer


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
class ReviewOptions:
    """What a learner sees after an attempt (Moodle's quiz review options of the same names)."""

    answers: bool  # "The attempt": the learner's own answers
    correctness: bool  # "Whether correct": ✓/✗ per question
    hints: bool  # the hint (and lesson link) of each question answered wrongly
    explanations: bool  # "Specific feedback": explanations of the chosen options (all, with correct_answers)
    correct_answers: bool  # "Right answer": the correct options / the correct order


@dataclass(frozen=True, slots=True)
class Review:
    failed: ReviewOptions  # after an attempt below the pass mark
    passed: ReviewOptions

    def after(self, passed: bool) -> ReviewOptions:
        return self.passed if passed else self.failed


REVIEW_EVERYTHING = ReviewOptions(True, True, False, True, True)
DEFAULT_REVIEW = Review(failed=ReviewOptions(True, True, False, False, False), passed=REVIEW_EVERYTHING)


@dataclass(frozen=True, slots=True)
class AttemptPolicy:
    wait_minutes: int = 0  # after an attempt that did not pass, before the next one; 0 = no wait
    per_day: int = 0  # attempts per module and calendar day (Europe/Berlin); 0 = unlimited


@dataclass(frozen=True, slots=True)
class Workload:
    hours: float
    teaching_units: int  # Unterrichtseinheiten à 45 minutes


@dataclass(frozen=True, slots=True)
class GlossaryTerm:
    id: str
    term: str
    expansion: str  # the spelled-out form of an abbreviation; "" if the term is not one
    definition_html: str
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class Page:
    """A course-wide page beside the modules (`pages/<id>.md`)."""

    id: str
    title: str
    sources: tuple[Source, ...]
    html: str
    order: int | None  # position in the overview's page list; pages without one follow, by id


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
    review: Review = DEFAULT_REVIEW
    attempts: AttemptPolicy = AttemptPolicy()
    workload: Workload | None = None
    issuer_url: str = ""
    min_pool_factor: int = 0  # 0 = the course asks for no minimum pool size
    glossary: tuple[GlossaryTerm, ...] = ()  # sorted by term
    pages: tuple[Page, ...] = ()  # in the overview's order

    def module(self, module_id: str) -> Module | None:
        return next((module for module in self.modules if module.id == module_id), None)

    def next_module(self, module_id: str) -> Module | None:
        current = self.module(module_id)
        if current is None or current.position >= len(self.modules):
            return None
        return self.modules[current.position]

    def page(self, page_id: str) -> Page | None:
        return next((page for page in self.pages if page.id == page_id), None)

    def term(self, term_id: str) -> GlossaryTerm | None:
        return next((term for term in self.glossary if term.id == term_id), None)


@dataclass(frozen=True, slots=True)
class Catalog:
    courses: Mapping[str, Course]

    def get(self, course_id: str) -> Course | None:
        return self.courses.get(course_id)

"""What the result page may show of a submitted attempt, by the course's review options (FORMAT.md).

The page template only renders what this module hands it: a correct answer, an explanation or a per-option
verdict that the options in force forbid is never put into the objects, so it cannot reach the HTML. Without
`correct_answers` the learner's own choices carry no per-option verdict either (in a multiple-choice question
that would give the right options away); the ✓/✗ is per question. No Flask, no database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .model import Lesson, Module, Question, QuestionKind, ReviewOptions


@dataclass(frozen=True, slots=True)
class ReviewedOption:
    text: str
    chosen: bool  # False when the review does not show the learner's answers
    correct: bool | None  # None: the review does not show correct answers
    explanation_html: str  # "" when the review does not show explanations
    position: int  # ordering: the learner's position for it (0 when not shown); choice: as shown


@dataclass(frozen=True, slots=True)
class ReviewedQuestion:
    number: int
    question_id: str
    kind: QuestionKind
    prompt: str
    correct: bool | None  # None: the review does not show correctness
    answer: list[ReviewedOption]  # the learner's choices (ordering: their order); [] when not shown
    hint_html: str  # "" unless hints are shown and the question was answered wrongly
    hint_lesson: Lesson | None
    solution: list[ReviewedOption]  # the correct options / the correct order; [] when not shown
    explained: list[ReviewedOption]  # every option with its explanation; [] when not shown


def review_questions(
    module: Module,
    questions: Sequence[Question],
    layout: Mapping[str, Sequence[Any]],
    answers: Mapping[str, Sequence[Any]],
    options: ReviewOptions,
) -> list[ReviewedQuestion]:
    reviewed: list[ReviewedQuestion] = []
    for number, question in enumerate(questions, start=1):
        given = [str(x) for x in answers.get(question.id) or []]
        right = question.is_correct(given)
        shown = [str(x) for x in layout.get(question.id) or [o.id for o in question.options]]
        reviewed.append(
            ReviewedQuestion(
                number=number,
                question_id=question.id,
                kind=question.kind,
                prompt=question.prompt,
                correct=right if options.correctness else None,
                answer=_answer(question, given, options) if options.answers else [],
                hint_html=question.hint_html if options.hints and not right else "",
                hint_lesson=(
                    module.lesson(question.lesson_id)
                    if options.hints and not right and question.lesson_id
                    else None
                ),
                solution=_solution(question) if options.correct_answers and not right else [],
                explained=_explained(question, given, shown, options),
            )
        )
    return reviewed


def _answer(question: Question, given: list[str], options: ReviewOptions) -> list[ReviewedOption]:
    found: list[ReviewedOption] = []
    for position, option_id in enumerate(given, start=1):
        option = question.option(option_id)
        if option is None:
            continue
        verdict: bool | None = None
        if options.correct_answers:
            if question.kind == "ordering":
                verdict = question.correct_order[position - 1 : position] == (option_id,)
            else:
                verdict = option.correct
        found.append(ReviewedOption(option.text, True, verdict, "", position))
    return found


def _solution(question: Question) -> list[ReviewedOption]:
    if question.kind == "ordering":
        return [
            ReviewedOption(option.text, False, True, "", position)
            for position, option in enumerate(question.options, start=1)
        ]
    return [
        ReviewedOption(option.text, False, True, "", position)
        for position, option in enumerate(question.options, start=1)
        if option.correct
    ]


def _explained(
    question: Question, given: list[str], shown: list[str], options: ReviewOptions
) -> list[ReviewedOption]:
    """Every option with its explanation (explanations need correct_answers, so nothing is given away)."""
    if not (options.explanations and options.correct_answers):
        return []
    order = list(question.correct_order) if question.kind == "ordering" else shown
    found: list[ReviewedOption] = []
    for position, option_id in enumerate(order, start=1):
        option = question.option(option_id)
        if option is None:
            continue
        correct = True if question.kind == "ordering" else option.correct
        chosen = options.answers and question.kind != "ordering" and option_id in given
        found.append(ReviewedOption(option.text, chosen, correct, option.explanation_html, position))
    return found

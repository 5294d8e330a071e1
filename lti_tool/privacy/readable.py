"""The export as the person reads it: course, module and lesson titles beside their ids, and every quiz attempt
with its questions, the options the person chose (their text, not their ids) and whether the answer was right.

Answers are judged with the course text as it is now, as the teacher's gradebook judges them
(`gradebook.detail.answers_of`); a question or option no longer in the course keeps its id.
"""

from __future__ import annotations

from typing import Any

from ..course.model import Catalog, Course, Module
from ..gradebook.detail import answers_of
from ..models import Base, LessonVisit, QuizAttempt


def readable_rows(catalog: Catalog, model: type[Base], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` (exported column by column) with titles and, for quiz attempts, the questions as asked."""
    for row in rows:
        course = catalog.get(row["course_id"]) if isinstance(row.get("course_id"), str) else None
        if course is None:
            continue
        row["course_title"] = course.title
        module = course.module(row["module_id"]) if isinstance(row.get("module_id"), str) else None
        if module is None:
            continue
        row["module_title"] = module.title
        if model is LessonVisit:
            lesson = module.lesson(row["lesson_id"])
            row["lesson_title"] = lesson.title if lesson is not None else None
        if model is QuizAttempt:
            row["questions"] = quiz_questions(course, module, row)
    return rows


def quiz_questions(course: Course, module: Module, attempt: dict[str, Any]) -> list[dict[str, Any]]:
    """The attempt's questions: text, the chosen options' texts (in the person's order) and right or wrong.

    An attempt that was shown but never submitted lists the questions it asked, without answers."""
    answers = attempt.get("answers")
    if answers is None:
        asked = attempt.get("question_ids") or list((attempt.get("layout") or {}).keys())
        return [
            {
                "number": number,
                "question_id": question_id,
                "question": question.prompt if question is not None else None,
                "answer": None,
                "correct": None,
            }
            for number, question_id in enumerate(asked, start=1)
            for question in [module.quiz.question(str(question_id))]
        ]
    return [
        {
            "number": answer.number,
            "question_id": answer.question_id,
            "question": answer.question.prompt if answer.question is not None else None,
            "answer": [choice if isinstance(choice, str) else choice.text for choice in answer.chosen],
            "correct": answer.correct,
        }
        for answer in answers_of(module.quiz, answers)
    ]

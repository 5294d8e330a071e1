"""`<module>/quiz.toml` to a `Quiz`: questions, options, and the pool (draw, topics) with its checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from .fields import IDENTIFIER, Table, duplicates
from .model import QUESTION_KINDS, Option, Question, QuestionKind, Quiz, Topic
from .reading import Reading

MAX_OPTIONS = 8


@dataclass(frozen=True, slots=True)
class QuizRules:
    """What course.toml asks of every quiz."""

    hints_required: bool  # a review option shows hints, so every question needs one
    min_pool_factor: int  # 0 = no minimum pool size


def _is_kind(value: str) -> TypeGuard[QuestionKind]:
    return value in QUESTION_KINDS


def _words(text: str) -> str:
    """Lower-case words separated by single spaces, for "does the hint contain this text"."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def _names_answer(hint: str, option_text: str) -> bool:
    words = _words(option_text)
    return bool(words) and f" {words} " in f" {_words(hint)} "


class QuizReader:
    def __init__(self, reading: Reading, path: Path, lesson_ids: set[str], rules: QuizRules) -> None:
        self.reading = reading
        self.path = path
        self.lesson_ids = lesson_ids
        self.rules = rules

    def read(self) -> Quiz:
        data = self.reading.report.load_toml(self.path)
        if data is None:
            return Quiz(())
        quiz = Table(self.reading.report, self.path, data)
        draw = quiz.counted("draw", at_least=1, required=False, default=0)
        topics = self.read_topics(quiz)
        tables = quiz.tables("questions")
        if quiz.data.get("questions") == []:
            quiz.problem("questions", "a quiz needs at least one question")
        topic_ids = {topic.id for topic in topics} if quiz.has("topics") else None
        questions = [self.read_question(table, topic_ids) for table in tables]
        for duplicate in duplicates(question.id for question in questions):
            quiz.problem("questions", f"question id {duplicate!r} is used twice")
        quiz.end()
        self.check_pool(quiz, draw, topics, questions)
        return Quiz(tuple(questions), draw=draw if quiz.valid("draw") else 0, topics=topics)

    def read_topics(self, quiz: Table) -> tuple[Topic, ...]:
        table = quiz.table("topics", required=False)
        if table is None:
            return ()
        if not table.data:
            quiz.problem("topics", "lists no topic (leave [topics] out for a quiz without topic groups)")
        topics: list[Topic] = []
        for topic_id in table.data:
            if not IDENTIFIER.fullmatch(topic_id):
                table.problem(topic_id, f"{topic_id!r} is not a valid topic id")
            entry = table.table(topic_id)
            if entry is None:
                continue
            title = entry.string("title")
            draw = entry.counted("draw", at_least=1)
            entry.end()
            topics.append(Topic(topic_id, title, draw))
        return tuple(topics)

    def check_pool(
        self, quiz: Table, draw: int, topics: tuple[Topic, ...], questions: list[Question]
    ) -> None:
        count = len(questions)
        if quiz.valid("draw") and draw > count:
            quiz.problem("draw", f"draws {draw} questions, but the quiz has only {count}")
        if quiz.has("topics"):
            if not quiz.has("draw"):
                quiz.problem(
                    "draw", "missing (a quiz with [topics] says how many questions an attempt draws)"
                )
            elif quiz.valid("draw") and topics and sum(topic.draw for topic in topics) != draw:
                drawn = " + ".join(str(topic.draw) for topic in topics)
                quiz.problem(
                    "topics", f"the topics draw {drawn} = {sum(t.draw for t in topics)}, not draw = {draw}"
                )
            for topic in topics:
                have = sum(question.topic == topic.id for question in questions)
                if have < topic.draw:
                    quiz.problem(
                        f"topics.{topic.id}.draw",
                        f"draws {topic.draw}, but only {have} questions have this topic",
                    )
        factor = self.rules.min_pool_factor
        if factor and count and (quiz.valid("draw") or not quiz.has("draw")):
            per_attempt = draw or count
            if count < factor * per_attempt:
                where = "draw" if quiz.has("draw") else "questions"
                quiz.problem(
                    where,
                    f"the pool has {count} questions; min_pool_factor = {factor} in course.toml asks for at "
                    f"least {factor} × {per_attempt} = {factor * per_attempt}",
                )
            for topic in topics:
                have = sum(question.topic == topic.id for question in questions)
                if have < factor * topic.draw:
                    quiz.problem(
                        f"topics.{topic.id}",
                        f"has {have} questions; min_pool_factor = {factor} asks for at least "
                        f"{factor} × {topic.draw} = {factor * topic.draw}",
                    )

    def read_question(self, question: Table, topic_ids: set[str] | None) -> Question:
        question_id = question.identifier("id")
        kind = question.string("kind")
        if kind and kind not in QUESTION_KINDS:
            question.problem("kind", f"{kind!r} is not one of {', '.join(QUESTION_KINDS)}")
        prompt = question.string("prompt")
        sources = self.reading.cited(question, "sources", required=False)
        topic = self.read_topic(question, topic_ids)
        applied = question.boolean("applied", required=False, default=False)
        hint = question.string("hint", required=self.rules.hints_required)
        lesson_id = question.string("lesson", required=False)
        if lesson_id and lesson_id not in self.lesson_ids:
            known = ", ".join(sorted(self.lesson_ids)) or "none"
            question.problem("lesson", f"{lesson_id!r} is not a lesson of this module (lessons: {known})")
        options = question.tables("options")
        built = [self.read_option(option, kind) for option in options]
        question.end()
        for duplicate in duplicates(option.id for option in built):
            question.problem("options", f"option id {duplicate!r} is used twice")
        self.check_kind(question, kind, options, built)
        if hint and kind in ("single", "multiple"):
            for option in built:
                if option.correct and _names_answer(hint, option.text):
                    question.problem("hint", f"names the answer (the correct option {option.id!r})")
        hint_html = self.reading.markdown(self.path, question.at("hint"), hint, "module") if hint else ""
        return Question(
            question_id,
            kind if _is_kind(kind) else "single",
            prompt,
            tuple(built),
            sources,
            topic=topic,
            applied=applied,
            hint_html=hint_html,
            lesson_id=lesson_id if lesson_id in self.lesson_ids else "",
        )

    def read_topic(self, question: Table, topic_ids: set[str] | None) -> str:
        if topic_ids is None:
            if question.has("topic"):
                question.string("topic")
                question.problem("topic", "the quiz has no [topics] (add them, or remove topic)")
            return ""
        topic = question.string("topic")
        if topic and topic not in topic_ids:
            known = ", ".join(sorted(topic_ids)) or "none"
            question.problem("topic", f"{topic!r} is not in [topics] (topics: {known})")
        return topic

    def read_option(self, option: Table, kind: str) -> Option:
        option_id = option.identifier("id")
        text = option.string("text")
        correct = False
        if kind != "ordering":
            correct = option.boolean("correct", required=False, default=False)
        explanation = option.string("explanation")
        option.end(also_allowed={"correct"})  # in an ordering question, check_kind says why it is wrong
        explanation_html = self.reading.markdown(self.path, option.at("explanation"), explanation, "module")
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

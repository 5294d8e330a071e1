"""Which questions an attempt asks, and in which order it shows their options. No Flask, no database.

A quiz with `draw` (FORMAT.md, "Second edition") is a pool: each attempt draws `draw` questions, per topic when
the quiz has topics, so every attempt covers every topic. The draw prefers the questions the learner has been
asked least often, then those not in their last attempt, so a retry gets a different set as far as the pool
allows; ties are broken by a random number generator seeded with the attempt's stored seed, so the same
seed and history always give the same draw.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .model import Question, Quiz

SEED_BITS = 63  # fits a signed 64-bit column


@dataclass(frozen=True, slots=True)
class History:
    """What the learner was asked in their earlier attempts at this quiz."""

    asked: Mapping[str, int]  # question id -> how many earlier attempts asked it
    last: Collection[str]  # the questions of the most recent attempt

    @classmethod
    def of(cls, attempts: Iterable[Sequence[str]]) -> History:
        """From the question ids of earlier attempts, oldest first."""
        asked: Counter[str] = Counter()
        last: Sequence[str] = ()
        for question_ids in attempts:
            asked.update(set(question_ids))
            last = question_ids
        return cls(asked, frozenset(last))


NO_HISTORY = History({}, frozenset())


def draw(quiz: Quiz, seed: int, history: History = NO_HISTORY) -> list[str]:
    """The question ids of a new attempt, in the quiz's order (every question when the quiz is no pool)."""
    if not quiz.is_pool:
        return [question.id for question in quiz.questions]
    rng = random.Random(seed)  # noqa: S311 (reproducible from the stored seed; the seed itself is from SystemRandom)
    groups: list[tuple[int, Sequence[Question]]] = [
        (topic.draw, quiz.topic_questions(topic.id)) for topic in quiz.topics
    ] or [(quiz.draw, quiz.questions)]
    chosen: set[str] = set()
    for count, questions in groups:
        tie_break = {question.id: rng.random() for question in questions}
        ranked = sorted(
            questions,
            key=lambda q: (history.asked.get(q.id, 0), q.id in history.last, tie_break[q.id]),
        )
        chosen.update(question.id for question in ranked[:count])
    return [question.id for question in quiz.questions if question.id in chosen]


def layout(quiz: Quiz, question_ids: Sequence[str], seed: int) -> dict[str, list[str]]:
    """Question id -> option ids in the order to show: shuffled; an ordering question never starts solved."""
    rng = random.Random(f"{seed}:options")  # noqa: S311 (reproducible, as above)
    shown: dict[str, list[str]] = {}
    for question_id in question_ids:
        question = quiz.question(question_id)
        assert question is not None
        order = [option.id for option in question.options]
        rng.shuffle(order)
        if question.kind == "ordering":
            while tuple(order) == question.correct_order:
                rng.shuffle(order)
        shown[question.id] = order
    return shown


def new_seed() -> int:
    return random.SystemRandom().getrandbits(SEED_BITS)

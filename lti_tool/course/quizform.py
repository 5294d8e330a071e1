"""The quiz as an HTML form, and the submitted form back to answers.

Field names and values are positions in the attempt's shuffled layout (`q3` = third question, value `2` = its
second option as shown; ordering: `q3.2` = position chosen for the second item as shown), never the content's
option ids: nothing in the page hints at which option is correct or which order is right. No Flask here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from .model import Option, Question

Problem = Literal["missing", "invalid", "positions"]


class FormData(Protocol):
    def getlist(self, key: str) -> list[str]: ...

    def __iter__(self) -> Iterator[str]: ...


@dataclass(frozen=True, slots=True)
class ShownOption:
    option: Option
    number: int  # 1-based position as shown
    field: str  # name of the input (choice) or select (ordering)
    dom_id: str  # id attribute, unique in the page
    checked: bool  # choice: ticked in the learner's last try
    position: int  # ordering: the position to preselect


@dataclass(frozen=True, slots=True)
class ShownQuestion:
    question: Question
    number: int  # 1-based
    field: str  # "q<number>"
    dom_id: str
    options: tuple[ShownOption, ...]
    problem: Problem | None

    @property
    def first_field_id(self) -> str:
        return self.options[0].dom_id if self.options else self.dom_id


def shown_questions(
    questions: Sequence[Question],
    layout: Mapping[str, Sequence[str]],
    previous: Mapping[str, Sequence[str]] | None = None,
    problems: Mapping[str, Problem] | None = None,
) -> list[ShownQuestion]:
    """The questions with their options in the attempt's order; `previous` keeps what the learner had chosen
    (option ids; ordering: ids in the chosen order) when the form comes back with a problem."""
    previous = previous or {}
    problems = problems or {}
    shown: list[ShownQuestion] = []
    for number, question in enumerate(questions, start=1):
        field = f"q{number}"
        chosen = list(previous.get(question.id) or [])
        options: list[ShownOption] = []
        for option_number, option_id in enumerate(layout[question.id], start=1):
            option = question.option(option_id)
            assert option is not None  # progress.attempt_questions() checked the layout
            if question.kind == "ordering":
                position = chosen.index(option_id) + 1 if option_id in chosen else option_number
                options.append(
                    ShownOption(
                        option,
                        option_number,
                        f"{field}.{option_number}",
                        f"{field}-{option_number}",
                        False,
                        position,
                    )
                )
            else:
                options.append(
                    ShownOption(
                        option,
                        option_number,
                        field,
                        f"{field}-{option_number}",
                        option_id in chosen,
                        option_number,
                    )
                )
        shown.append(ShownQuestion(question, number, field, field, tuple(options), problems.get(question.id)))
    return shown


@dataclass(frozen=True, slots=True)
class Decoded:
    """Answers by question id (option ids; ordering: in the learner's order), and problems by question id.

    `partial` holds what could be read even for questions with a problem, to fill the form in again;
    `stray` is True when the form had fields this quiz does not have (tampered or outdated).
    """

    answers: dict[str, list[str]]
    problems: dict[str, Problem]
    partial: dict[str, list[str]]
    stray: bool


def _index(value: str, size: int) -> int | None:
    """A 1-based position as sent ("2"), or None for anything else (garbage, out of range)."""
    if not value.isascii() or not value.isdigit() or len(value) > 3:
        return None
    number = int(value)
    return number if 1 <= number <= size else None


def decode(questions: Sequence[Question], layout: Mapping[str, Sequence[str]], form: FormData) -> Decoded:
    answers: dict[str, list[str]] = {}
    problems: dict[str, Problem] = {}
    partial: dict[str, list[str]] = {}
    expected: set[str] = set()
    for number, question in enumerate(questions, start=1):
        field = f"q{number}"
        order = list(layout[question.id])
        if question.kind == "ordering":
            names = [f"{field}.{n}" for n in range(1, len(order) + 1)]
            expected.update(names)
            positions: list[int | None] = []
            for name in names:
                values = form.getlist(name)
                positions.append(_index(values[0], len(order)) if len(values) == 1 else None)
            if all(p is None for p in positions) and not any(form.getlist(n) for n in names):
                problems[question.id] = "missing"
                continue
            if any(p is None for p in positions):
                problems[question.id] = "invalid"
                continue
            placed = sorted(zip(positions, order, strict=True), key=lambda pair: pair[0] or 0)
            partial[question.id] = [option_id for _, option_id in placed]
            if sorted(p for p in positions if p is not None) != list(range(1, len(order) + 1)):
                problems[question.id] = "positions"
                continue
            answers[question.id] = partial[question.id]
            continue
        expected.add(field)
        values = form.getlist(field)
        indices = [_index(value, len(order)) for value in values]
        chosen = [order[i - 1] for i in indices if i is not None]
        partial[question.id] = chosen
        if not values:
            problems[question.id] = "missing"
        elif (
            None in indices
            or len(set(chosen)) != len(chosen)
            or (question.kind != "multiple" and len(chosen) != 1)
        ):
            problems[question.id] = "invalid"
        else:
            answers[question.id] = chosen
    stray = any(key.startswith("q") and key not in expected for key in form)
    return Decoded(answers, problems, partial, stray)

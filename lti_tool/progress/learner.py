"""Whose progress (`Learner`), and why a progress write is refused (`ProgressError` and its kinds).

Services raise `ProgressError` subclasses with a `code`; the views turn them into pages in the learner's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..course.attempt_policy import Gate

if TYPE_CHECKING:
    from ..auth import Visitor


@dataclass(frozen=True, slots=True)
class Learner:
    """Whose progress: a user in a course context (LMS course). Instructors are learners here too.

    `platform_id` and `resource_link_id` go into the certification register's entry when the course is completed
    (which platform, which activity); grades find their platform and activities from the context.
    """

    user_id: int
    context_id: int
    platform_id: int
    resource_link_id: int | None = None

    @classmethod
    def of(cls, visitor: Visitor) -> Learner:
        return cls(
            user_id=visitor.user.id,
            context_id=visitor.context.id,
            platform_id=visitor.platform_id,
            resource_link_id=visitor.session.resource_link_id,
        )


class ProgressError(Exception):
    """A refused progress write; nothing was changed. `code` says why (views pick the words)."""

    code = "progress_error"


class AttemptNotFound(ProgressError):
    """No quiz attempt with this id for this learner, course context and module."""

    code = "attempt_not_found"


class QuizChanged(ProgressError):
    """The quiz changed since the attempt was shown (new course text deployed): start again."""

    code = "quiz_changed"


class InvalidAnswers(ProgressError):
    """Answers that do not fit the quiz: `problems` maps question id -> "missing" | "invalid"."""

    code = "invalid_answers"

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__(", ".join(f"{q}: {p}" for q, p in problems.items()))
        self.problems = dict(problems)


class AttemptLocked(ProgressError):
    code = "attempt_locked"

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        super().__init__(f"{gate.reason} until {gate.until.isoformat()}")


class PracticeLocked(ProgressError):
    """The practice task was accepted by an instructor and cannot be changed any more."""

    code = "practice_locked"


class PracticeTextInvalid(ProgressError):
    """Too short or too long (in characters, after normalising line breaks and trimming)."""

    def __init__(
        self, code: Literal["too_short", "too_long"], length: int, minimum: int, maximum: int
    ) -> None:
        super().__init__(f"{code}: {length} characters, allowed {minimum}..{maximum}")
        self.code = code
        self.length = length
        self.minimum = minimum
        self.maximum = maximum


class PracticeNotFound(ProgressError):
    code = "practice_not_found"


class PracticeChanged(ProgressError):
    """The learner saved another version after the instructor opened the review (read it again first)."""

    code = "practice_changed"


class PracticeAlreadyAccepted(ProgressError):
    """A revision was asked for an answer that is already accepted (its grade may have counted)."""

    code = "practice_already_accepted"

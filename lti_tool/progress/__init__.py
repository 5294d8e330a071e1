"""Learning progress: the one place that records what a learner did, and reads it back for the pages.

Services take a session and never commit; the view (the edge) commits. Completion rules are not here but in
`lti_tool.course.completion` (pure functions this package feeds with snapshots).

- `learner`: whose progress, and the errors a refused write raises (each with a `code` the views translate);
- `writes`: the learner lock and `refresh_progress`, the seam every grade-affecting write (a quiz submitted, a
  practice task submitted or reviewed, a lesson visit that completes a module) ends in: it recomputes the
  derived progress and queues the grades for the LMS in the same transaction;
- `reads`: what the pages show (where the learner was, module and course progress);
- `quiz` and `practice`: the module quiz and the practice task; `review`: the instructor's review rounds of a
  practice answer (accept, or ask for a revision);
- `statements`: the queries, built once.
"""

from __future__ import annotations

from .learner import (
    AttemptLocked,
    AttemptNotFound,
    InvalidAnswers,
    Learner,
    PracticeAlreadyAccepted,
    PracticeChanged,
    PracticeLocked,
    PracticeNotFound,
    PracticeTextInvalid,
    ProgressError,
    QuizChanged,
)
from .practice import (
    PracticeSave,
    check_practice_text,
    get_practice,
    normalize_text,
    save_practice,
)
from .quiz import (
    QuizSubmission,
    attempt_gate,
    attempt_questions,
    attempt_result,
    check_answers,
    find_open_attempt,
    get_attempt,
    layout_fits,
    quiz_record,
    start_quiz_attempt,
    submit_quiz_attempt,
)
from .reads import CourseState, Location, course_state, last_location, module_snapshot, parse_location
from .review import (
    ReviewRound,
    practice_version,
    review_practice,
    review_rounds,
    waiting_for_review,
    waiting_for_revision,
)
from .statements import ANY_PROGRESS
from .writes import Cause, ProgressUpdate, lock_learner, record_lesson_view

__all__ = [
    "ANY_PROGRESS",
    "AttemptLocked",
    "AttemptNotFound",
    "Cause",
    "CourseState",
    "InvalidAnswers",
    "Learner",
    "Location",
    "PracticeAlreadyAccepted",
    "PracticeChanged",
    "PracticeLocked",
    "PracticeNotFound",
    "PracticeSave",
    "PracticeTextInvalid",
    "ProgressError",
    "ProgressUpdate",
    "QuizChanged",
    "QuizSubmission",
    "ReviewRound",
    "attempt_gate",
    "attempt_questions",
    "attempt_result",
    "check_answers",
    "check_practice_text",
    "course_state",
    "find_open_attempt",
    "get_attempt",
    "get_practice",
    "last_location",
    "layout_fits",
    "lock_learner",
    "module_snapshot",
    "normalize_text",
    "parse_location",
    "practice_version",
    "quiz_record",
    "record_lesson_view",
    "review_practice",
    "review_rounds",
    "save_practice",
    "start_quiz_attempt",
    "submit_quiz_attempt",
    "waiting_for_review",
    "waiting_for_revision",
]

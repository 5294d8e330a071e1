"""Migration 0005 (quiz pools) on a database holding attempts written by the previous schema: it matches the
models, old attempts keep their questions (every question of the quiz, as they were asked), an old open attempt
can still be answered and a new attempt draws from the pool. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from lti_tool import progress
from lti_tool.course.loader import load_course
from lti_tool.db import begin_write
from lti_tool.models import QuizAttempt

from ..migrations import downgrade, previous_revision, session, upgrade_to_head

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "content"
NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def test_pool_migration_keeps_old_attempts_and_goes_down_and_up(empty_database: str) -> None:
    with previous_revision(empty_database, "0004") as old:
        assert "question_ids" not in old.columns("quiz_attempt")
        old.course(NOW)
        everything = {
            "q1": ["b", "a"],
            "q2": ["false", "true"],
            "q3": ["c", "a", "b"],
            "q4": ["s2", "s3", "s1"],
            "q5": ["c", "a", "b"],
        }
        base = {"user_id": 1, "context_id": 1, "course_id": "grundlagenkurs", "module_id": "modul-a"}
        old.insert(
            "quiz_attempt",  # no explicit id: PostgreSQL's sequence must hand out the next ones
            {
                "public_id": "old-submitted",
                "layout": everything,
                "question_count": 5,
                "started_at": NOW,
                "answers": {
                    "q1": ["a"],
                    "q2": ["true"],
                    "q3": ["a", "b"],
                    "q4": ["s1", "s2", "s3"],
                    "q5": ["b"],
                },
                "correct_count": 4,
                "score": 0.8,
                "passed": True,
                "submitted_at": NOW,
                **base,
            },
            {"public_id": "old-open", "layout": everything, "question_count": 5, "started_at": NOW, **base},
        )
    upgrade_to_head(empty_database)

    course = load_course(FIXTURE / "grundlagenkurs")
    module = course.modules[0]
    learner = progress.Learner(user_id=1, context_id=1, platform_id=1)
    with session(empty_database) as s:
        submitted = s.scalars(select(QuizAttempt).where(QuizAttempt.public_id == "old-submitted")).one()
        assert (submitted.question_ids, submitted.draw_seed) == (None, None)
        asked = progress.attempt_questions(module.quiz, submitted)
        assert asked is not None and [q.id for q in asked] == [q.id for q in module.quiz.questions]
        assert progress.layout_fits(module.quiz, submitted)

        open_attempt = progress.find_open_attempt(s, learner, course, module)
        assert open_attempt is not None and open_attempt.public_id == "old-open"
        answers = {q.id: list(q.correct_option_ids) or list(q.correct_order) for q in module.quiz.questions}
        # As a view does before it writes: the reads above end, the write transaction begins.
        begin_write(s)
        done = progress.submit_quiz_attempt(s, learner, course, module, "old-open", answers)
        assert done.first and done.attempt.score == 1.0 and done.attempt.question_count == 5

        fresh = progress.start_quiz_attempt(s, learner, course, module)
        assert fresh.question_ids == [q.id for q in module.quiz.questions]  # no pool: every question
        assert fresh.draw_seed is not None
        s.commit()

    assert "question_ids" not in downgrade(empty_database, "0004")["quiz_attempt"]
    upgrade_to_head(empty_database)

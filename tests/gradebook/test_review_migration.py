"""Migration 0014 (review rounds) on a database holding practice tasks written under the previous schema: the
schema matches the models; each reviewed task becomes round 1, accepted, with its text, feedback, reviewer and
time; tasks not reviewed have no round and wait for a review; nothing asks for a revision; the learner can be
reviewed again through the service; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from lti_tool import progress
from lti_tool.course.loader import load_course
from lti_tool.db import begin_write
from lti_tool.models import PracticeReviewRound, PracticeSubmission

from ..migrations import downgrade, previous_revision, session, upgrade_to_head, write_practice_answers

COURSE = load_course(Path(__file__).resolve().parents[1] / "fixtures" / "content" / "grundlagenkurs")
SUBMITTED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
CHANGED = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
REVIEWED = dt.datetime(2026, 11, 4, 9, 0, tzinfo=dt.UTC)


def test_review_rounds_migration_turns_each_review_into_an_accepted_first_round(empty_database: str) -> None:
    with previous_revision(empty_database, "0013") as old:
        assert "practice_review_round" not in old.tables
        assert "revision_requested_at" not in old.columns("practice_submission")
        write_practice_answers(old, SUBMITTED, CHANGED, REVIEWED)
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        rounds = [
            (r.submission_id, r.user_id, r.module_id, r.number, r.decision, r.text, r.feedback)
            for r in s.scalars(select(PracticeReviewRound).order_by(PracticeReviewRound.submission_id))
        ]
        assert rounds == [
            (1, 1, "modul-a", 1, "accepted", "Text 1 <mit> Zeichen & so", "Gut begründet."),
            (2, 1, "modul-b", 1, "accepted", "Text 2 <mit> Zeichen & so", ""),
        ]
        first = s.scalars(select(PracticeReviewRound).where(PracticeReviewRound.submission_id == 1)).one()
        assert (first.reviewer_id, first.reviewed_at, first.text_updated_at) == (3, REVIEWED, CHANGED)
        tasks = {t.id: t for t in s.scalars(select(PracticeSubmission))}
        assert all(t.revision_requested_at is None for t in tasks.values())
        assert (tasks[1].reviewed_at, tasks[3].reviewed_at) == (REVIEWED, None)
        # A later round numbers on from the migrated one: the teacher (learner 3 here) accepts it again with
        # other feedback, through the service.
        module = COURSE.module("modul-a")
        assert module is not None
        begin_write(s)
        progress.review_practice(
            s,
            progress.Learner(user_id=1, context_id=1, platform_id=1),
            COURSE,
            module,
            reviewer_id=3,
            feedback="Ergänzt.",
        )
        s.commit()
        numbers = s.scalars(
            select(PracticeReviewRound.number).where(PracticeReviewRound.submission_id == 1)
        ).all()
        assert sorted(numbers) == [1, 2]
    schema = downgrade(empty_database, "0013")
    assert "practice_review_round" not in schema
    assert (
        "revision_requested_at" not in schema["practice_submission"]
        and "feedback" in schema["practice_submission"]
    )
    upgrade_to_head(empty_database)

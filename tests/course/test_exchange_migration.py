"""Migration 0017 (exchange replies) on a database holding practice answers written under the previous schema:
the schema matches the models; every answer stays visible with no reply read yet; replies and a municipality
can be written; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from lti_tool.models import ExchangeProfile, ExchangeReply, PracticeSubmission

from ..migrations import downgrade, previous_revision, session, upgrade_to_head, write_practice_answers

SUBMITTED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
CHANGED = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
REVIEWED = dt.datetime(2026, 11, 4, 9, 0, tzinfo=dt.UTC)


def test_exchange_migration_keeps_answers_visible_and_takes_replies(empty_database: str) -> None:
    with previous_revision(empty_database, "0016") as old:
        assert "exchange_reply" not in old.tables and "hidden_at" not in old.columns("practice_submission")
        write_practice_answers(old, SUBMITTED, CHANGED, REVIEWED)
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        answers = s.scalars(select(PracticeSubmission).order_by(PracticeSubmission.id)).all()
        assert [(a.id, a.text, a.hidden_at, a.replies_seen_at) for a in answers] == [
            (n, f"Text {n} <mit> Zeichen & so", None, None) for n in (1, 2, 3)
        ]
        s.add(
            ExchangeReply(
                submission_id=1,
                user_id=2,
                context_id=1,
                course_id="grundlagenkurs",
                module_id="modul-a",
                text="Ein Kommentar.",
            )
        )
        s.add(ExchangeProfile(user_id=2, context_id=1, municipality="Stadt Aachen"))
        s.commit()
        assert s.scalars(select(ExchangeReply.text)).all() == ["Ein Kommentar."]
    schema = downgrade(empty_database, "0016")
    assert not {"exchange_reply", "exchange_profile"} & set(schema)
    assert not {"hidden_at", "hidden_by", "hidden_reason", "replies_seen_at"} & schema["practice_submission"]
    with session(empty_database) as s:
        assert s.execute(select(func.count()).select_from(PracticeSubmission.__table__)).scalar() == 3
    upgrade_to_head(empty_database)

"""Migration 0017 (exchange replies) on a database holding practice answers written under the previous schema:
the schema matches the models; every answer stays visible with no reply read yet; replies and a municipality
can be written; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from lti_tool import exchange, progress
from lti_tool.course.loader import load_course
from lti_tool.db import begin_write
from lti_tool.models import ExchangeProfile, ExchangeReply, PracticeSubmission

from ..migrations import downgrade, previous_revision, session, upgrade_to_head, write_practice_answers

COURSE = load_course(Path(__file__).resolve().parents[1] / "fixtures" / "content" / "grundlagenkurs")
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
        # Learner 2 (who answered module a) replies to learner 1's answer and names a municipality.
        replier = progress.Learner(user_id=2, context_id=1, platform_id=1)
        module = COURSE.module("modul-a")
        assert module is not None
        begin_write(s)
        exchange.add_reply(s, replier, COURSE, module, 1, "Ein Kommentar.")
        exchange.set_municipality(s, replier, "Stadt Aachen")
        s.commit()
        assert s.scalars(select(ExchangeProfile.municipality)).all() == ["Stadt Aachen"]
        assert s.scalars(select(ExchangeReply.text)).all() == ["Ein Kommentar."]
    schema = downgrade(empty_database, "0016")
    assert not {"exchange_reply", "exchange_profile"} & set(schema)
    assert not {"hidden_at", "hidden_by", "hidden_reason", "replies_seen_at"} & schema["practice_submission"]
    with session(empty_database) as s:
        assert s.execute(select(func.count()).select_from(PracticeSubmission.__table__)).scalar() == 3
    upgrade_to_head(empty_database)

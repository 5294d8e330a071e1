"""Session time: an idle timeout besides the absolute one, "End session" on every page, a way to continue from
the warning, and no lost practice text when it is sent after the end."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from lti_tool.cache import RedisLaunchStore
from lti_tool.course import drafts
from lti_tool.course.catalog import get_catalog
from lti_tool.db import session_scope
from lti_tool.lti.provision import token_hash
from lti_tool.models import LessonVisit, PracticeSubmission, ToolSession, utcnow

from ..migrations import downgrade, previous_revision, session, upgrade_to_head
from ..peer import Launcher
from ..test_gunicorn import free_port
from .learner import Learner

PRACTICE = "m/modul-a/praxis"


def _age(
    app: Flask, learner: Learner, *, seen: dt.timedelta | None = None, expires: dt.timedelta | None = None
) -> None:
    values: dict[str, Any] = {}
    if seen is not None:
        values["last_seen_at"] = utcnow() - seen
    if expires is not None:
        values["expires_at"] = utcnow() + expires
    with session_scope(app, write=True) as s:
        s.execute(
            update(ToolSession).where(ToolSession.token_hash == token_hash(learner.sid)).values(**values)
        )


def _last_seen(app: Flask, learner: Learner) -> dt.datetime:
    with session_scope(app) as s:
        seen = s.scalars(
            select(ToolSession.last_seen_at).where(ToolSession.token_hash == token_hash(learner.sid))
        ).one()
    assert seen is not None
    return seen


def test_a_session_ends_after_90_minutes_without_a_request(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    _age(app, learner, seen=dt.timedelta(minutes=80))
    assert learner.get("").status_code == 200  # still open: and the request counts as activity
    assert utcnow() - _last_seen(app, learner) < dt.timedelta(minutes=1)
    _age(app, learner, seen=dt.timedelta(minutes=91))
    page = learner.get("")
    assert page.status_code == 401 and "session_idle" in page.text and "90 Minuten" in page.text


def _visits(app: Flask) -> list[str]:
    with session_scope(app) as s:
        return list(s.scalars(select(LessonVisit.lesson_id).order_by(LessonVisit.id)))


def test_a_lesson_page_records_the_request_and_its_visit_or_refuses_an_ended_session(
    app: Flask, launcher: Launcher
) -> None:
    """The lesson page reads the session in its own write transaction (auth.writes_progress): the request still
    counts as activity (written first, on its own) and the visit is recorded; an ended session writes neither."""
    learner = Learner.launch(launcher)
    _age(app, learner, seen=dt.timedelta(minutes=80))
    page = learner.get("m/modul-a/01-einstieg")
    assert page.status_code == 200 and "Sitzung beenden" in page.text
    assert utcnow() - _last_seen(app, learner) < dt.timedelta(minutes=1)
    assert _visits(app) == ["01-einstieg"]
    _age(app, learner, seen=dt.timedelta(minutes=91))
    late = learner.get("m/modul-a/02-vertiefung")
    assert late.status_code == 401 and "session_idle" in late.text
    assert _visits(app) == ["01-einstieg"]
    assert utcnow() - _last_seen(app, learner) > dt.timedelta(minutes=90)
    _age(app, learner, seen=dt.timedelta(minutes=1))  # a write right after: the refused request holds no lock
    assert learner.get("m/modul-a/02-vertiefung").status_code == 200
    assert _visits(app) == ["01-einstieg", "02-vertiefung"]


def test_the_idle_time_is_configurable(app: Flask, launcher: Launcher) -> None:
    app.config["SESSION_IDLE_SECONDS"] = 600
    learner = Learner.launch(launcher)
    _age(app, learner, seen=dt.timedelta(minutes=11))
    assert learner.get("").status_code == 401


def test_every_page_offers_end_session_which_ends_it_on_the_server(app: Flask, launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.get("")
    assert "Sitzung beenden" in page.text and "/sitzung/beenden" in page.text
    refused = learner.post("sitzung/beenden", {}, csrf=False)
    assert refused.status_code == 403 and learner.get("").status_code == 200  # CSRF: nothing ended
    ended = learner.post("sitzung/beenden", {})
    assert ended.status_code == 200 and "Sie haben Ihre Sitzung beendet" in ended.text
    assert "Sitzung beenden" not in ended.text and learner.sid not in ended.text
    assert learner.get("").status_code == 401
    assert learner.get(PRACTICE).status_code == 401


def test_the_warning_knows_the_remaining_time_and_continuing_puts_the_end_off(
    app: Flask, launcher: Launcher
) -> None:
    learner = Learner.launch(launcher)
    page = learner.get("")
    idle = int(re.search(r'data-idle="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    absolute = int(re.search(r'data-absolute="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    assert 5300 < idle <= 5400 and 28700 < absolute <= 28800
    assert 'role="alertdialog"' in page.text and "Weiterarbeiten" in page.text and "session.js" in page.text
    _age(app, learner, seen=dt.timedelta(minutes=88))
    extended = learner.post("sitzung/verlaengern", {}, headers={"Accept": "application/json"})
    assert extended.status_code == 200 and extended.json()["idle_remaining"] > 5300
    _age(app, learner, seen=dt.timedelta(minutes=95))
    late = learner.post("sitzung/verlaengern", {}, headers={"Accept": "application/json"})
    assert late.status_code == 401 and late.json()["error"] == "session_idle"


def test_a_practice_text_sent_after_the_end_is_kept_and_offered_after_the_next_launch(
    app: Flask, launcher: Launcher
) -> None:
    learner = Learner.launch(launcher)
    learner.get(PRACTICE)
    text = "Unsere Gemeinde plant ein Klimaschutzkonzept mit Bürgerbeteiligung. " * 3
    _age(app, learner, seen=dt.timedelta(hours=2))
    late = learner.post(PRACTICE, {"text": text})
    assert late.status_code == 401
    assert "bewahrt ihn 14 Tage auf" in late.text and text.strip()[:60] in late.text  # shown to copy as well
    with session_scope(app) as s:
        assert s.scalars(select(PracticeSubmission)).all() == []  # an ended session writes nothing

    again = Learner.launch(launcher)
    page = again.get(PRACTICE)
    assert page.status_code == 200 and "nicht gespeichert, weil Ihre Sitzung" in page.text
    assert text.strip()[:60] in page.text
    with session_scope(app) as s:
        user_id, context_id = s.execute(select(ToolSession.user_id, ToolSession.context_id)).first() or (0, 0)

    def kept() -> list[dict[str, Any]]:
        with app.app_context():
            return drafts.drafts_of(user_id, [context_id], get_catalog(app))

    assert [draft["text"] for draft in kept()] == [text]
    saved = again.post(PRACTICE, {"text": text})
    assert saved.status_code == 200 and "eingereicht" in saved.text
    assert "nicht gespeichert, weil Ihre Sitzung" not in again.get(PRACTICE).text
    assert kept() == []  # forgotten with the save
    with session_scope(app) as s:
        assert s.scalars(select(PracticeSubmission.text)).one() == text.strip()


def test_the_practice_page_works_while_redis_is_out_of_reach(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The texts kept from ended sessions live in the launch store. With Redis restarting (the soak's fault), the
    practice page was a 500 and so was saving the answer; now both work without the kept text."""
    learner = Learner.launch(launcher)
    # a Redis nobody listens on: every command raises redis' ConnectionError at once
    monkeypatch.setitem(
        app.extensions, "nama_launch_store", RedisLaunchStore(f"redis://127.0.0.1:{free_port()}/0")
    )
    page = learner.get(PRACTICE)
    assert page.status_code == 200 and "nicht gespeichert, weil Ihre Sitzung" not in page.text
    text = "Unsere Gemeinde plant ein Klimaschutzkonzept mit Bürgerbeteiligung. " * 3
    saved = learner.post(PRACTICE, {"text": text})
    assert saved.status_code == 200 and "eingereicht" in saved.text
    with session_scope(app) as s:
        assert s.scalars(select(PracticeSubmission.text)).one() == text.strip()
    _age(app, learner, seen=dt.timedelta(hours=2))
    late = learner.post(PRACTICE, {"text": text + " Nachtrag."})
    assert late.status_code == 401 and "Nachtrag." in late.text  # not kept, but shown to copy


def test_a_text_for_an_unknown_session_is_shown_to_copy(launcher: Launcher) -> None:
    learner = Learner.launch(launcher)
    page = learner.http.post(
        learner.base.replace(learner.sid, "no-such-session") + PRACTICE,
        data={"text": "Mein Text <b>bleibt</b>", "csrf_token": "x"},
    )
    assert page.status_code == 401 and "Kopieren Sie ihn" in page.text
    assert "Mein Text &lt;b&gt;bleibt&lt;/b&gt;" in page.text


def test_the_migration_gives_existing_sessions_their_start_as_last_request(empty_database: str) -> None:
    started = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    with previous_revision(empty_database, "0006") as old:
        assert "last_seen_at" not in old.columns("tool_session")
        old.course(started)
        old.insert(
            "tool_session",
            {"token_hash": "h", "user_id": 1, "context_id": 1, "deployment_id": 1,
             "message_type": "LtiResourceLinkRequest", "is_instructor": False, "course_id": "grundlagenkurs",
             "locale": "de", "claims": {}, "created_at": started, "expires_at": started + dt.timedelta(hours=8)},
        )  # fmt: skip
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        assert s.scalars(select(ToolSession.last_seen_at)).one() == started
    assert "last_seen_at" not in downgrade(empty_database, "0006")["tool_session"]
    upgrade_to_head(empty_database)

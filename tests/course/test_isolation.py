"""A learner reaches only their own progress, attempts and practice texts, in the context and on the platform
they launched from: ids in URLs and forms are tried against other users, contexts and platforms."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.models import CourseProgress, LessonVisit, ModuleProgress, PracticeSubmission, QuizAttempt, User

from ..peer import Launcher
from .learner import Learner, attempt_id, context_claim, count, quiz_answers, take_quiz


def state(app: Flask) -> list[Any]:
    with session_scope(app) as s:
        return [
            s.execute(select(QuizAttempt.public_id, QuizAttempt.submitted_at, QuizAttempt.score)).all(),
            s.execute(select(PracticeSubmission.user_id, PracticeSubmission.text)).all(),
            s.execute(
                select(ModuleProgress.user_id, ModuleProgress.attempts, ModuleProgress.best_score)
            ).all(),
            s.execute(select(LessonVisit.user_id, LessonVisit.lesson_id)).all(),
        ]


def _alice_with_work(app: Flask, launcher: Launcher) -> tuple[Learner, str, str]:
    """Alice read a lesson, submitted one attempt, has one open attempt and wrote a practice text."""
    alice = Learner.launch(launcher, sub="alice", given_name="Alice")
    alice.get("m/modul-a/01-einstieg")
    done = attempt_id(alice.get("m/modul-a/quiz").text)
    alice.post("m/modul-a/quiz", quiz_answers(app, "modul-a", done, right=2))
    open_id = attempt_id(alice.get("m/modul-a/quiz").text)
    alice.post("m/modul-a/praxis", {"text": "Alices geheime Antwort über ihre Kommune."})
    return alice, done, open_id


def _cannot_touch(app: Flask, app_state: list[Any], intruder: Learner, done: str, open_id: str) -> None:
    # Alice's result page, by attempt id.
    for public_id in (done, open_id):
        page = intruder.get(f"m/modul-a/ergebnis?versuch={public_id}")
        assert page.status_code == 404, public_id
        assert "2 von 5" not in page.text
    # Submitting Alice's open (or closed) attempt with the intruder's own session.
    for public_id in (open_id, done):
        page = intruder.post("m/modul-a/quiz", quiz_answers(app, "modul-a", public_id))
        assert page.status_code == 404
    # Alice's attempt never shows up as the intruder's open attempt.
    assert attempt_id(intruder.get("m/modul-a/quiz").text) not in (done, open_id)
    assert "Alices geheime Antwort" not in intruder.get("m/modul-a/praxis").text
    overview = intruder.get("")
    assert "0 von 2 Modulen abgeschlossen" in overview.text and "Quiz noch offen" in overview.text
    after = state(app)
    # The intruder opened a quiz (a new attempt of their own); Alice's rows are as they were.
    assert [row for row in after[0] if row[0] in (done, open_id)] == [
        row for row in app_state[0] if row[0] in (done, open_id)
    ]
    assert after[1] == app_state[1]
    alice_progress = [r for r in app_state[2]]
    assert all(r in after[2] for r in alice_progress)


def test_other_learner_in_the_same_context(app: Flask, launcher: Launcher) -> None:
    _, done, open_id = _alice_with_work(app, launcher)
    before = state(app)
    bob = Learner.launch(launcher, sub="bob", given_name="Bob")
    _cannot_touch(app, before, bob, done, open_id)
    # The exchange shows Alice's text to Bob only after he submitted his own.
    assert "Alices geheime Antwort" not in bob.get("m/modul-a/austausch").text
    bob.post("m/modul-a/praxis", {"text": "Bobs Antwort über seine eigene Kommune."})
    assert "Alices geheime Antwort" in bob.get("m/modul-a/austausch").text


def test_same_user_in_another_context(app: Flask, launcher: Launcher) -> None:
    _, done, open_id = _alice_with_work(app, launcher)
    before = state(app)
    elsewhere = Learner.launch(launcher, sub="alice", **context_claim("course-2"))
    _cannot_touch(app, before, elsewhere, done, open_id)
    # Her practice text of the other context is not hers here: she writes anew, and the exchange of this
    # context does not show texts of the first one.
    elsewhere.post("m/modul-a/praxis", {"text": "Antwort im zweiten Kurs, ganz neu."})
    assert "Alices geheime Antwort" not in elsewhere.get("m/modul-a/austausch").text
    assert count(app, PracticeSubmission) == 2
    with session_scope(app) as s:
        assert len(s.scalars(select(User)).all()) == 1  # one user, two contexts


def test_other_context_learners_are_not_in_the_exchange(app: Flask, launcher: Launcher) -> None:
    _alice_with_work(app, launcher)
    carol = Learner.launch(launcher, sub="carol", **context_claim("course-2"))
    carol.post("m/modul-a/praxis", {"text": "Carols Antwort in einem anderen Kurs."})
    page = carol.get("m/modul-a/austausch")
    assert "Alices geheime Antwort" not in page.text
    assert "Noch hat niemand sonst in Ihrem Kurs eine Antwort eingereicht." in page.text


def test_same_sub_and_context_id_on_another_platform(
    app: Flask, launcher: Launcher, other_launcher: Launcher
) -> None:
    _, done, open_id = _alice_with_work(app, launcher)
    before = state(app)
    # Same `sub` and the same context id, sent by another platform: another person in another course.
    twin = Learner.launch(other_launcher, sub="alice")
    _cannot_touch(app, before, twin, done, open_id)
    twin.post("m/modul-a/praxis", {"text": "Antwort auf der anderen Plattform."})
    assert "Alices geheime Antwort" not in twin.get("m/modul-a/austausch").text
    with session_scope(app) as s:
        assert len(s.scalars(select(User).where(User.sub == "alice")).all()) == 2


def test_session_of_one_learner_never_writes_for_another(app: Flask, launcher: Launcher) -> None:
    alice = Learner.launch(launcher, sub="alice")
    bob = Learner.launch(launcher, sub="bob")
    take_quiz(app, alice, "modul-a")
    bob.get("m/modul-b/01-einstieg")
    with session_scope(app) as s:
        alice_id = s.scalars(select(User.id).where(User.sub == "alice")).one()
        bob_id = s.scalars(select(User.id).where(User.sub == "bob")).one()
        assert set(s.scalars(select(QuizAttempt.user_id))) == {alice_id}
        assert set(s.scalars(select(LessonVisit.user_id))) == {bob_id}
        assert set(s.scalars(select(CourseProgress.user_id))) == {alice_id, bob_id}
        assert set(s.scalars(select(ModuleProgress.user_id))) == {alice_id, bob_id}
        assert (
            s.scalars(select(ModuleProgress.best_score).where(ModuleProgress.user_id == bob_id)).one() is None
        )


def test_a_made_up_session_id_opens_nothing(app: Flask, launcher: Launcher) -> None:
    alice = Learner.launch(launcher, sub="alice")
    fake = alice.base.replace(alice.sid, "A" * len(alice.sid))
    for path in ("", "m/modul-a/", "m/modul-a/01-einstieg", "m/modul-a/quiz", "m/modul-a/praxis"):
        page = alice.http.get(fake + path)
        assert page.status_code == 401, path
    page = alice.http.post(fake + "m/modul-a/praxis", data={"text": "x" * 100, "csrf_token": alice.csrf})
    assert page.status_code == 401
    assert count(app, LessonVisit) == 0 and count(app, PracticeSubmission) == 0

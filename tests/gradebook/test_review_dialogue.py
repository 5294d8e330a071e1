"""Practice review as a dialogue: the teacher asks for a revision, the learner sees why and revises, the teacher
accepts; every round is kept (text version, decision, feedback, who, when) and shown on both sides; the list of
answers waiting for review follows. Bad input, another course context, a learner trying the teacher's action and
a missing CSRF token are refused with a clear page and nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lti_tool.db import session_scope
from lti_tool.gradebook import review_views, reviews
from lti_tool.gradebook.rows import Scope
from lti_tool.models import PracticeReviewRound, PracticeSubmission

from ..course.learner import Learner, context_claim, course
from ..forms import field
from ..peer import Launcher
from .conftest import add_learner, launch_teacher, place, snapshot, user_id
from .test_review import TEXT, worked

REVISED = "Überarbeitet: Unser Klimabeirat tagt viermal im Jahr & berät den Rat <öffentlich>."


def review_form(teacher: Learner, uid: int, module: str = "modul-a") -> str:
    page = teacher.get(f"lehrende/lernende/{uid}/praxis/{module}")
    assert page.status_code == 200, page.text[:500]
    return field(page.text, "stand")


def decide(teacher: Learner, uid: int, decision: str, feedback: str, **more: Any) -> Any:
    stand = review_form(teacher, uid)
    return teacher.post(
        f"lehrende/lernende/{uid}/praxis/modul-a",
        {"feedback": feedback, "stand": stand, "entscheidung": decision, **more},
    )


def rounds(app: Flask) -> list[tuple[Any, ...]]:
    with session_scope(app) as s:
        return [
            tuple(row)
            for row in s.execute(
                select(
                    PracticeReviewRound.number,
                    PracticeReviewRound.decision,
                    PracticeReviewRound.text,
                    PracticeReviewRound.feedback,
                    PracticeReviewRound.reviewer_id,
                ).order_by(PracticeReviewRound.number)
            )
        ]


def counts(app: Flask) -> reviews.ReviewCounts:
    where = place(app)
    with session_scope(app) as s:
        return reviews.review_counts(s, Scope(where.context_id, where.platform_id, course(app)))


def test_revision_reopens_the_text_the_learner_revises_and_the_teacher_accepts(
    app: Flask, launcher: Launcher
) -> None:
    lea = worked(app, launcher)
    teacher = launch_teacher(launcher)
    uid, tid = user_id(app, "lea"), user_id(app, "teacher-1")
    waiting = teacher.get("lehrende/praxis")
    assert waiting.status_code == 200 and "1 wartet auf Ihre Prüfung" in waiting.text
    assert f"lernende/{uid}/praxis/modul-a" in waiting.text
    assert counts(app) == reviews.ReviewCounts(waiting=1, revision=0)

    asked = decide(teacher, uid, "ueberarbeiten", "Bitte <b>konkreter</b>: Wer sitzt im Beirat?")
    assert asked.status_code == 200 and "Sie haben um eine Überarbeitung gebeten." in asked.text
    assert "Überarbeitung erbeten am" in asked.text and "wartet auf die Teilnehmer*in" in asked.text
    assert "Bitte &lt;b&gt;konkreter&lt;/b&gt;" in asked.text and "<b>konkreter" not in asked.text
    assert counts(app) == reviews.ReviewCounts(waiting=0, revision=1)
    assert "Keine Praxisaufgabe wartet auf Ihre Prüfung." in teacher.get("lehrende/praxis").text
    assert f"lernende/{uid}/praxis/modul-a" in teacher.get("lehrende/praxis?liste=ueberarbeitung").text
    with session_scope(app) as s:
        row = s.scalars(select(PracticeSubmission)).one()
        assert row.reviewed_at is None and row.revision_requested_at is not None

    # The learner sees the request with the feedback (escaped), and the text is open again.
    page = lea.get("m/modul-a/praxis").text
    assert "Ihre Lehrperson bittet Sie, Ihre Antwort zu überarbeiten" in page
    assert "Bitte &lt;b&gt;konkreter&lt;/b&gt;: Wer sitzt im Beirat?" in page and "<b>konkreter" not in page
    assert 'name="text"' in page and "Überarbeitete Antwort senden" in page
    assert "eine Lehrperson bittet Sie, sie zu überarbeiten" in lea.get("m/modul-a/").text
    gradebook = teacher.get("lehrende/").text.split("Lea Schneider</a>")[1].split("</tr>")[0]
    assert "Überarbeitung erbeten" in gradebook and "/praxis/modul-a" not in gradebook
    assert teacher.get("lehrende/?filter=zu-pruefen").text.count("Lea Schneider</a>") == 0
    revised = lea.post("m/modul-a/praxis", {"text": REVISED})
    assert revised.status_code == 200 and "Ihre überarbeitete Antwort ist gespeichert" in revised.text
    assert counts(app) == reviews.ReviewCounts(waiting=1, revision=0)
    assert "Ihre überarbeitete Antwort wartet auf die Prüfung" in lea.get("m/modul-a/praxis").text

    # The teacher reads the new text and the first round with the old text, then accepts.
    page = teacher.get(f"lehrende/lernende/{uid}/praxis/modul-a").text
    assert "Bisherige Prüfung" in page and "Runde 1: Überarbeitung erbeten" in page
    assert "Überarbeitet: Unser Klimabeirat" in page and "Der Text in Runde 1" in page
    assert "&lt;b&gt;gibt&lt;/b&gt;" in page  # round 1's text, escaped
    done = decide(teacher, uid, "annehmen", "Jetzt vollständig, danke.")
    assert done.status_code == 200 and "Ihre Prüfung wurde gespeichert." in done.text
    assert "angenommen am" in done.text and "Um Überarbeitung bitten" not in done.text
    assert counts(app) == reviews.ReviewCounts(waiting=0, revision=0)

    assert rounds(app) == [
        (1, "revision", TEXT, "Bitte <b>konkreter</b>: Wer sitzt im Beirat?", tid),
        (2, "accepted", REVISED, "Jetzt vollständig, danke.", tid),
    ]
    page = lea.get("m/modul-a/praxis").text
    assert "Eine Lehrperson hat die Antwort angenommen" in page and 'name="text"' not in page
    assert "Jetzt vollständig, danke." in page and "Die Prüfung bisher: 2 Runden" in page
    assert "Runde 1: Überarbeitung erbeten" in page and "Ihr Text in Runde 1" in page
    assert (
        lea.post("m/modul-a/praxis", {"text": "Noch einmal geändert, nach der Annahme."}).status_code == 409
    )


def test_an_accepted_answer_is_not_sent_back_and_a_changed_feedback_is_a_new_round(
    app: Flask, launcher: Launcher
) -> None:
    worked(app, launcher)
    teacher = launch_teacher(launcher)
    uid = user_id(app, "lea")
    assert decide(teacher, uid, "annehmen", "Gut.").status_code == 200
    before = snapshot(app), rounds(app)
    refused = decide(teacher, uid, "ueberarbeiten", "Doch noch etwas.")
    assert refused.status_code == 409
    assert "bereits angenommen" in refused.text and 'class="error-summary"' in refused.text
    assert (snapshot(app), rounds(app)) == before
    amended = decide(teacher, uid, "annehmen", "Gut, und danke für die Quelle.")
    assert amended.status_code == 200
    assert [(n, d, f) for n, d, _, f, _ in rounds(app)] == [
        (1, "accepted", "Gut."),
        (2, "accepted", "Gut, und danke für die Quelle."),
    ]


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"entscheidung": "loeschen"}, 422, "Bitte wählen Sie, ob Sie die Antwort annehmen"),
        ({"entscheidung": ""}, 422, "Bitte wählen Sie, ob Sie die Antwort annehmen"),
        ({"entscheidung": "\x00annehmen"}, 422, "Bitte wählen Sie, ob Sie die Antwort annehmen"),
        ({"entscheidung": None}, 422, "Bitte wählen Sie, ob Sie die Antwort annehmen"),
        ({"feedback": "\x00\x01\x02"}, 422, "Bitte schreiben Sie Ihre Rückmeldung"),
        ({"feedback": "ü" * (review_views.FEEDBACK_MAX + 1)}, 422, "Ihre Rückmeldung ist zu lang"),
        ({"stand": "\x00' OR 1=1 --"}, 409, "hat den Text geändert"),
        ({"stand": None}, 409, "hat den Text geändert"),
    ],
)
def test_garbage_in_any_field_of_the_review_is_refused_and_nothing_is_written(
    app: Flask, launcher: Launcher, form: dict[str, str | None], status: int, message: str
) -> None:
    worked(app, launcher)
    teacher = launch_teacher(launcher)
    uid = user_id(app, "lea")
    stand = review_form(teacher, uid)
    data = {"feedback": "Bitte überarbeiten.", "stand": stand, "entscheidung": "ueberarbeiten", **form}
    before = snapshot(app), rounds(app)
    page = teacher.post(
        f"lehrende/lernende/{uid}/praxis/modul-a", {k: v for k, v in data.items() if v is not None}
    )
    assert page.status_code == status
    assert message in page.text and 'class="error-summary"' in page.text and "Fehler:" in page.text
    assert (snapshot(app), rounds(app)) == before


def test_learner_other_context_and_missing_csrf_cannot_review(app: Flask, launcher: Launcher) -> None:
    lea = worked(app, launcher)
    uid = user_id(app, "lea")
    teacher = launch_teacher(launcher)
    stand = review_form(teacher, uid)
    form = {"feedback": "Bitte überarbeiten.", "stand": stand, "entscheidung": "ueberarbeiten"}
    before = snapshot(app), rounds(app)

    # The learner herself, with her own valid session and CSRF token.
    assert lea.post(f"lehrende/lernende/{uid}/praxis/modul-a", form).status_code == 403
    assert lea.get("lehrende/praxis").status_code == 403
    # A teacher of another course context of the same platform.
    other = launch_teacher(launcher, sub="teacher-2", **context_claim("course-2"))
    page = other.post(f"lehrende/lernende/{uid}/praxis/modul-a", form)
    assert page.status_code == 404 and "Diese Person gibt es in diesem Kurs nicht." in page.text
    assert "Keine Praxisaufgabe wartet auf Ihre Prüfung." in other.get("lehrende/praxis").text
    # The right teacher without the CSRF token.
    assert teacher.post(f"lehrende/lernende/{uid}/praxis/modul-a", form, csrf=False).status_code in (400, 403)
    assert (snapshot(app), rounds(app)) == before


def test_waiting_list_counts_learners_only_pages_and_survives_a_removed_module(
    app: Flask, launcher: Launcher
) -> None:
    teacher = launch_teacher(launcher)
    where = place(app)
    for n in range(55):
        add_learner(
            app,
            where,
            f"l{n:02d}",
            name=f"Lernende {n:02d}",
            practice={"modul-a": "Ein Text über unsere Kommune."},
        )
    add_learner(
        app,
        where,
        "done",
        name="Fertig",
        practice={"modul-a": "Ein Text über unsere Kommune."},
        reviewed=("modul-a",),
    )
    add_learner(app, where, "gone", name="Alt", practice={"modul-x": "Text eines entfernten Moduls"})
    # The teacher's own practice text is not one to review.
    assert teacher.post("m/modul-a/praxis", {"text": "Der Text der Lehrperson zum Ausprobieren."}).ok
    assert counts(app).waiting == 55  # neither the accepted one, the removed module's, nor the teacher's
    first = teacher.get("lehrende/praxis")
    assert first.status_code == 200 and "Seite 1 von 2" in first.text
    assert first.text.count('class="review-list__item"') == 50
    second = teacher.get("lehrende/praxis?seite=2")
    assert second.text.count('class="review-list__item"') == 5 and "Fertig" not in second.text
    for garbage in ("0", "-1", "abc", "99999999999", "\x00"):
        page = teacher.get("lehrende/praxis", params={"seite": garbage, "liste": garbage})
        assert page.status_code == 200, garbage
    with session_scope(app) as s:
        # the accepted text's review only: looking at the pages started none
        assert s.scalar(select(func.count()).select_from(PracticeReviewRound)) == 1

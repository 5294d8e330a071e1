"""`scripts/flask learner export | delete`: everything about one person of one platform, nothing about anyone else."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import ForeignKey, func, select

from lti_tool.db import session_scope
from lti_tool.gradebook.roster import Member
from lti_tool.models import (
    Base,
    Certificate,
    Context,
    GradeOutbox,
    PracticeSubmission,
    RosterEntry,
    ToolSession,
    User,
)
from lti_tool.privacy.learner_data import OWNED_BY_USER

from ..services import INSTRUCTOR_ROLE, add_to_roster, launch
from . import seed

MOODLE = "https://moodle.kreis-dueren.example"
OTHER_MOODLE = "https://moodle.stadt-aachen.example"


@pytest.fixture
def people(app: Flask) -> dict[str, seed.Seeded]:
    """Erika and Max in one course (Max reviewed Erika's first practice text); on another platform someone with
    Erika's sub; Erika also on the roster of a 2nd course she never opened (its teacher did)."""
    here = seed.platform(app, MOODLE)
    there = seed.platform(app, OTHER_MOODLE)
    max_ = seed.learner(app, here, "43", name="Max Muster")
    erika = seed.learner(app, here, "42", name="Erika Mustermann", reviewer_id=max_.user_id)
    namesake = seed.learner(app, there, "42", name="Erika Andere")
    unopened = launch(
        app,
        here.id,
        "teacher-kurs-43",
        context={"id": "kurs-43", "title": "Vertiefung"},
        link={"id": "vertiefung-1", "title": "Vertiefung"},
        roles=(INSTRUCTOR_ROLE,),
    )
    add_to_roster(app, unopened.context_id, Member("42", "Erika Mustermann", None, [], "Active", True))
    return {"erika": erika, "max": max_, "namesake": namesake}


def _counts(app: Flask, user_id: int) -> dict[str, int]:
    with session_scope(app) as s:
        counts = {
            m.__tablename__: s.scalar(
                select(func.count()).select_from(m).where(m.__table__.c.user_id == user_id)
            )
            or 0
            for m in OWNED_BY_USER
        }
        counts["lti_user"] = s.scalar(select(func.count()).select_from(User).where(User.id == user_id)) or 0
    return counts


def test_export_writes_everything_about_the_person_as_json(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded]
) -> None:
    erika = people["erika"]
    result = runner.invoke(args=["learner", "export", "--platform", MOODLE, "--sub", "42"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["platform"]["issuer"] == MOODLE
    assert data["user"]["sub"] == "42" and data["user"]["name"] == "Erika Mustermann"
    assert data["user"]["email"] == erika.email
    assert [c["title"] for c in data["contexts"]] == ["NaMa Grundlagen Düren", "Vertiefung"]
    assert len(data["roster_entry"]) == 2
    for table in (
        "membership",
        "link_launch",
        "tool_session",
        "lesson_visit",
        "quiz_attempt",
        "practice_submission",
        "module_progress",
        "course_progress",
        "certificate",
        "grade_outbox",
        "roster_entry",
    ):
        assert data[table], table
    assert data["quiz_attempt"][0]["answers"] == erika.answers  # module a, every question right
    assert data["practice_submission"][0]["text"] == erika.practice_text
    assert data["practice_submission"][0]["feedback"] == erika.feedback
    assert data["certificate"][0]["code"] == erika.certificate_code
    assert {r["state"] for r in data["grade_outbox"]} == {"sent", "failed"}
    assert "token_hash" not in data["tool_session"][0]  # a credential, not information about her
    assert all(r["user_id"] == erika.user_id for r in data["grade_outbox"])
    text = result.output
    assert "Max Muster" not in text and "Erika Andere" not in text and people["max"].practice_text not in text


def test_export_names_the_tasks_a_reviewer_reviewed_without_their_texts(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded]
) -> None:
    result = runner.invoke(args=["learner", "export", "--platform", MOODLE, "--sub", "43"])
    data = json.loads(result.output)
    assert len(data["practice_reviews_given"]) == 1
    assert people["erika"].practice_text not in result.output and "Erika" not in result.output


def test_export_to_a_file_only_the_owner_can_read(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded], tmp_path: Path
) -> None:
    out = tmp_path / "erika.json"
    result = runner.invoke(
        args=[
            "learner",
            "export",
            "--platform",
            str(people["erika"].platform_id),
            "--sub",
            "42",
            "--output",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["user"]["sub"] == "42"
    assert os.stat(out).st_mode & 0o777 == 0o600


def test_delete_removes_everything_in_one_go_and_says_what(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded]
) -> None:
    erika, max_, namesake = people["erika"], people["max"], people["namesake"]
    before_max, before_namesake = _counts(app, max_.user_id), _counts(app, namesake.user_id)
    result = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "42", "--yes"])
    assert result.exit_code == 0, result.output
    assert "certificate: 1" in result.output and "quiz_attempt: 2" in result.output  # one a module
    assert (
        "grade_outbox: 2" in result.output
        and "roster_entry: 2" in result.output
        and "lti_user: 1" in result.output
    )
    assert all(n == 0 for n in _counts(app, erika.user_id).values())
    assert _counts(app, max_.user_id) == before_max
    assert _counts(app, namesake.user_id) == before_namesake
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(RosterEntry).where(RosterEntry.sub == "42")) == 1
        assert s.scalar(select(func.count()).select_from(Certificate)) == 2
        assert s.scalar(select(func.count()).select_from(GradeOutbox)) == 4
    client = app.test_client()
    assert client.get(f"/verify/{erika.certificate_code}").status_code == 404
    assert client.get(f"/verify/{max_.certificate_code}").status_code == 200
    assert client.get(f"/s/{erika.session_token}/").status_code == 401


def test_deleting_a_reviewer_keeps_the_tasks_they_reviewed(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded]
) -> None:
    result = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "43", "--yes"])
    assert result.exit_code == 0 and "reviewer links removed" in result.output
    with session_scope(app) as s:
        task = s.scalars(
            select(PracticeSubmission).where(
                PracticeSubmission.user_id == people["erika"].user_id,
                PracticeSubmission.module_id == "modul-a",
            )
        ).one()
        assert task.reviewer_id is None and task.text == people["erika"].practice_text


def test_delete_asks_first_and_warns_about_certificates(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded]
) -> None:
    declined = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "42"], input="n\n")
    assert declined.exit_code != 0
    assert "certificate" in declined.output and "not found" in declined.output
    assert "quiz_attempt: 2" in declined.output
    assert _counts(app, people["erika"].user_id)["lti_user"] == 1
    accepted = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "42"], input="y\n")
    assert accepted.exit_code == 0 and _counts(app, people["erika"].user_id)["lti_user"] == 0


def test_selectors_that_match_no_one_or_more_than_one_platform(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded]
) -> None:
    unknown = runner.invoke(args=["learner", "export", "--platform", MOODLE, "--sub", "999"])
    assert unknown.exit_code != 0 and "no person with sub '999'" in unknown.output
    no_platform = runner.invoke(
        args=["learner", "delete", "--platform", "https://nowhere.example", "--sub", "42"]
    )
    assert no_platform.exit_code != 0 and "no platform" in no_platform.output
    seed.learner(app, seed.platform(app, MOODLE, client_id="client-2"), "42", name="Erika Mustermann")
    ambiguous = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "42", "--yes"])
    assert ambiguous.exit_code != 0 and "--client-id" in ambiguous.output
    chosen = runner.invoke(
        args=["learner", "delete", "--platform", MOODLE, "--client-id", "client-2", "--sub", "42", "--yes"]
    )
    assert chosen.exit_code == 0, chosen.output
    assert _counts(app, people["erika"].user_id)["lti_user"] == 1


def test_a_person_known_only_from_the_participant_list_is_found_exported_and_deleted(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded]
) -> None:
    """Enrolled in the LMS course, listed by NRPS, never launched: no user row, but a name and an e-mail."""
    with session_scope(app) as s:
        context_id = s.scalars(select(Context.id).where(Context.context_id == "kurs-43")).one()
    add_to_roster(
        app, context_id, Member("77", "Nie Gestartet", "nie@example.org", ["Learner"], "Active", True)
    )
    exported = runner.invoke(args=["learner", "export", "--platform", MOODLE, "--sub", "77"])
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported.output)
    assert data["sub"] == "77" and data["user"] is None
    assert [(r["name"], r["email"]) for r in data["roster_entry"]] == [("Nie Gestartet", "nie@example.org")]
    assert [c["title"] for c in data["contexts"]] == ["Vertiefung"]
    assert data["quiz_attempt"] == [] and data["practice_reviews_given"] == []

    asked = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "77"], input="n\n")
    assert asked.exit_code != 0 and "roster_entry: 1" in asked.output
    deleted = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "77", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert "roster_entry: 1" in deleted.output and "lti_user: 0" in deleted.output
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(RosterEntry).where(RosterEntry.sub == "77")) == 0
        assert s.scalar(select(func.count()).select_from(RosterEntry).where(RosterEntry.sub == "42")) == 3
    again = runner.invoke(args=["learner", "export", "--platform", MOODLE, "--sub", "77"])
    assert again.exit_code != 0 and "no person with sub '77'" in again.output
    assert "their data was deleted on 20" in again.output
    never = runner.invoke(args=["learner", "export", "--platform", MOODLE, "--sub", "78"])
    assert never.exit_code != 0 and "deleted" not in never.output


def test_deleted_text_is_gone_from_the_sqlite_file_and_its_write_ahead_log(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded], database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite files; PostgreSQL keeps dead rows until VACUUM (README)")
    erika = people["erika"]
    database = Path(database_url.removeprefix("sqlite:///"))
    wal = database.with_name(database.name + "-wal")
    # Hers alone (her e-mail address is also the namesake's on the other platform: the seed makes it from the sub).
    traces = [erika.practice_text, erika.feedback, "Erika Mustermann", erika.certificate_code]

    def stored() -> bytes:
        return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    before = stored()
    assert all(t.encode() in before for t in traces)  # the check below can see what it looks for
    result = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "42", "--yes"])
    assert result.exit_code == 0, result.output
    assert not wal.exists() or wal.stat().st_size == 0
    after = stored()
    assert [t for t in traces if t.encode() in after] == []
    assert people["max"].practice_text.encode() in after and b"Erika Andere" in after


def test_every_table_pointing_at_a_user_is_exported_and_deleted() -> None:
    """A table added later with a user_id must be added to OWNED_BY_USER (or this test says why not)."""
    owned = {m.__tablename__ for m in OWNED_BY_USER}
    pointing = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        for fk in column.foreign_keys
        if isinstance(fk, ForeignKey) and fk.column.table.name == "lti_user"
    }
    unlinked_only = {
        ("practice_submission", "reviewer_id"),
        ("practice_review_round", "reviewer_id"),
        ("practice_submission", "hidden_by"),
        ("exchange_reply", "hidden_by"),
    }
    # Exported and deleted by the person's LMS user id, as the roster's entries (also rows without a user):
    # tests/gradebook/test_listed.py deletes a learner and finds none of their rows.
    by_sub = {("listed_learner", "user_id")}
    assert {name for name, column in pointing - unlinked_only - by_sub} <= owned
    assert ToolSession.__tablename__ in owned


def _review_rounds(app: Flask, people: dict[str, seed.Seeded]) -> None:
    """Max reviews Erika's second practice text (module b, not reviewed yet) twice through the service: a
    revision, then the acceptance."""
    from lti_tool import progress
    from lti_tool.course.catalog import get_catalog
    from lti_tool.models import ReviewDecision

    course = get_catalog(app).get("grundlagenkurs")
    assert course is not None
    module = course.module("modul-b")
    assert module is not None
    erika = people["erika"]
    owner = progress.Learner(erika.user_id, erika.context_id, erika.platform_id)
    for decision, feedback in (
        (ReviewDecision.REVISION, "Runde eins"),
        (ReviewDecision.ACCEPTED, "Runde zwei"),
    ):
        with session_scope(app, write=True) as s:
            progress.review_practice(
                s,
                owner,
                course,
                module,
                reviewer_id=people["max"].user_id,
                feedback=feedback,
                decision=decision,
            )


def test_review_rounds_are_exported_and_deleted_with_the_learner_and_unlinked_from_the_reviewer(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded]
) -> None:
    from lti_tool.models import PracticeReviewRound

    _review_rounds(app, people)
    erika = json.loads(runner.invoke(args=["learner", "export", "--platform", MOODLE, "--sub", "42"]).output)
    assert [(r["number"], r["decision"], r["feedback"]) for r in erika["practice_review_round"]] == [
        (1, "accepted", people["erika"].feedback),  # module a, when the seed built her
        (1, "revision", "Runde eins"),
        (2, "accepted", "Runde zwei"),
    ]
    assert erika["practice_review_round"][0]["text"] == people["erika"].practice_text
    assert erika["practice_review_round"][0]["module_title"]  # readable: the module named
    reviewer = runner.invoke(args=["learner", "export", "--platform", MOODLE, "--sub", "43"]).output
    given = json.loads(reviewer)["practice_review_rounds_given"]
    assert [(r["number"], r["decision"]) for r in given] == [
        (1, "accepted"),
        (1, "revision"),
        (2, "accepted"),
    ]
    assert people["erika"].practice_text not in reviewer and "Runde eins" not in reviewer

    deleted = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "43", "--yes"])
    # her two texts and the three rounds
    assert deleted.exit_code == 0 and "reviewer links removed (others' tasks kept): 5" in deleted.output
    hers = PracticeReviewRound.user_id == people["erika"].user_id
    with session_scope(app) as s:
        assert s.scalars(select(PracticeReviewRound.reviewer_id).where(hers)).all() == [None, None, None]
    deleted = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "42", "--yes"])
    assert deleted.exit_code == 0 and "practice_review_round: 3" in deleted.output
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(PracticeReviewRound).where(hers)) == 0


def test_exchange_posts_are_exported_and_deleted_with_their_answer_and_author(
    app: Flask, runner: FlaskCliRunner, people: dict[str, seed.Seeded]
) -> None:
    """Max replies to Erika's answer and she to his; she shows her municipality; Max (as an instructor) hides her
    answer. Her export holds her reply and municipality, not his text. Deleting Max deletes his reply and the
    replies to his answer (hers too: a reply goes with its answer) and leaves her answer hidden without naming
    him; deleting Erika deletes her municipality."""
    from lti_tool import exchange, progress
    from lti_tool.course.catalog import get_catalog
    from lti_tool.models import ExchangeProfile, ExchangeReply

    course = get_catalog(app).get("grundlagenkurs")
    assert course is not None
    module = course.module("modul-a")
    assert module is not None
    erika, max_ = people["erika"], people["max"]
    as_erika = progress.Learner(erika.user_id, erika.context_id, erika.platform_id)
    as_max = progress.Learner(max_.user_id, max_.context_id, max_.platform_id)
    with session_scope(app, write=True) as s:
        answers = {
            row.user_id: row.id
            for row in s.execute(
                select(PracticeSubmission.user_id, PracticeSubmission.id).where(
                    PracticeSubmission.module_id == "modul-a"
                )
            )
        }
        exchange.add_reply(s, as_max, course, module, answers[erika.user_id], "Max antwortet Erika.")
        exchange.add_reply(s, as_erika, course, module, answers[max_.user_id], "Erika antwortet Max.")
        exchange.set_municipality(s, as_erika, "Kreis Düren")
        exchange.set_hidden(
            s,
            context_id=erika.context_id,
            course=course,
            module=module,
            kind="answer",
            post_id=answers[erika.user_id],
            instructor_id=max_.user_id,
            reason="Test",
            hidden=True,
        )
    data = json.loads(runner.invoke(args=["learner", "export", "--platform", MOODLE, "--sub", "42"]).output)
    assert [r["text"] for r in data["exchange_reply"]] == ["Erika antwortet Max."]
    assert [r["municipality"] for r in data["exchange_profile"]] == ["Kreis Düren"]
    assert "Max antwortet Erika." not in json.dumps(data)

    deleted = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "43", "--yes"])
    assert deleted.exit_code == 0 and "exchange_reply: 2" in deleted.output, deleted.output
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(ExchangeReply)) == 0
        hers = s.get_one(PracticeSubmission, answers[erika.user_id])
        assert (hers.hidden_by, hers.hidden_reason) == (None, "Test") and hers.hidden_at is not None
    deleted = runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "42", "--yes"])
    assert deleted.exit_code == 0 and "exchange_profile: 1" in deleted.output
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(ExchangeProfile)) == 0

"""Who the gradebook lists (`ListedLearner`), kept where launches, roster refreshes and deletions change it: after
each step the gradebook shows the people and names the rules give, and the stored rows are exactly what a rebuild
from the roster, users and memberships gives (`rebuild-summary --check`); deleting a learner deletes their rows."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.gradebook import listed
from lti_tool.gradebook.roster import Member, store_roster
from lti_tool.gradebook.summary import differences
from lti_tool.models import Context, ListedLearner, utcnow

from ..peer import Launcher
from ..services import INSTRUCTOR_ROLE, LEARNER_ROLE, add_to_roster, launch
from .conftest import launch_teacher, listed_names, place


def rows(app: Flask) -> dict[tuple[int, str], tuple[int | None, str | None, str | None]]:
    with session_scope(app) as s:
        assert differences(s) == []  # live = rebuild
        return {
            (r.context_id, r.sub): (r.user_id, r.name, r.roster_status)
            for r in s.scalars(select(ListedLearner))
        }


def test_launches_roster_refreshes_and_deletions_keep_the_list(app: Flask, launcher: Launcher) -> None:
    teacher = launch_teacher(launcher)
    where = place(app)
    with session_scope(app) as s:
        context = s.get_one(Context, where.context_id)
        deployment_pk = context.deployment_id
        here = {"id": context.context_id, "title": context.title, "label": context.label}
    activity = {"id": "kurs-1", "title": "Grundlagenkurs"}
    elsewhere = {"id": "course-2", "title": "Anderer Kurs", "label": "K2"}

    def learner(sub: str, name: str | None, **values: str) -> Member:
        return Member(sub, name, values.get("email"), [LEARNER_ROLE], values.get("status", "Active"), True)

    add_to_roster(
        app,
        where.context_id,
        learner("rosa", "Rosa Roster", email="rosa@example.org"),
        learner("anne", "Anne im Verzeichnis", status="Inactive"),
        Member("tutor", "Theo Tutor", None, [INSTRUCTOR_ROLE], "Active", False),
    )
    assert listed_names(teacher.get("lehrende/").text) == ["Anne im Verzeichnis", "Rosa Roster"]
    assert rows(app)[(where.context_id, "rosa")] == (None, "Rosa Roster", "Active")

    # Anne launches: her launch's name before the roster's, sorted without its accent; Ben (not in the roster) too.
    anne = launch(app, deployment_pk, "anne", context=here, link=activity, name="Änne Launch").user_id
    launch(app, deployment_pk, "ben", context=here, link=activity, name="Ben Neu")
    assert listed_names(teacher.get("lehrende/").text) == ["Änne Launch", "Ben Neu", "Rosa Roster"]
    assert rows(app)[(where.context_id, "anne")] == (anne, "Änne Launch", "Inactive")

    # Anne in another course context of the platform, under a new name: both gradebooks name her so.
    launch(app, deployment_pk, "anne", context=elsewhere, link={"id": "kurs-2"}, name="Anne Zweit")
    listed = rows(app)
    assert listed[(where.context_id, "anne")][1] == "Anne Zweit"
    assert sum(1 for context_id, sub in listed if sub == "anne") == 2

    # Rosa launches without any name claim (Moodle with its privacy settings off): the roster's name stays.
    rosa = launch(app, deployment_pk, "rosa", context=here, link=activity).user_id
    assert rows(app)[(where.context_id, "rosa")] == (rosa, "Rosa Roster", "Active")

    # Ben launches here as a teacher: no longer listed here.
    launch(app, deployment_pk, "ben", context=here, link=activity, roles=(INSTRUCTOR_ROLE,), name="Ben Neu")
    assert listed_names(teacher.get("lehrende/").text) == ["Anne Zweit", "Rosa Roster"]

    # A refresh without Rosa and Anne: Rosa launched, so she stays (nameless now: her launch sent no name);
    # Anne stays, now out of the participant list.
    with session_scope(app, write=True) as s:
        store_roster(s, where.context_id, [learner("neu", None)], utcnow())
    listed = rows(app)
    assert listed[(where.context_id, "rosa")] == (rosa, None, None)
    assert listed[(where.context_id, "anne")] == (anne, "Anne Zweit", None)
    nameless = [f"Teilnehmer*in ohne Namen (Kennung {sub} in der Lernplattform)" for sub in ("neu", "rosa")]
    assert listed_names(teacher.get("lehrende/").text) == ["Anne Zweit", *nameless]

    # Deleting Anne (`learner delete`) deletes her rows in both contexts.
    runner = app.test_cli_runner()
    deleted = runner.invoke(
        args=["learner", "delete", "--platform", launcher.peer.issuer, "--sub", "anne", "--yes"]
    )
    assert deleted.exit_code == 0, deleted.output
    assert [key for key in rows(app) if key[1] == "anne"] == []
    assert listed_names(teacher.get("lehrende/").text) == nameless


def test_a_roster_refresh_that_missed_a_launch_keeps_the_launched_row(app: Flask, launcher: Launcher) -> None:
    """On PostgreSQL a roster refresh reads the memberships before it writes; a launch committed in between is
    not in what it read. Played here in that order: what the refresh read (Rosa on the roster only), Rosa's
    launch, then the refresh's write: Rosa's row stays the launch's."""
    launch_teacher(launcher)
    where = place(app)
    with session_scope(app) as s:
        context = s.get_one(Context, where.context_id)
        deployment_pk = context.deployment_id
        here = {"id": context.context_id, "title": context.title, "label": context.label}
    add_to_roster(app, where.context_id, Member("rosa", "Rosa Roster", None, [LEARNER_ROLE], "Active", True))
    with session_scope(app) as s:
        read_by_refresh = listed._source(s, context_id=where.context_id, platform_id=None, sub=None)
    rosa = launch(app, deployment_pk, "rosa", context=here, link={"id": "kurs-1"}, name="Rosa Launch").user_id
    with session_scope(app, write=True) as s:
        listed._write(
            s,
            read_by_refresh,
            utcnow(),
            [ListedLearner.context_id == where.context_id, ListedLearner.user_id.is_(None)],
            keep_launched=True,
        )
    with session_scope(app) as s:
        row = s.scalars(select(ListedLearner).where(ListedLearner.sub == "rosa")).one()
        assert (row.user_id, row.name) == (rosa, "Rosa Launch")
        assert differences(s) == []

"""Migration 0021 on a database holding names, e-mail addresses and titles stored before 78a71b1 with bidirectional
overrides and isolates in them (as launches and roster refreshes stored them then): they are cleaned as a launch
cleans them now, the gradebook's copies (listed_learner) follow, marks that override nothing (RLM) stay, issued
certificates are left as they are; down and up again. SQLite always; PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from lti_tool.gradebook.summary import differences, rebuild
from lti_tool.models import Certificate, Context, ListedLearner, ResourceLink, RosterEntry, User

from ..migrations import downgrade, previous_revision, session, upgrade_to_head

AT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
RLO, PDF, LRI, PDI, RLM = "\u202e", "\u202c", "\u2066", "\u2069", "\u200f"


def _old_rows(url: str) -> None:
    with previous_revision(url, "0020") as old:
        old.course(AT, users=(1, 2, 3, 4))
        old.link(AT, None)
        users = old.tables["lti_user"]
        for user_id, values in {
            1: {"name": f"Lea {RLO}reidiemhcS", "given_name": "Lea", "family_name": f"{RLO}reidiemhcS{PDF}",
                "email": f"lea{LRI}@example.org{PDI}"},
            2: {"name": RLO, "given_name": "Jonas", "family_name": f"Becker{RLO}"},  # nothing but an override
            3: {"name": f"Aylin{RLM} Demir", "email": "aylin@example.org"},  # a mark, no override: kept
        }.items():  # fmt: skip
            old.conn.execute(users.update().where(users.c.id == user_id).values(**values))
        member = {"context_id": 1, "roles": ["Learner"], "is_instructor": False, "created_at": AT,
                  "last_launch_at": AT}  # fmt: skip
        old.insert("membership", *({"id": n, "user_id": n, **member} for n in (1, 2, 3, 4)))
        roster = {
            "context_id": 1,
            "roles": ["Learner"],
            "is_learner": True,
            "status": "Active",
            "fetched_at": AT,
        }
        old.insert(
            "roster_entry",
            {"id": 1, "sub": "u4", "name": f"Mu{RLO}tar", "email": f"{RLO}murat@example.org", **roster},
            {"id": 2, "sub": "r9", "name": f"{LRI}{PDI}", "email": None, **roster},  # roster only, nothing left
        )  # fmt: skip
        contexts, links = old.tables["context"], old.tables["resource_link"]
        old.conn.execute(contexts.update().values(title=f"Kurs {RLO}1", label=f"{RLO}"))
        old.conn.execute(links.update().values(title=f"Grund{LRI}lagen{PDI}"))
        old.insert(
            "certificate",
            {"id": 1, "code": "ABCD-EFGH-JKLM", "user_id": 1, "context_id": 1, "course_id": "grundlagenkurs",
             "holder_name": f"Lea {RLO}reidiemhcS", "course_title": "Grundlagenkurs", "issuer_name": "LAG 21 NRW",
             "modules": [], "completed_at": AT, "issued_at": AT},
        )  # fmt: skip
    with session(url) as s:  # the gradebook's list as the previous code wrote it (with the overrides)
        rebuild(s)
        s.commit()
        assert RLO in (s.scalars(select(ListedLearner.name).where(ListedLearner.sub == "u1")).one() or "")


def _assert_cleaned(url: str) -> None:
    with session(url) as s:
        people = {u.sub: u for u in s.scalars(select(User))}
        assert (people["u1"].name, people["u1"].family_name, people["u1"].email) == (
            "Lea reidiemhcS",
            "reidiemhcS",
            "lea@example.org",
        )
        assert (people["u2"].name, people["u2"].family_name) == (None, "Becker")
        assert people["u3"].name == f"Aylin{RLM} Demir"
        roster = {r.sub: r for r in s.scalars(select(RosterEntry))}
        assert (roster["u4"].name, roster["u4"].email) == ("Mutar", "murat@example.org")
        assert roster["r9"].name is None
        assert s.scalars(select(Context.title)).one() == "Kurs 1"
        assert s.scalars(select(Context.label)).one() == ""
        assert s.scalars(select(ResourceLink.title)).one() == "Grundlagen"
        listed = {row.sub: row for row in s.scalars(select(ListedLearner).order_by(ListedLearner.sort_key))}
        assert [(row.sub, row.name, row.email) for row in listed.values()] == [
            ("u3", f"Aylin{RLM} Demir", "aylin@example.org"),
            ("u2", "Jonas Becker", None),  # the override was the whole name: given and family name now
            ("u1", "Lea reidiemhcS", "lea@example.org"),
            ("u4", "Mutar", "murat@example.org"),
            ("r9", None, None),
        ]
        assert differences(s) == []  # what a rebuild computes from the cleaned rows
        assert s.scalars(select(Certificate.holder_name)).one() == f"Lea {RLO}reidiemhcS"  # as issued


def test_names_stored_before_78a71b1_lose_their_bidi_controls(empty_database: str) -> None:
    _old_rows(empty_database)
    upgrade_to_head(empty_database)
    _assert_cleaned(empty_database)
    assert "listed_learner" in downgrade(
        empty_database, "0020"
    )  # nothing to undo: the way down keeps the rows
    _assert_cleaned(empty_database)
    upgrade_to_head(empty_database)
    _assert_cleaned(empty_database)

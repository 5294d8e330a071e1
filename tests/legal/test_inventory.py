"""The data inventory the privacy notice is made from: every table and column of the models declares its
personal data with a purpose, the check catches one that does not, and what is declared holds (the claims a
launch stores, the settings a retention rule names, the fields sent to the platform)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lti_tool.db import session_scope
from lti_tool.grading.ags import lineitem_body
from lti_tool.legal import notice
from lti_tool.legal.inventory import (
    PERSON,
    RETENTION_SETTINGS,
    Audience,
    NoPersonalData,
    PersonalData,
    Retention,
    SourceKind,
    Subject,
    group,
    launch,
    problems,
    tables,
)
from lti_tool.models import Base, User

from ..peer import Launcher

ROOT = Path(__file__).resolve().parent.parent.parent


def test_every_table_and_column_of_the_models_is_declared() -> None:
    assert problems(Base) == []
    names = {t.name for t in tables(Base)}
    assert names == set(Base.metadata.tables), "a model without a declaration is left out of the notice"
    personal = {t.name for t in tables(Base) if t.personal is not None}
    assert {"lti_user", "quiz_attempt", "practice_submission", "certificate", "roster_entry"} <= personal


def _scratch_models() -> type[Any]:
    """Models as a developer might add them: each breaks the rule in another way."""

    class Scratch(DeclarativeBase):
        pass

    class Person(Scratch):
        __tablename__ = "lti_user"
        __data__ = PersonalData(
            "People",
            frozenset({Subject.PARTICIPANT}),
            (group("email", "e-mail", "to write to people", launch("email"), (Audience.INSTRUCTOR,)),),
            Retention.UNTIL_DELETED,
        )
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(String(100))
        phone: Mapped[str] = mapped_column(String(40))  # new, no purpose

    class Note(Scratch):  # says it holds nothing personal, but points at a person
        __tablename__ = "note"
        __data__ = NoPersonalData("Notes")
        id: Mapped[int] = mapped_column(primary_key=True)
        author_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id"))

    class Badge(Scratch):  # declares nothing
        __tablename__ = "badge"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Visit(Scratch):  # a group without audience, and a column listed twice
        __tablename__ = "visit"
        __data__ = PersonalData(
            "Visits",
            frozenset({Subject.PARTICIPANT}),
            (
                group("when", "when", "to count", PERSON, ()),
                group("when", "when again", "to count twice", PERSON, (Audience.LEARNER,)),
            ),
            Retention.UNTIL_DELETED,
        )
        id: Mapped[int] = mapped_column(primary_key=True)
        when: Mapped[dt.datetime]

    return Scratch


def test_the_check_fails_for_a_personal_column_without_a_purpose() -> None:
    found = "\n".join(problems(_scratch_models()))
    assert "Person.phone has no declared purpose" in found
    assert "Note.author_id looks like personal data" in found
    assert "Badge (badge) declares nothing" in found
    assert "Visit ('when',): a group needs who sees the data" in found
    assert "Visit.__data__ names when 2 times" in found


def test_every_claim_declared_as_a_source_is_one_the_launch_stores(app: Flask, launcher: Launcher) -> None:
    """The declarations say which launch claims fill which columns: a launch with those claims fills them."""
    launcher.launch_and_follow(
        sub="decl-1", name="Ada Muster", given_name="Ada", family_name="Muster", email="ada@example.org"
    )
    with session_scope(app) as s:
        user = s.scalars(select(User).where(User.sub == "decl-1")).one()
    sent = {
        "sub": "decl-1",
        "name": "Ada Muster",
        "given_name": "Ada",
        "family_name": "Muster",
        "email": "ada@example.org",
    }
    declared = User.__data__
    assert isinstance(declared, PersonalData)
    for g in declared.groups:
        for claim, column in zip(g.source.fields, g.columns, strict=False):
            assert getattr(user, column) == sent[claim], (claim, column)
    declared_claims = {
        claim
        for t in tables(Base)
        if t.personal is not None
        for g in t.personal.groups
        if g.source.kind == SourceKind.LAUNCH
        for claim in g.source.fields
    }
    assert declared_claims == {short for short, _full in notice.launch_claims_kept()}  # none left unnamed
    provision = (ROOT / "lti_tool" / "lti" / "provision.py").read_text()
    for short, full in notice.launch_claims_kept():
        assert (
            f'"{short}"' in provision or f'LTI + "{short}"' in provision or f'DL + "{short}"' in provision
        ), short
        assert full.endswith(short)


def test_every_roster_field_declared_is_read_from_the_member_list() -> None:
    roster = (ROOT / "lti_tool" / "gradebook" / "roster.py").read_text()
    for field in notice.roster_fields_kept():
        assert f'"{field}"' in roster, field


def test_retention_rules_name_settings_that_exist(app: Flask) -> None:
    for rule, names in RETENTION_SETTINGS.items():
        for name in names:
            assert name in app.config, (rule, name)


def test_what_is_sent_to_the_platform_is_read_from_the_code() -> None:
    assert notice.score_fields() == [
        "userId",
        "scoreGiven",
        "scoreMaximum",
        "activityProgress",
        "gradingProgress",
        "timestamp",
        "comment",
    ]
    assert notice.lineitem_fields() == list(lineitem_body(resource_id="m", tag="c", label="1. M"))

"""Upgrade tests: a database at an earlier revision holding rows written as that revision's code wrote them, the
upgrade under test, the schema compared with the models, and the way down and up again.

Old rows go in as SQL on the tables reflected from the database, never through today's models: the models describe
the newest schema, and an upgrade test is about data the previous one held."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, Table, create_engine, inspect
from sqlalchemy.orm import Session

from lti_tool.db import alembic_config, upgrade
from lti_tool.models import Base

LINK_ITEM = "https://lms.example/mod/lti/services.php/k/lineitems/1/lineitem?type_id=1"
MODULE_ITEM = "https://lms.example/mod/lti/services.php/k/lineitems/7/lineitem?type_id=1"


def _declared_in_models(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """The register search's indexes for one database (migrations register_search_index, register_search_scan:
    PostgreSQL's trigram indexes, `_trgm`, SQLite's covering index, `_scan`) live only in the migrations: the
    models build both databases, and PostgreSQL's need an extension."""
    migration_only = (name or "").endswith(("_trgm", "_scan"))
    return not (type_ == "index" and reflected and compare_to is None and migration_only)


def schema_diff(url: str) -> list[object]:
    """What differs between the database's schema and the models (empty when a migration matches them)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _declared_in_models})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


@dataclass
class PreviousRevision:
    """A database at an earlier revision, open for writing in one transaction."""

    conn: Connection
    tables: Mapping[str, Table]

    def columns(self, table: str) -> set[str]:
        return set(self.tables[table].c.keys())

    def insert(self, table: str, *rows: Mapping[str, object]) -> None:
        """Rows in the order given; a column a row leaves out gets its default (so rows may name other columns)."""
        for row in rows:
            self.conn.execute(self.tables[table].insert().values(dict(row)))

    def platform(self, at: dt.datetime, n: int = 1, **values: object) -> None:
        """Platform `n`, registered from the command line."""
        self.insert(
            "platform",
            {
                "id": n,
                "issuer": f"https://lms{n}.example",
                "client_id": "c",
                "name": f"LMS {n}",
                "auth_login_url": "https://lms.example/a",
                "auth_token_url": "https://lms.example/t",
                "jwks_url": "https://lms.example/j",
                "registered_via": "cli",
                "created_at": at,
                **values,
            },
        )

    def course(self, at: dt.datetime, n: int = 1, users: Iterable[int] = (1,)) -> None:
        """Platform `n` with its active deployment `n` and course context `n`, and the platform's `users`."""
        self.platform(at, n)
        self.insert(
            "deployment", {"id": n, "platform_id": n, "deployment_id": "d", "active": True, "created_at": at}
        )
        self.insert(
            "context",
            {"id": n, "deployment_id": n, "context_id": "k", "title": "Kurs", "label": "K", "created_at": at,
             "updated_at": at},
        )  # fmt: skip
        self.insert(
            "lti_user", *({"id": u, "platform_id": n, "sub": f"u{u}", "created_at": at} for u in users)
        )

    def link(self, at: dt.datetime, lineitem_url: str | None, n: int = 1) -> None:
        """Resource link `n` of the Grundlagenkurs in context `n`, with the line item the platform gave it."""
        self.insert(
            "resource_link",
            {"id": n, "deployment_id": n, "context_id": n, "resource_link_id": str(n), "title": "Grundlagenkurs",
             "course_id": "grundlagenkurs", "lineitem_url": lineitem_url, "created_at": at, "updated_at": at},
        )  # fmt: skip


def outbox_row(
    n: int,
    at: dt.datetime,
    target: str,
    state: str,
    score: Mapping[str, object] | None = None,
    **values: object,
) -> dict[str, object]:
    """Grade `n` of learner 1 in context 1 as the outbox held it before the destination had a column: `target` names
    the course's resource link 1 (`course:…@link:1`) or a module's line item (`module:…@lineitems`); the score is
    stamped `n` seconds after `at`."""
    module = target.startswith("module:")
    stamp = (at + dt.timedelta(seconds=n)).isoformat(timespec="microseconds")
    user_id = values.get("user_id", 1)
    row: dict[str, object] = {
        "id": n,
        "platform_id": 1,
        "user_id": user_id,
        "context_id": 1,
        "resource_link_id": None if module else 1,
        "target": target,
        "lineitem_url": MODULE_ITEM if module else LINK_ITEM,
        "payload": {"userId": f"u{user_id}", "scoreGiven": 50.0, "timestamp": stamp, **(score or {})},
        "score_timestamp": stamp,
        "state": state,
        "attempts": 0,
        "restamps": 0,
        "next_attempt_at": at,
        "created_at": at,
        "course_id": "grundlagenkurs",
        "module_id": target.split("/")[1].split("@")[0] if module else None,
    }
    return row | values


@contextmanager
def previous_revision(url: str, revision: str) -> Iterator[PreviousRevision]:
    """Migrate the empty database at `url` up to `revision` and write its rows in one transaction."""
    command.upgrade(alembic_config(url), revision)
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.begin() as conn:
            yield PreviousRevision(conn, meta.tables)
    finally:
        engine.dispose()


def upgrade_to_head(url: str) -> None:
    """The upgrade an operator runs; afterwards the schema is the models'."""
    upgrade(url)
    assert schema_diff(url) == []


@contextmanager
def session(url: str) -> Iterator[Session]:
    """A session on the upgraded database, as the tool's code would use it."""
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            yield s
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> dict[str, set[str]]:
    """Migrate down to `revision`; the tables left, each with its columns."""
    command.downgrade(alembic_config(url), revision)
    engine = create_engine(url)
    try:
        schema = inspect(engine)
        return {table: {c["name"] for c in schema.get_columns(table)} for table in schema.get_table_names()}
    finally:
        engine.dispose()


def write_practice_answers(old: PreviousRevision, submitted: dt.datetime, changed: dt.datetime,
                           reviewed: dt.datetime) -> None:  # fmt: skip
    """Learners 1-3 in course context 1; learner 1 answered modules a and b, both reviewed by learner 3 (b without
    written feedback), learner 2 module a, not reviewed yet."""
    old.course(submitted, users=(1, 2, 3))

    def answer(
        n: int, user_id: int, module_id: str, feedback: str | None, was_reviewed: bool
    ) -> dict[str, object]:
        return {"id": n, "user_id": user_id, "context_id": 1, "course_id": "grundlagenkurs", "module_id": module_id,
                "text": f"Text {n} <mit> Zeichen & so", "submitted_at": submitted, "updated_at": changed,
                "reviewed_at": reviewed if was_reviewed else None, "reviewer_id": 3 if was_reviewed else None,
                "feedback": feedback}  # fmt: skip

    old.insert(
        "practice_submission",
        answer(1, 1, "modul-a", "Gut begründet.", True),
        answer(2, 1, "modul-b", None, True),
        answer(3, 2, "modul-a", None, False),
    )

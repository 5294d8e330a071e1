"""trigram indexes for the certification register's search on PostgreSQL (name, e-mail, certificate holder)

The register's search is "contains, case-insensitive" (ILIKE '%…%'), which no B-tree index serves: at 50,000
completions a broad name search scanned every learner and every certificate. PostgreSQL's pg_trgm extension
(shipped with PostgreSQL, a trusted extension since version 13, so a database owner may create it) gives GIN
indexes that ILIKE uses. Where the extension cannot be created (a role without the CREATE privilege on the
database), the migration leaves the search as it was and says so: the register still works, only its broad
searches are slower. SQLite: nothing to do (its search scans in-process; see lti_tool/register/entries.py).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 13:30:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

# The same expression the search filters on (lti_tool/register/search.py `learner_matches`): PostgreSQL uses an
# expression index only for the identical expression.
FULL_NAME = "COALESCE(name, CAST(COALESCE(given_name, '') || ' ' || COALESCE(family_name, '') AS VARCHAR))"
INDEXES = {
    "ix_lti_user_name_trgm": ("lti_user", FULL_NAME),
    "ix_lti_user_email_trgm": ("lti_user", "email"),
    "ix_certificate_holder_name_trgm": ("certificate", "holder_name"),
}


def _extension_schema(bind: sa.Connection) -> str | None:
    return bind.scalar(sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = _extension_schema(bind)
    if schema is None:
        # In `public`, not in whatever schema comes first on the search path: an extension exists once per
        # database, and the indexes name its operator class by schema, so they need not have it on their path.
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text("CREATE EXTENSION pg_trgm WITH SCHEMA public"))
        except sa.exc.DBAPIError as exc:
            savepoint.rollback()
            log.warning(
                "pg_trgm could not be created (%s): the register's search works without its indexes, only "
                "slower. A superuser can run `CREATE EXTENSION pg_trgm WITH SCHEMA public;` in this database and "
                "then create the three indexes of the migration register_search_index (README, PostgreSQL).",
                str(exc.orig).strip().splitlines()[0],
            )
            return
        savepoint.commit()
        schema = "public"
    for name, (table, expression) in INDEXES.items():
        op.execute(f'CREATE INDEX {name} ON {table} USING gin (({expression}) "{schema}".gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")  # the extension stays: other things may use it

"""the certification register's search reads certificates through indexes: holder name and code without the rows

The register's search (lti_tool/register/search.py) looks at the holder name of every certificate and, when the
search could be part of a code, at every code. Read from the table, a broad search at 50,000 completions read
every certificate row, modules and all (~1 KB each, 40 MB), for a few bytes of each.
- SQLite: an index of holder name, code and the entry's key, which the search scans instead of the table (a
  covering index).
- PostgreSQL: a trigram index on the code, beside those of migration register_search_index (where pg_trgm could
  not be created there, there is none here either: the search works, only slower). A B-tree index like SQLite's
  would serve PostgreSQL worse: it prefers reading the whole index, testing each name, to the trigram index.
Both live in the migrations only, as the trigram indexes do (the models also build SQLite databases).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

SQLITE_INDEX = "ix_certificate_search_scan"
CODE_TRIGRAMS = "ix_certificate_code_trgm"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.create_index(SQLITE_INDEX, "certificate", ["holder_name", "code", "user_id", "context_id", "course_id"])
        return
    if bind.dialect.name != "postgresql":
        return
    schema = bind.scalar(
        sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    )
    if schema is None:
        log.warning(
            "pg_trgm is not installed: the register's search by part of a certificate code works without the index "
            "%s, only slower (README, PostgreSQL).",
            CODE_TRIGRAMS,
        )
        return
    op.execute(f'CREATE INDEX {CODE_TRIGRAMS} ON certificate USING gin (code "{schema}".gin_trgm_ops)')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.drop_index(SQLITE_INDEX, table_name="certificate")
    elif bind.dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {CODE_TRIGRAMS}")

"""grade outbox rows remember the request that queued them (X-Request-ID), for the grade worker's log lines

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 11:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('grade_outbox') as batch:
        batch.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('grade_outbox') as batch:
        batch.drop_column('request_id')

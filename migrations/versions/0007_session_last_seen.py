"""tool sessions remember their last request (idle timeout, SESSION_IDLE_SECONDS)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('tool_session') as batch:
        batch.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE tool_session SET last_seen_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table('tool_session') as batch:
        batch.drop_column('last_seen_at')

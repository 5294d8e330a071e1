"""registration links count their attempts (a link is used up after REGISTRATION_LINK_MAX_ATTEMPTS failures)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('registration_link') as batch:
        batch.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('registration_link') as batch:
        batch.drop_column('attempts')

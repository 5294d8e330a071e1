"""quiz pools: the questions an attempt drew and the seed of the draw

Attempts written before pools have neither: NULL question_ids means "every question of the quiz", which is
what those attempts asked.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('quiz_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('question_ids', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('draw_seed', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('quiz_attempt', schema=None) as batch_op:
        batch_op.drop_column('draw_seed')
        batch_op.drop_column('question_ids')

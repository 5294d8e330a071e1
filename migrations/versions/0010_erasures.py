"""erasures: a keyed hash of each person erased at their request; users who came back have their grades held

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'erasure',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=16), nullable=False),
        sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('send_grades', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('subject'),
    )
    # Everyone the tool knows so far launched before any erasure was recorded: nobody's grades are held.
    with op.batch_alter_table('lti_user') as batch:
        batch.add_column(sa.Column('grades_held', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('lti_user') as batch:
        batch.drop_column('grades_held')
    op.drop_table('erasure')

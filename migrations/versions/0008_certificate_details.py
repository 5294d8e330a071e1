"""certificates state the course period, the workload and the issuer's address

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('certificate') as batch:
        batch.add_column(sa.Column('issuer_url', sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('workload_hours', sa.Float(), nullable=True))
        batch.add_column(sa.Column('teaching_units', sa.Integer(), nullable=True))
    # A certificate issued before states when the holder first opened the course, as the membership recorded it.
    # Its workload stays unstated: what was issued is not changed after the fact.
    op.execute(
        "UPDATE certificate SET started_at = (SELECT membership.created_at FROM membership"
        " WHERE membership.user_id = certificate.user_id AND membership.context_id = certificate.context_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('certificate') as batch:
        batch.drop_column('teaching_units')
        batch.drop_column('workload_hours')
        batch.drop_column('started_at')
        batch.drop_column('issuer_url')

"""grade items the teacher chose: per-link module grade items, line items removed in the LMS, delivery times

Resource links remember whether the teacher asked for one grade item per module (custom parameter
`module_grade_items`); line items remember when the platform answered 404 (deleted by the teacher), so they are
never created again silently; grade rows keep how long their last delivery took (indexed by platform and time
for the operator's list of recent deliveries). Per-module grades still waiting for a line item to be created are withdrawn:
before this revision the tool created those for every whole-course activity, which teachers did not ask for.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('resource_link') as batch:
        batch.add_column(
            sa.Column('module_grade_items', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table('line_item') as batch:
        batch.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('grade_outbox') as batch:
        batch.add_column(sa.Column('last_duration_ms', sa.Integer(), nullable=True))
        batch.create_index('ix_grade_outbox_recent', ['platform_id', 'last_attempt_at'])
    op.execute(
        "UPDATE grade_outbox SET state = 'superseded' "
        "WHERE state = 'pending' AND lineitem_url IS NULL AND target LIKE '%@lineitems'"
    )


def downgrade() -> None:
    with op.batch_alter_table('grade_outbox') as batch:
        batch.drop_index('ix_grade_outbox_recent')
        batch.drop_column('last_duration_ms')
    with op.batch_alter_table('line_item') as batch:
        batch.drop_column('removed_at')
    with op.batch_alter_table('resource_link') as batch:
        batch.drop_column('module_grade_items')

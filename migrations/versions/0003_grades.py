"""grades: link launches, outbox columns for the worker, line item lookup by resourceId

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('link_launch',
    sa.Column('id', PK, nullable=False),
    sa.Column('resource_link_id', PK, nullable=False),
    sa.Column('user_id', PK, nullable=False),
    sa.Column('first_launch_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_launch_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['resource_link_id'], ['resource_link.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['lti_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('resource_link_id', 'user_id')
    )
    with op.batch_alter_table('link_launch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_launch_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('grade_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('course_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('module_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('restamps', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('line_item', schema=None) as batch_op:
        batch_op.create_index('ix_line_item_resource', ['context_id', 'resource_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('line_item', schema=None) as batch_op:
        batch_op.drop_index('ix_line_item_resource')

    with op.batch_alter_table('grade_outbox', schema=None) as batch_op:
        batch_op.drop_column('restamps')
        batch_op.drop_column('last_attempt_at')
        batch_op.drop_column('module_id')
        batch_op.drop_column('course_id')

    with op.batch_alter_table('link_launch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_launch_user_id'))

    op.drop_table('link_launch')

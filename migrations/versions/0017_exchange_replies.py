"""exchange replies: learners reply to practice answers, may show their municipality; instructors hide posts

Practice submissions (the exchange page's answers) can be hidden by an instructor with a reason, and remember when
their author last read the replies. Replies and the learners' municipality (one per learner and course context)
get tables of their own. Existing answers stay visible, and their replies (none yet) unread.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 14:25:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('practice_submission') as batch:
        batch.add_column(sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('hidden_by', ID, nullable=True))
        batch.add_column(sa.Column('hidden_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('replies_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            'fk_practice_submission_hidden_by_lti_user', 'lti_user', ['hidden_by'], ['id'], ondelete='SET NULL'
        )
    op.create_table(
        'exchange_reply',
        sa.Column('id', ID, nullable=False),
        sa.Column('submission_id', ID, nullable=False),
        sa.Column('user_id', ID, nullable=False),
        sa.Column('context_id', ID, nullable=False),
        sa.Column('course_id', sa.String(length=100), nullable=False),
        sa.Column('module_id', sa.String(length=100), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('hidden_by', ID, nullable=True),
        sa.Column('hidden_reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['submission_id'], ['practice_submission.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['lti_user.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['context_id'], ['context.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['hidden_by'], ['lti_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_exchange_reply_submission_id', 'exchange_reply', ['submission_id'])
    op.create_index('ix_exchange_reply_user_id', 'exchange_reply', ['user_id'])
    op.create_table(
        'exchange_profile',
        sa.Column('id', ID, nullable=False),
        sa.Column('user_id', ID, nullable=False),
        sa.Column('context_id', ID, nullable=False),
        sa.Column('municipality', sa.String(length=100), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['lti_user.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['context_id'], ['context.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'context_id'),
    )
    op.create_index('ix_exchange_profile_context_id', 'exchange_profile', ['context_id'])


def downgrade() -> None:
    op.drop_index('ix_exchange_profile_context_id', table_name='exchange_profile')
    op.drop_table('exchange_profile')
    op.drop_index('ix_exchange_reply_user_id', table_name='exchange_reply')
    op.drop_index('ix_exchange_reply_submission_id', table_name='exchange_reply')
    op.drop_table('exchange_reply')
    with op.batch_alter_table('practice_submission') as batch:
        batch.drop_constraint('fk_practice_submission_hidden_by_lti_user', type_='foreignkey')
        batch.drop_column('replies_seen_at')
        batch.drop_column('hidden_reason')
        batch.drop_column('hidden_by')
        batch.drop_column('hidden_at')

"""review rounds: practice review as a dialogue (accept, or ask for a revision), every round kept

Practice submissions remember when an instructor asked for a revision that the learner has not made yet. Each
review round (text version read, decision, feedback, who, when) is a row of its own. Answers reviewed before this
revision were accepted (the only decision there was): each becomes round 1, "accepted", with the text and the
feedback it holds now.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 13:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('practice_submission') as batch:
        batch.add_column(sa.Column('revision_requested_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'practice_review_round',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('submission_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('context_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('course_id', sa.String(length=100), nullable=False),
        sa.Column('module_id', sa.String(length=100), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('decision', sa.String(length=12), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('text_updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('feedback', sa.Text(), nullable=False),
        sa.Column('reviewer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['submission_id'], ['practice_submission.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['lti_user.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['context_id'], ['context.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['reviewer_id'], ['lti_user.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('submission_id', 'number'),
    )
    op.create_index('ix_practice_review_round_submission_id', 'practice_review_round', ['submission_id'])
    op.create_index('ix_practice_review_round_user_id', 'practice_review_round', ['user_id'])
    op.execute(
        "INSERT INTO practice_review_round (submission_id, user_id, context_id, course_id, module_id, number, "
        "decision, text, text_updated_at, feedback, reviewer_id, reviewed_at) "
        "SELECT id, user_id, context_id, course_id, module_id, 1, 'accepted', text, updated_at, "
        "COALESCE(feedback, ''), reviewer_id, reviewed_at "
        "FROM practice_submission WHERE reviewed_at IS NOT NULL ORDER BY id"
    )


def downgrade() -> None:
    op.drop_index('ix_practice_review_round_user_id', table_name='practice_review_round')
    op.drop_index('ix_practice_review_round_submission_id', table_name='practice_review_round')
    op.drop_table('practice_review_round')
    with op.batch_alter_table('practice_submission') as batch:
        batch.drop_column('revision_requested_at')

"""certification register: office accounts, register entries, revocation with reason, audit trail

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('operator') as batch:
        batch.add_column(sa.Column('role', sa.String(length=20), server_default='operator', nullable=False))
    with op.batch_alter_table('certificate') as batch:
        batch.add_column(sa.Column('revoked_by', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('revoked_reason', sa.Text(), nullable=True))
    op.create_table(
        'certificate_event',
        sa.Column('id', PK, nullable=False),
        sa.Column('certificate_id', PK, nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('account', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_certificate_event_certificate_id'), 'certificate_event', ['certificate_id'])
    op.create_table(
        'register_entry',
        sa.Column('id', PK, nullable=False),
        sa.Column('user_id', PK, nullable=False),
        sa.Column('platform_id', PK, nullable=False),
        sa.Column('context_id', PK, nullable=False),
        sa.Column('course_id', sa.String(length=100), nullable=False),
        sa.Column('resource_link_id', PK, nullable=True),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['context_id'], ['context.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['platform_id'], ['platform.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['resource_link_id'], ['resource_link.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['lti_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'context_id', 'course_id'),
    )
    op.create_index('ix_register_entry_completed', 'register_entry', ['completed_at', 'id'])
    op.create_index(op.f('ix_register_entry_context_id'), 'register_entry', ['context_id'])
    op.create_index(op.f('ix_register_entry_platform_id'), 'register_entry', ['platform_id'])
    op.create_table(
        'register_audit',
        sa.Column('id', PK, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('account', sa.String(length=100), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('entry_id', PK, nullable=True),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('detail', sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['register_entry.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_register_audit_at'), 'register_audit', ['at'])
    op.create_index(op.f('ix_register_audit_entry_id'), 'register_audit', ['entry_id'])
    # Every course completed before the register existed is in it from the start (the activity is not known).
    op.execute(
        "INSERT INTO register_entry (user_id, platform_id, context_id, course_id, completed_at, created_at)"
        " SELECT course_progress.user_id, deployment.platform_id, course_progress.context_id,"
        " course_progress.course_id, course_progress.completed_at, course_progress.completed_at"
        " FROM course_progress"
        " JOIN context ON context.id = course_progress.context_id"
        " JOIN deployment ON deployment.id = context.deployment_id"
        " WHERE course_progress.completed_at IS NOT NULL"
        " ORDER BY course_progress.completed_at, course_progress.id"
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_register_audit_entry_id'), table_name='register_audit')
    op.drop_index(op.f('ix_register_audit_at'), table_name='register_audit')
    op.drop_table('register_audit')
    op.drop_index(op.f('ix_register_entry_platform_id'), table_name='register_entry')
    op.drop_index(op.f('ix_register_entry_context_id'), table_name='register_entry')
    op.drop_index('ix_register_entry_completed', table_name='register_entry')
    op.drop_table('register_entry')
    op.drop_index(op.f('ix_certificate_event_certificate_id'), table_name='certificate_event')
    op.drop_table('certificate_event')
    with op.batch_alter_table('certificate') as batch:
        batch.drop_column('revoked_reason')
        batch.drop_column('revoked_by')
    with op.batch_alter_table('operator') as batch:
        batch.drop_column('role')

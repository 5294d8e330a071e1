"""access tokens in the launch store: one store of expiring values

The tool kept the access tokens of the LTI services in a table of their own (`access_token`) beside the launch
store's (`launch_cache`), with Redis replacing only the second. Tokens now live in the launch store like every
other short-lived value: the tokens still in use move there (so no platform is asked again after the upgrade),
and the table goes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_access_token = sa.table(
    'access_token',
    sa.column('platform_id', sa.BigInteger()),
    sa.column('scope_key', sa.String()),
    sa.column('token', sa.Text()),
    sa.column('expires_at', sa.DateTime(timezone=True)),
)
_launch_cache = sa.table(
    'launch_cache',
    sa.column('key', sa.String()),
    sa.column('value', sa.Text()),
    sa.column('expires_at', sa.DateTime(timezone=True)),
)


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value  # SQLite keeps naive UTC


def upgrade() -> None:
    conn = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            # The key and value lti_tool/grading/tokens.py (TokenCache) reads; `expires_at` as stored (the end
            # of use, expiry minus margin).
            'key': f'access-token:{row.platform_id}:{row.scope_key}',
            'value': json.dumps({'token': row.token, 'use_until': _aware(row.expires_at).timestamp()}),
            'expires_at': row.expires_at,
        }
        for row in conn.execute(sa.select(_access_token))
        if _aware(row.expires_at) > now
    ]
    if rows:
        conn.execute(_launch_cache.delete().where(_launch_cache.c.key.in_([r['key'] for r in rows])))
        conn.execute(_launch_cache.insert(), rows)
    op.drop_table('access_token')


def downgrade() -> None:
    # Empty: the tokens stay in the launch store, where the older code does not look; it asks the platforms again.
    op.create_table('access_token',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('platform_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope_key', sa.String(length=64), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['platform.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform_id', 'scope_key')
    )

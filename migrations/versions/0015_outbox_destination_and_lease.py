"""grade outbox: the destination in a column of its own, the lease in lease_until alone

A grade row says in `destination` which line item it goes to: the activity's own ('link') or the tool's
per-module line item found or created through the platform's container ('module_item'); before this revision
the code read that from the end of the `target` key ('@lineitems').

Claiming a row and renewing its lease used to write the lease end into next_attempt_at and last_attempt_at
too; from this revision the lease is in lease_until only. A row in flight (or given back unsent by a stopping
worker) was left with the lease end as its "last attempt", a time in the future that no attempt ended at: it
is cleared (the gradebook then shows when the row was queued, until the next attempt ends). Rows given back
after an earlier real attempt are recognised by a last attempt later than their next one; the earlier
attempt's end is not known any more, so it is cleared too.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 13:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('grade_outbox') as batch:
        batch.add_column(
            sa.Column('destination', sa.String(length=12), server_default='link', nullable=False)
        )
    op.execute("UPDATE grade_outbox SET destination = 'module_item' WHERE target LIKE '%@lineitems'")
    op.execute(
        "UPDATE grade_outbox SET last_attempt_at = NULL WHERE state = 'sending' "
        "OR (state = 'pending' AND (attempts = 0 OR last_attempt_at > next_attempt_at))"
    )


def downgrade() -> None:
    with op.batch_alter_table('grade_outbox') as batch:
        batch.drop_column('destination')

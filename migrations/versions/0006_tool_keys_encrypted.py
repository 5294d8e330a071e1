"""tool keys encrypted at rest: private_pem (plain PEM) becomes private_key_sealed (Fernet, lti_tool/lti/keystore.py)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 08:00:00

Existing keys are encrypted here with the operator's secret (LTI_TOOL_KEY_SECRETS, else LTI_TOOL_SECRET_KEY),
which `lti_tool.db.upgrade` hands over (`scripts/flask db upgrade`, or the SQLite upgrade on start). Downgrading
decrypts them again. Keys already wiped (empty) stay empty.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class _Box:
    """What lti_tool/lti/keystore.py does at this revision (kept here, so this migration never changes)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        from cryptography.fernet import Fernet, MultiFernet
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        def derive(secret: str) -> Fernet:
            raw = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=b"nama-lti tool private keys", info=b"fernet v1"
            ).derive(secret.encode())
            return Fernet(base64.urlsafe_b64encode(raw))

        self._fernet = MultiFernet([derive(s) for s in secrets])

    def seal(self, pem: str) -> str:
        return self._fernet.encrypt(pem.encode()).decode()

    def open(self, sealed: str) -> str:
        return self._fernet.decrypt(sealed.encode()).decode()


def _box() -> _Box | None:
    secrets = context.config.attributes.get("key_secrets") or ()
    return _Box(secrets) if secrets else None


def _require_box(column: str) -> _Box | None:
    """The key box; refuses (before any change) when keys exist but no secret was handed over."""
    box = _box()
    stored = op.get_bind().execute(sa.text(f"SELECT count(*) FROM tool_key WHERE {column} != ''")).scalar()
    if stored and box is None:
        raise RuntimeError(
            "tool keys exist: run this migration with the key secret (`scripts/flask db upgrade` with "
            "LTI_TOOL_KEY_SECRETS or LTI_TOOL_SECRET_KEY set)"
        )
    return box


def _convert(source: str, target: str, box: _Box | None, change) -> None:  # type: ignore[no-untyped-def]
    keys = sa.table('tool_key', sa.column('id', sa.Integer), sa.column(source, sa.Text), sa.column(target, sa.Text))
    conn = op.get_bind()
    rows = conn.execute(sa.select(keys.c.id, keys.c[source])).all()
    for key_id, value in rows:
        new = change(box, value) if value else ''
        conn.execute(sa.update(keys).where(keys.c.id == key_id).values({target: new}))


def upgrade() -> None:
    box = _require_box('private_pem')
    with op.batch_alter_table('tool_key') as batch:
        batch.add_column(sa.Column('private_key_sealed', sa.Text(), server_default='', nullable=False))
    _convert('private_pem', 'private_key_sealed', box, lambda box, pem: box.seal(pem))
    with op.batch_alter_table('tool_key') as batch:
        batch.drop_column('private_pem')


def downgrade() -> None:
    box = _require_box('private_key_sealed')
    with op.batch_alter_table('tool_key') as batch:
        batch.add_column(sa.Column('private_pem', sa.Text(), server_default='', nullable=False))
    _convert('private_key_sealed', 'private_pem', box, lambda box, sealed: box.open(sealed))
    with op.batch_alter_table('tool_key') as batch:
        batch.drop_column('private_key_sealed')

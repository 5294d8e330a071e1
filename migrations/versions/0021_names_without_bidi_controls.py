"""names, e-mail addresses and titles stored before 78a71b1 lose their bidirectional embeddings and overrides

Since 78a71b1 a launch and a roster refresh drop Unicode's explicit bidirectional formatting characters (U+202A-U+202E,
U+2066-U+2069; lti_tool/text.py `without_bidi_controls`) from the names, e-mail addresses and titles they store; a
right-to-left override in a name turned the rest of every sentence and list line it was shown in around. Rows
written before keep them until the person launches again or the participant list is fetched again (never, for
someone who left the course). This revision cleans them as the launch does:
- lti_user name, given_name, family_name, email; roster_entry name, email (NULL when nothing is left, as the launch
  and the roster refresh store a name of nothing but such characters);
- context title, label; resource_link title (empty when nothing is left);
- listed_learner (0020) name, email and the name order's sort_key of the people concerned, computed again from
  the cleaned rows by 0020's rules.
Certificates are left as issued (holder_name, course_title: what the document says, frozen at issue time).
The characters cannot be put back: the way down changes nothing.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# lti_tool/text.py BIDI_CONTROLS, as of this revision
BIDI_CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
_BIDI = re.compile('[\u202a-\u202e\u2066-\u2069]')

# table: (column, NULL when nothing is left)
CLEANED = {
    'lti_user': (('name', True), ('given_name', True), ('family_name', True), ('email', True)),
    'roster_entry': (('name', True), ('email', True)),
    'context': (('title', False), ('label', False)),
    'resource_link': (('title', False),),
}


def upgrade() -> None:
    conn = op.get_bind()
    for table, columns in CLEANED.items():
        _clean(conn, table, columns)
    _relist(conn)


def downgrade() -> None:
    pass  # what was dropped is not kept anywhere


def _holding_bidi(table: Any, columns: Sequence[str]) -> Any:
    """SQL: a row with such a character in one of `columns` (LIKE: the same in both databases)."""
    return sa.or_(*(table.c[c].contains(ch) for c in columns for ch in BIDI_CONTROLS))


def _clean(conn: Any, name: str, columns: Sequence[tuple[str, bool]]) -> None:
    table = sa.table(name, sa.column('id'), *(sa.column(c) for c, _ in columns))
    found = conn.execute(sa.select(table).where(_holding_bidi(table, [c for c, _ in columns]))).all()
    for row in found:
        values = {}
        for column, nullable in columns:
            value = row._mapping[column]
            if value is not None and _BIDI.search(value):
                clean = _BIDI.sub('', value)
                values[column] = (clean or None) if nullable else clean
        if values:
            conn.execute(sa.update(table).where(table.c.id == row.id).values(**values))


def _sort_key(name: str | None, sub: str) -> str:
    """lti_tool/gradebook/listed.py `sort_key`."""
    if not name:
        return '\uffff' + sub
    plain = unicodedata.normalize('NFKD', name.casefold())
    return ''.join(c for c in plain if not unicodedata.combining(c)).strip()[:250]


# 0020's `_LISTED` (lti_tool/gradebook/listed.py `_source`) for one person in one course context: the name and
# e-mail of the launch, else the roster's.
_LISTED_ONE = """
SELECT
  COALESCE(NULLIF(lti_user.name, ''),
           NULLIF(TRIM(COALESCE(lti_user.given_name, '') || ' ' || COALESCE(lti_user.family_name, '')), ''),
           NULLIF(roster_entry.name, '')) AS name,
  COALESCE(lti_user.email, roster_entry.email) AS email
FROM context
JOIN deployment ON deployment.id = context.deployment_id
LEFT JOIN roster_entry ON roster_entry.context_id = context.id AND roster_entry.sub = :sub
LEFT JOIN lti_user ON lti_user.platform_id = deployment.platform_id AND lti_user.sub = :sub
WHERE context.id = :context_id
"""


def _relist(conn: Any) -> None:
    """The gradebook's copy of a name or e-mail that held such a character, taken again from the cleaned rows."""
    listed = sa.table(
        'listed_learner', sa.column('id'), sa.column('context_id'), sa.column('sub'), sa.column('name'),
        sa.column('email'), sa.column('sort_key'),
    )  # fmt: skip
    found = conn.execute(sa.select(listed).where(_holding_bidi(listed, ['name', 'email']))).all()
    for row in found:
        now = conn.execute(sa.text(_LISTED_ONE), {'context_id': row.context_id, 'sub': row.sub}).first()
        name = now.name if now is not None else (_BIDI.sub('', row.name or '') or None)
        email = now.email if now is not None else (_BIDI.sub('', row.email or '') or None)
        conn.execute(
            sa.update(listed)
            .where(listed.c.id == row.id)
            .values(name=name, email=email, sort_key=_sort_key(name, row.sub))
        )

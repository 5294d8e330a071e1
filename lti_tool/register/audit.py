"""The register's audit trail: every view of a record, every export, revocation and reinstatement, with the name
of the account that did it. The office sees it at /admin/register/audit. Services take a session, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import RegisterAudit, utcnow

AUDIT_PAGE_SIZE = 100


class AuditAction(StrEnum):
    VIEW = "view"  # a record was opened (also through a look-up by code)
    EXPORT = "export"  # the register (with these filters) was downloaded as CSV
    REVOKE = "revoke"
    REINSTATE = "reinstate"


def log(
    s: Session,
    account: str,
    action: AuditAction,
    *,
    entry_id: int | None = None,
    subject: str = "",
    detail: str = "",
) -> None:
    s.add(
        RegisterAudit(
            at=utcnow(),
            account=account[:100],
            action=action.value,
            entry_id=entry_id,
            subject=subject[:64],
            detail=detail[:1000],
        )
    )


@dataclass(frozen=True)
class AuditPage:
    rows: list[RegisterAudit]
    total: int
    page: int
    pages: int


def trail(s: Session, page: int, size: int = AUDIT_PAGE_SIZE) -> AuditPage:
    """Newest first."""
    total = int(s.scalar(select(func.count()).select_from(RegisterAudit)) or 0)
    pages = max(1, -(-total // size))
    number = min(max(1, page), pages)
    rows = list(
        s.scalars(
            select(RegisterAudit)
            .order_by(RegisterAudit.at.desc(), RegisterAudit.id.desc())
            .limit(size)
            .offset((number - 1) * size)
        )
    )
    return AuditPage(rows=rows, total=total, page=number, pages=pages)

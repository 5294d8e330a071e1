"""Revoking a certificate and reinstating it. Nothing is deleted: the certificate row stays with its code, the
revocation is recorded on it (when, by which account, why) and every change is kept as a CertificateEvent.

A revoked certificate: /verify/<code> says it was revoked and when; the learner's certificate page says so with
the reason, and offers no PDF; the gradebook's completion list leaves its code out. Services never commit.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from ..models import Certificate, CertificateEvent, utcnow
from ..progress.practice import normalize_text

REASON_MAX = 1000


class CertificateAction(StrEnum):
    REVOKED = "revoked"
    REINSTATED = "reinstated"


class RevocationError(ValueError):
    """The request does not fit the certificate's state or the reason is missing (`code` says which)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # "no_reason" | "reason_too_long" | "already_revoked" | "not_revoked"


def clean_reason(text: str) -> str:
    reason = "\n".join(line.rstrip() for line in normalize_text(text).split("\n"))  # no NUL: PostgreSQL
    reason = reason.strip()
    if not reason:
        raise RevocationError("no_reason")
    if len(reason) > REASON_MAX:
        raise RevocationError("reason_too_long")
    return reason


def revoke(s: Session, cert: Certificate, *, account: str, reason: str) -> CertificateEvent:
    reason = clean_reason(reason)
    if cert.revoked_at is not None:
        raise RevocationError("already_revoked")
    now = utcnow()
    cert.revoked_at, cert.revoked_by, cert.revoked_reason = now, account, reason
    event = CertificateEvent(
        certificate_id=cert.id, action=CertificateAction.REVOKED.value, account=account, reason=reason, at=now
    )
    s.add(event)
    s.flush()
    return event


def reinstate(s: Session, cert: Certificate, *, account: str, reason: str) -> CertificateEvent:
    reason = clean_reason(reason)
    if cert.revoked_at is None:
        raise RevocationError("not_revoked")
    cert.revoked_at, cert.revoked_by, cert.revoked_reason = None, None, None
    event = CertificateEvent(
        certificate_id=cert.id,
        action=CertificateAction.REINSTATED.value,
        account=account,
        reason=reason,
        at=utcnow(),
    )
    s.add(event)
    s.flush()
    return event

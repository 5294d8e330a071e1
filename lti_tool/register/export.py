"""The register as CSV in the German-Excel form of the gradebook's exports (lti_tool/gradebook/export.py: UTF-8
with BOM, `;`, CRLF, times in ISO order and German time, numbers with a decimal comma, text from the LMS kept as
text and formula-looking cells neutralised), one row per entry, streamed batch by batch. The cells are that
module's (`cell`, through `lines`): both exports read alike in a spreadsheet."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flask_babel import gettext as _

from ..gradebook.export import Text
from .entries import CertificateState, RegisterRow

CHUNK = 64 * 1024  # characters per piece of the streamed response


def header() -> list[str]:
    zone = _("German time")
    return [
        _("Name"),
        _("E-mail"),
        _("Platform"),
        _("Course in the LMS"),
        _("Course"),
        f"{_('Completed on')} ({zone})",
        _("Workload (hours)"),
        _("Teaching units"),
        _("Verification code"),
        _("State"),
        f"{_('Revoked on')} ({zone})",
        _("Reason for revocation"),
    ]


def _text(value: str) -> Text | None:
    """Text from the LMS or the office (names, titles, a reason): kept as text in the spreadsheet."""
    return Text(value) if value else None


def records(rows: Iterable[RegisterRow]) -> Iterator[list[Any]]:
    states = {
        CertificateState.VALID: _("valid"),
        CertificateState.REVOKED: _("revoked"),
        CertificateState.NONE: _("no certificate yet"),
    }
    yield header()
    for row in rows:
        yield [
            _text(row.name),
            _text(row.email),
            _text(row.platform_name),
            _text(row.context_title),
            _text(row.course_title),
            row.completed_at,
            row.workload_hours or None,
            row.teaching_units or None,
            _text(row.code),
            states[row.state],
            row.revoked_at,
            _text(row.revoked_reason),
        ]


def chunked(pieces: Iterable[str], size: int = CHUNK) -> Iterator[str]:
    """The CSV lines in pieces of about `size` characters (one write per line would cost 50,000 writes)."""
    buffer: list[str] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer)

"""The register as CSV in the German-Excel form of the gradebook's exports (lti_tool/gradebook/export.py: UTF-8
with BOM, `;`, CRLF, times in ISO order and German time, numbers with a decimal comma, text from the LMS kept as
text and formula-looking cells neutralised), one row per entry, streamed batch by batch. The cells are that
module's (`cell`, through `lines`): both exports read alike in a spreadsheet."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flask_babel import gettext as _

from ..gradebook.export import Text, cell
from .entries import CertificateState, RegisterRow


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


class _Repeated(dict[str, str]):
    """The cell of a text that many rows repeat (a platform, a course title), worked out once."""

    def __missing__(self, value: str) -> str:
        text = self[value] = cell(_text(value))
        return text


def records(rows: Iterable[RegisterRow]) -> Iterator[list[Any]]:
    states = {
        CertificateState.VALID: _("valid"),
        CertificateState.REVOKED: _("revoked"),
        CertificateState.NONE: _("no certificate yet"),
    }
    repeated = _Repeated()
    yield header()
    for row in rows:
        yield [
            _text(row.name),
            _text(row.email),
            repeated[row.platform_name],
            repeated[row.context_title],
            repeated[row.course_title],
            row.completed_at,
            row.workload_hours or None,
            row.teaching_units or None,
            _text(row.code),
            states[row.state],
            row.revoked_at,
            _text(row.revoked_reason),
        ]

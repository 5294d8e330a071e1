"""The register as CSV in the form of the gradebook's exports (lti_tool/gradebook/export.py: UTF-8 with BOM, `;`,
CRLF, German dates, formula-looking cells neutralised), one row per entry, streamed batch by batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from babel.numbers import format_decimal
from flask_babel import gettext as _

from ..i18n import BERLIN, document_date
from .entries import CertificateState, RegisterRow

CHUNK = 64 * 1024  # characters per piece of the streamed response


def header() -> list[str]:
    return [
        _("Name"),
        _("E-mail"),
        _("Platform"),
        _("Course in the LMS"),
        _("Course"),
        _("Completed on"),
        _("Workload (hours)"),
        _("Teaching units"),
        _("Verification code"),
        _("State"),
        _("Revoked on"),
        _("Reason for revocation"),
    ]


def records(rows: Iterable[RegisterRow]) -> Iterator[list[Any]]:
    states = {
        CertificateState.VALID: _("valid"),
        CertificateState.REVOKED: _("revoked"),
        CertificateState.NONE: _("no certificate yet"),
    }
    hours: dict[float, str] = {}  # the same few workloads, formatted once
    days: dict[dt.date, str] = {}  # and each day once (Babel's formatting is the slow part of a row)

    def date(value: dt.datetime | None) -> str:
        if value is None:
            return ""
        day = value.astimezone(BERLIN).date()
        text = days.get(day)
        if text is None:
            text = days[day] = document_date(value)
        return text

    yield header()
    for row in rows:
        workload = row.workload_hours
        if workload and workload not in hours:
            hours[workload] = format_decimal(workload, format="#,##0.#", locale="de")
        yield [
            row.name,
            row.email,
            row.platform_name,
            row.context_title,
            row.course_title,
            date(row.completed_at),
            hours[workload] if workload else "",
            row.teaching_units or "",
            row.code,
            states[row.state],
            date(row.revoked_at),
            row.revoked_reason,
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

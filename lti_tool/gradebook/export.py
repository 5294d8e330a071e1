"""CSV exports for spreadsheets (Excel, LibreOffice) in Germany: the gradebook and the completion list.

UTF-8 with a byte order mark (so Excel reads the umlauts), `;` between fields (`,` is the decimal mark here),
CRLF line ends, dates as DD.MM.YYYY in Europe/Berlin. A cell that starts with = + - @ tab or CR would be read
as a formula: it gets a leading apostrophe (OWASP "CSV injection"). Learners' names come from the LMS, so this
matters.

The rows are produced lazily (generators, `listing.all_rows` reads them in batches), so a course of thousands of
learners is never held in memory; the view streams them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..i18n import document_date
from ..models import Certificate
from .listing import Row, Scope, people

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One field as text, neutralised against formula injection."""
    if value.__class__ is str:  # most cells: the quick way (exports write 50,000 rows x 12 cells)
        return "'" + value if value.startswith(FORMULA_START) else value
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return german_date(value)
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def german_date(value: dt.datetime | None) -> str:
    return "" if value is None else document_date(value)


def percent(score: float | None) -> str:
    """A quiz score as whole percent, rounded down (as the pages show it)."""
    return "" if score is None else str(math.floor(score * 100 + 1e-9))


def lines(records: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text, one chunk per record, the BOM first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    yield BOM
    for record in records:
        writer.writerow([cell(value) for value in record])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def filename(kind: str, label: str, today: dt.date) -> str:
    """e.g. notenliste-nama-nrw-2026-03-01.csv: ASCII only, safe in a Content-Disposition header."""
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_label.lower()).strip("-")[:40] or "kurs"
    return f"{kind}-{slug}-{today.isoformat()}.csv"


# --- The gradebook ------------------------------------------------------------------------------------


def _words() -> dict[str, str]:
    """The states as the export writes them, translated once per export (not once per cell)."""
    return {
        "practice:submitted": _("submitted"),
        "practice:reviewed": _("reviewed"),
        "practice:none": "",
        "module:completed": _("completed"),
        "module:in_progress": _("in progress"),
        "module:not_started": _("not started"),
        "delivery:failed": _("failed"),
        "delivery:pending": _("waiting"),
        "delivery:sent": _("sent"),
        "delivery:none": "",
        "yes": _("yes"),
        "no": _("no"),
    }


def gradebook_header(scope: Scope) -> list[str]:
    header = [
        _("Name"),
        _("E-mail"),
        _("LTI user id"),
        _("In the course's participant list"),
        _("Course completed on"),
        _("Modules completed"),
        _("Last activity"),
        _("Grades in the LMS"),
    ]
    columns = [
        _("State"),
        _("Lessons seen"),
        _("Best quiz score (%)"),
        _("Quiz attempts"),
        _("Practice task"),
        _("Completed on"),
    ]
    for module in scope.course.modules:
        header += [f"{module.position}. {module.title}: {column}" for column in columns]
    return header


def gradebook_records(scope: Scope, batches: Iterable[list[Row]]) -> Iterator[list[Any]]:
    total = len(scope.course.modules)
    words = _words()
    yield gradebook_header(scope)
    for batch in batches:
        for row in batch:
            person = row.person
            record: list[Any] = [
                person.name,
                person.email,
                person.sub,
                words["yes" if person.in_roster else "no"],
                person.course_completed_at,
                f"{person.modules_done}/{total}",
                person.last_activity,
                words["delivery:" + row.delivery],
            ]
            for module in row.modules:
                record += [
                    words["module:" + module.state],
                    f"{module.lessons_seen}/{module.lessons_total}",
                    percent(module.best_score),
                    module.attempts,
                    words["practice:" + module.practice],
                    module.completed_at,
                ]
            yield record


# --- The completion list ----------------------------------------------------------------------------------


def completion_records(s: Session, scope: Scope, *, batch: int) -> Iterator[list[Any]]:
    """Everyone listed who completed the course: name, e-mail, completion date, certificate code (if issued)."""
    yield [_("Name"), _("E-mail"), _("LTI user id"), _("Course completed on"), _("Certificate code")]
    crowd = people(scope)
    query = (
        select(crowd.c.name, crowd.c.email, crowd.c.sub, crowd.c.course_completed_at, Certificate.code)
        .select_from(crowd)
        .outerjoin(
            Certificate,
            (Certificate.user_id == crowd.c.user_id)
            & (Certificate.context_id == scope.context_id)
            & (Certificate.course_id == scope.course.id)
            & Certificate.revoked_at.is_(None),
        )
        .where(crowd.c.course_completed_at.is_not(None))
        .order_by(crowd.c.course_completed_at, crowd.c.sub)
        .execution_options(yield_per=batch)
    )
    for part in s.execute(query).partitions():
        for name, email, sub, completed_at, code in part:
            yield [name, email, sub, completed_at, code]

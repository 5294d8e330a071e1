"""CSV exports for spreadsheets (Excel, LibreOffice) in Germany: the gradebook and the completion list.

UTF-8 with a byte order mark (so Excel reads the umlauts), `;` between fields (`,` is the decimal mark here),
CRLF line ends. A spreadsheet guesses each cell's type, so every cell is written to be guessed right:
- counts and scores are plain numbers (a decimal comma: 12,5); progress is two numbers ("Abgeschlossene Module",
  "Module im Kurs"; lessons seen under a header "… (von 3)"), never "1/8", which Excel turns into 1 August;
- dates and times in ISO order, Europe/Berlin, "2026-04-01 14:30" (read as that date in any language; the headers
  name the time zone);
- text from the LMS (names, e-mail addresses, user ids; `Text`) that a spreadsheet would read as a number, a
  date or a truth value ("1/8", "März 2026", "0049 221", "WAHR") gets a leading apostrophe, and so does any cell
  that starts with = + - @ tab or CR, which would be read as a formula (OWASP "CSV injection").

The rows are produced lazily (generators, `listing.all_rows` reads them in batches), so a course of thousands of
learners is never held in memory; the view streams them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..course.completion import whole_percent
from ..i18n import spreadsheet_time
from ..models import Certificate
from .listing import people
from .rows import Row, Scope

BOM = "\ufeff"
CHUNK = 64 * 1024  # characters per piece of a streamed export
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Words a spreadsheet reads as part of a date (German and English months, Excel's "Mrz") or as a truth value.
_DATE_WORDS = re.compile(
    r"(?i)\b(?:jan(?:uar|uary)?|j[äa]n(?:ner)?|feb(?:ruar|ruary)?|m[äa]r(?:z|ch)?|mrz|apr(?:il)?|mai|may|"
    r"jun[ie]?|jul[iy]?|aug(?:ust)?|sep(?:t|tember)?|o[ck]t(?:ober)?|nov(?:ember)?|de[cz](?:ember)?|am|pm)\b\.?"
)
_VALUE_CHARACTERS = re.compile(r"[\d\s.,:/+\-%()€$]*")
_SAME_NUMBER = re.compile(r"0|[1-9]\d{0,14}")  # read as a number that shows just as written
_TRUTH = frozenset({"wahr", "falsch", "true", "false"})
_EXPONENT = re.compile(r"(?<=\d)[eE](?=[+-]?\d)")  # 1E5
_DIGIT = re.compile(r"\d")  # a search, not `any(c.isdigit() ...)`: 10 times faster on 50,000 rows x 7 cells
# A character neither in a value nor in a date word (@ in every e-mail address): the text stays text.
_NEVER_IN_A_VALUE = re.compile(r"[^\w\s.,:/+\-%()€$]|_")
# A letter next to a digit (7KQ2, 3a), but for the e of 1E5, is in no date word (those stand alone): text too.
_LETTER_BY_DIGIT = re.compile(r"\d[^\W\d_]|[^\W\d_]\d")


class Text(str):
    """Free text from the LMS (a name, an e-mail address, a user id): written so that it stays text."""

    __slots__ = ()


def reads_as_value(text: str) -> bool:
    """Would a spreadsheet read this text as a number, date, time or truth value that shows differently?
    (On the safe side: it may say yes to a few texts a spreadsheet would leave alone.)"""
    bare = text.strip()
    if not bare or _SAME_NUMBER.fullmatch(bare):
        return False
    if _DIGIT.search(bare) is None:  # most names and addresses: the quick way
        return bare.lower() in _TRUTH
    if bare.lower() in _TRUTH:
        return True
    if _NEVER_IN_A_VALUE.search(bare):
        return False
    rest = _EXPONENT.sub("", bare)
    if _LETTER_BY_DIGIT.search(rest):
        return False
    rest = _DATE_WORDS.sub(" ", rest)
    return _DIGIT.search(rest) is not None and _VALUE_CHARACTERS.fullmatch(rest) is not None


def cell(value: Any) -> str:
    """One field as text, neutralised against formula injection (and, for `Text`, against type guessing)."""
    if value.__class__ is str:  # most cells: the quick way (exports write 50,000 rows x 12 cells)
        return "'" + value if value.startswith(FORMULA_START) else value
    if value is None:
        return ""
    if value.__class__ is int and value >= 0:  # counts, whole percent: digits only
        return str(value)
    if value.__class__ is Text:
        text = str(value)
        return "'" + text if text.startswith(FORMULA_START) or reads_as_value(text) else text
    if isinstance(value, dt.datetime):
        return spreadsheet_time(value)
    if isinstance(value, float):
        return number(value)
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def number(value: float) -> str:
    """A number as German spreadsheets read it: 12,5 and 100 (no thousands separator, at most 2 decimals)."""
    rounded = round(value, 2)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.2f}".rstrip("0").replace(".", ",")


def percent(score: float | None) -> int | None:
    """A quiz score as whole percent, rounded down (as the pages show it)."""
    return None if score is None else whole_percent(score)


def lines(records: Iterable[Sequence[Any]], size: int = CHUNK) -> Iterator[str]:
    """CSV text in pieces of about `size` characters, the BOM first (alone: the download starts at once). A
    piece per record would cost the response a write per line, 50,000 for the register."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    write = writer.writerow
    yield BOM
    for record in records:
        write([cell(value) for value in record])
        if buffer.tell() >= size:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


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
        "practice:revision": _("revision asked for"),
        "practice:none": "",
        "module:completed": _("completed"),
        "module:in_progress": _("in progress"),
        "module:not_started": _("not started"),
        "delivery:failed": _("failed"),
        "delivery:removed": _("grade item deleted in the LMS"),
        "delivery:missing": _("missing in the LMS"),
        "delivery:pending": _("waiting"),
        "delivery:sent": _("sent"),
        "delivery:none": "",
        "yes": _("yes"),
        "no": _("no"),
    }


def gradebook_header(scope: Scope) -> list[str]:
    zone = _("German time")

    def timed(label: str) -> str:
        return f"{label} ({zone})"

    header = [
        _("Name"),
        _("E-mail"),
        _("LTI user id"),
        _("In the course's participant list"),
        timed(_("Course completed on")),
        _("Modules completed"),
        _("Modules in the course"),
        timed(_("Last activity")),
        _("Grades in the LMS"),
        _("Course grade sent"),
        _("Course grade: maximum"),
        timed(_("Course grade sent on")),
    ]
    for module in scope.course.modules:
        columns = [
            _("State"),
            _("Lessons seen (of %(total)s)", total=len(module.lessons)),
            _("Best quiz score (%)"),
            _("Quiz attempts"),
            _("Practice task"),
            timed(_("Completed on")),
        ]
        header += [f"{module.position}. {module.title}: {column}" for column in columns]
    return header


def gradebook_records(scope: Scope, batches: Iterable[list[Row]]) -> Iterator[list[Any]]:
    total = len(scope.course.modules)
    words = _words()
    yield gradebook_header(scope)
    for batch in batches:
        for row in batch:
            person = row.person
            grade = row.course_grade
            record: list[Any] = [
                Text(person.name) if person.name else None,
                Text(person.email) if person.email else None,
                Text(person.sub),
                words["yes" if person.in_roster else "no"],
                person.course_completed_at,
                person.modules_done,
                total,
                person.last_activity,
                words["delivery:" + row.delivery],
                None if grade is None else grade.score_given,
                None if grade is None else grade.score_maximum,
                None if grade is None else grade.sent_at,
            ]
            for module in row.modules:
                record += [
                    words["module:" + module.state],
                    module.lessons_seen,
                    percent(module.best_score),
                    module.attempts,
                    words["practice:" + module.practice],
                    module.completed_at,
                ]
            yield record


# --- The completion list ----------------------------------------------------------------------------------


def completion_records(s: Session, scope: Scope, *, batch: int) -> Iterator[list[Any]]:
    """Everyone listed who completed the course: name, e-mail, completion date, certificate code (if issued)."""
    completed, zone = _("Course completed on"), _("German time")
    yield [_("Name"), _("E-mail"), _("LTI user id"), f"{completed} ({zone})", _("Certificate code")]
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
            yield [
                Text(name) if name else None,
                Text(email) if email else None,
                Text(sub),
                completed_at,
                code,
            ]

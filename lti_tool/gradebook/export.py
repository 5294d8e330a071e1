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

The rows are produced lazily (generators; the gradebook's learners are read in batches through a server-side cursor
on PostgreSQL), so a course of thousands of learners is never held in memory; the view streams them.
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
from sqlalchemy import JSON, and_, case, exists, literal, null, select, type_coerce, union_all
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from ..course.completion import whole_percent
from ..grading.outbox import DELIVERED, WAITING, RowState, grade_columns, newest_rows
from ..i18n import spreadsheet_time
from ..models import Certificate, GradeOutbox, ModuleProgress, PracticeSubmission
from .listing import listing_query, people
from .rows import Scope

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


def lines(records: Iterable[Sequence[Any]], size: int = CHUNK, *, formatted: bool = False) -> Iterator[str]:
    """CSV text in pieces of about `size` characters, the BOM first (alone: the download starts at once). A
    piece per record would cost the response a write per line, 50,000 for the register. `formatted`: the
    records hold their cells' text already (`cell` applied)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    write = writer.writerow
    yield BOM
    for record in records:
        write(record if formatted else [cell(value) for value in record])
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


def gradebook_lines(s: Session, scope: Scope, *, sort: str, only: str, batch: int) -> Iterator[str]:
    """The gradebook as CSV text in pieces (`lines`): the header, then one row per listed learner, filtered and
    sorted as the gradebook (`listing.listing_query`, read `batch` learners at a time).

    The export's own path, not the page's (`rows.fill_rows`): each batch's module progress, practice tasks and
    newest grade rows come as plain tuples (three statements per batch), the fields are written straight to
    text, times read raw from the database and formatted once per minute (`_Times`). The page's objects (a
    Row, a ModuleCell per module, a Delivery per grade row) cost four fifths of the time at 5,000 learners."""
    yield from lines(_gradebook_texts(s, scope, sort=sort, only=only, batch=batch), formatted=True)


class _Times:
    """Spreadsheet times (`spreadsheet_time`) of raw database values, one conversion per minute of the export.

    SQLite hands the stored text ("2026-04-01 12:30:05.000000", naive UTC), PostgreSQL an aware datetime; read
    raw (`_raw`), they skip the ORM's datetime conversion (a Python call per value: 170,000 at 5,000 learners).
    The text shows minutes, and Berlin is a whole number of hours off UTC, so the seconds never change it."""

    def __init__(self) -> None:
        self.memo: dict[Any, str] = {}

    def __call__(self, raw: Any) -> str:
        if raw is None:
            return ""
        key = raw[:16] if raw.__class__ is str else raw.replace(second=0, microsecond=0)
        text = self.memo.get(key)
        if text is None:
            moment: dt.datetime = dt.datetime.fromisoformat(key) if isinstance(key, str) else key
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            text = self.memo[key] = spreadsheet_time(moment)
        return text


def _raw(column: Any) -> Any:
    """A datetime column read as the driver returns it (see `_Times`)."""
    return type_coerce(column, NullType())


def _whole(value: int) -> str:
    return str(value) if value >= 0 else cell(value)


def _sent_score(payload: Any) -> tuple[str, str]:
    """The course grade as sent (scoreGiven, scoreMaximum) as cells; empty unless FullyGraded (`delivery_from`)."""
    if isinstance(payload, dict) and payload.get("gradingProgress", "FullyGraded") == "FullyGraded":
        given, maximum = payload.get("scoreGiven"), payload.get("scoreMaximum")
        if isinstance(given, int | float) and isinstance(maximum, int | float):
            return number(float(given)), number(float(maximum))
    return "", ""


def _delivery_groups() -> dict[str, str]:
    """Grade row state -> its group (`rows.Delivery.group`)."""
    groups = {state: "none" for state in RowState}
    groups.update({state: "pending" for state in WAITING})
    groups.update({state: "sent" for state in DELIVERED})
    groups[RowState.FAILED] = "failed"
    groups[RowState.REMOVED] = "removed"
    return {str(state): group for state, group in groups.items()}


_DELIVERY_ORDER = ("failed", "removed", "pending", "missing", "sent")


def _gradebook_texts(s: Session, scope: Scope, *, sort: str, only: str, batch: int) -> Iterator[list[str]]:
    course = scope.course
    modules = course.modules
    words = {key: cell(word) for key, word in _words().items()}
    yield [cell(label) for label in gradebook_header(scope)]
    total = str(len(modules))
    times = _Times()
    groups = _delivery_groups()
    columns = None
    expected: dict[tuple[str, ...], set[str]] = {}
    # A module's cells for a learner with no progress and no practice text there
    untouched = [words["module:not_started"], "0", "", "0", "", ""]
    query = listing_query(
        scope,
        sort=sort,
        only=only,
        columns=lambda crowd: [
            crowd.c.sub,
            crowd.c.user_id,
            crowd.c.name,
            crowd.c.email,
            crowd.c.roster_status,
            _raw(crowd.c.course_completed_at),
            crowd.c.modules_done,
            _raw(crowd.c.last_activity),
        ],
    ).execution_options(yield_per=batch)
    connection = s.connection()  # Core rows: the ORM's result layer is not needed for plain columns
    for part in connection.execute(query).partitions():
        ids = [row[1] for row in part if row[1] is not None]
        progress: dict[tuple[int, str], Any] = {}
        deliveries: dict[int, list[Any]] = {}
        if ids:
            if columns is None:
                columns = grade_columns(s, scope.context_id, course)
            progress, deliveries = _details(s, scope, ids)
        for sub, user_id, name, email, roster_status, completed_at, done, last_activity in part:
            record = [
                cell(Text(name)) if name else "",
                cell(Text(email)) if email else "",
                cell(Text(sub)),
                words["no" if roster_status is None else "yes"],
                times(completed_at),
                _whole(int(done or 0)),
                total,
                times(last_activity),
            ]
            user = user_id or 0
            with_result = []
            for module in modules:
                key = (user, module.id)
                here = progress.get(key)
                if here is None:
                    record += untouched
                    continue
                seen, best, attempts, module_completed, practice_state = here
                if attempts or practice_state != "none" or module_completed is not None:
                    with_result.append(module.id)
                if module_completed is not None:
                    state = "completed"
                elif seen or attempts or practice_state != "none":
                    state = "in_progress"
                else:
                    state = "not_started"
                record += [
                    words["module:" + state],
                    _whole(min(int(seen), len(module.lessons))),
                    "" if best is None else _whole(whole_percent(best)),
                    _whole(int(attempts)),
                    words["practice:" + practice_state],
                    times(module_completed),
                ]
            newest = deliveries.get(user, ())
            found = {groups.get(row[2], "none") for row in newest}
            if columns is not None and user_id is not None and with_result:
                wanted = tuple(with_result)
                keys = expected.get(wanted)
                if keys is None:
                    keys = expected[wanted] = columns.expected(wanted)
                if keys - {row[1] for row in newest}:
                    found.add("missing")
            delivery = next((state for state in _DELIVERY_ORDER if state in found), "none")
            grade = max((row for row in newest if row[3]), key=lambda row: row[0], default=None)
            given, maximum = ("", "") if grade is None else _sent_score(grade[4])
            record[8:8] = [
                words["delivery:" + delivery],
                given,
                maximum,
                "" if grade is None else times(grade[5]),
            ]
            yield record


def _details(
    s: Session, scope: Scope, ids: list[int]
) -> tuple[dict[tuple[int, str], Any], dict[int, list[Any]]]:
    """For these learners: per module (lessons seen, best score, attempts, completed, the practice task's state)
    and the newest grade rows (id, target, state, is the course's, payload, sent) as plain tuples (two
    statements)."""
    c, course_id = scope.context_id, scope.course.id
    connection = s.connection()
    practice_state = case(
        (PracticeSubmission.reviewed_at.is_not(None), "reviewed"),
        (PracticeSubmission.revision_requested_at.is_not(None), "revision"),
        (PracticeSubmission.id.is_not(None), "submitted"),
        else_="none",
    )
    same_module = and_(
        PracticeSubmission.user_id == ModuleProgress.user_id,
        PracticeSubmission.context_id == ModuleProgress.context_id,
        PracticeSubmission.course_id == ModuleProgress.course_id,
        PracticeSubmission.module_id == ModuleProgress.module_id,
    )
    mine = (
        ModuleProgress.context_id == c,
        ModuleProgress.course_id == course_id,
        ModuleProgress.user_id.in_(ids),
    )
    with_progress = (
        select(
            ModuleProgress.user_id,
            ModuleProgress.module_id,
            ModuleProgress.lessons_seen,
            ModuleProgress.best_score,
            ModuleProgress.attempts,
            _raw(ModuleProgress.completed_at),
            practice_state,
        )
        .outerjoin(PracticeSubmission, same_module)
        .where(*mine)
    )
    # A practice text with no progress row in its module (progress writes one with the text; kept for any other)
    text_only = select(
        PracticeSubmission.user_id,
        PracticeSubmission.module_id,
        literal(0),
        null(),
        literal(0),
        null(),
        practice_state,
    ).where(
        PracticeSubmission.context_id == c,
        PracticeSubmission.course_id == course_id,
        PracticeSubmission.user_id.in_(ids),
        ~exists().where(same_module),
    )
    modules = {
        (user, module): (seen, best, attempts, completed, practice)
        for user, module, seen, best, attempts, completed, practice in connection.execute(
            union_all(with_progress, text_only)
        ).all()  # one fetchall, not a fetch per row
    }
    deliveries: dict[int, list[Any]] = {}
    is_course = GradeOutbox.module_id.is_(None)
    newest = newest_rows(context_id=c, course_id=course_id, user_ids=ids).with_only_columns(
        GradeOutbox.user_id,
        GradeOutbox.id,
        GradeOutbox.target,
        GradeOutbox.state,
        is_course,
        # only the course result's value and time are shown: the module rows' are not read
        type_coerce(case((is_course, GradeOutbox.payload), else_=null()), JSON),
        _raw(case((is_course, GradeOutbox.sent_at), else_=null())),
    )
    for user, *row in connection.execute(newest.where(GradeOutbox.state != RowState.SUPERSEDED)).all():
        deliveries.setdefault(user, []).append(row)
    return modules, deliveries


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

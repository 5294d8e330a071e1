"""CSV exports for spreadsheets (Excel, LibreOffice) in Germany: the gradebook and the completion list.

UTF-8 with a byte order mark (so Excel reads the umlauts), `;` between fields (`,` is the decimal mark here),
CRLF line ends. A spreadsheet guesses each cell's type, so every cell is written to be guessed right:
- counts and scores are plain numbers (a decimal comma: 12,5); progress is two numbers ("Abgeschlossene Module",
  "Module im Kurs"; lessons seen under a header "… (von 3)"), never "1/8", which Excel turns into 1 August;
- dates and times in ISO order, Europe/Berlin, "2026-04-01 14:30" (read as that date in any language; the headers
  name the time zone);
- user ids without the characters that show nothing or turn the text around (`text.shown_id`: a zero-width space
  before a "=" hid it from the formula check below);
- text from the LMS (names, e-mail addresses, user ids; `Text`) that a spreadsheet would read as a number, a
  date or a truth value ("1/8", "März 2026", "0049 221", "WAHR") gets a leading apostrophe, and so does any cell
  that starts with = + - @ tab or CR, which would be read as a formula (OWASP "CSV injection").

The rows are produced lazily (generators; the learners are read in batches through a server-side cursor on
PostgreSQL) and the view streams them: a course of thousands of learners is never held in memory as rows (the
gradebook export keeps each learner's module and grade cells as their text, about the size of the file).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import (
    JSON,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from ..course.completion import whole_percent
from ..grading.outbox import DELIVERED, WAITING, Columns, RowState, grade_columns, newest_rows
from ..i18n import spreadsheet_time
from ..models import Certificate, GradeOutbox, ModuleProgress, PracticeSubmission
from ..text import shown_id
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


def gradebook_lines(
    s: Session, scope: Scope, *, sort: str, only: str, batch: int, size: int = CHUNK
) -> Iterator[str]:
    """The gradebook as CSV text in pieces of about `size` characters, the BOM first (as `lines` writes them):
    the header, then one row per listed learner, filtered and sorted as the gradebook (`listing.listing_query`,
    read `batch` learners at a time through a server-side cursor on PostgreSQL).

    The export's own path, not the page's (`rows.fill_rows`), and not a statement per batch either: the module
    progress with the practice tasks, and the newest grade rows, are read for the whole course in one statement
    each (a statement per batch of 500 learners scanned the course's rows every time: 40 ms a batch on
    PostgreSQL) and kept as the text they become, a few hundred characters a learner (`_ModuleTexts`,
    `_delivery_texts`). The lines are written straight to text (`field`, as `lines`' csv.writer quotes), a
    module's first five cells once per combination of values, times once per hour (`_Times`)."""
    yield BOM
    pieces: list[str] = []
    length = 0
    for line in _gradebook_text(s, scope, sort=sort, only=only, batch=batch):
        pieces.append(line)
        length += len(line)
        if length >= size:
            yield "".join(pieces)
            pieces, length = [], 0
    if pieces:
        yield "".join(pieces)


_QUOTED = re.compile(r'[;"\r\n]')


def field(text: str) -> str:
    """A cell's text (`cell` applied) as `lines`' csv.writer writes it (QUOTE_MINIMAL, `;`): in quotes, its own
    quotes doubled, when it holds a `;`, a quote or a line break."""
    if _QUOTED.search(text) is None:
        return text
    return '"' + text.replace('"', '""') + '"'


class _Times:
    """Spreadsheet times (`spreadsheet_time`) of the database's UTC times read as text (`_utc`: "2026-04-01 12:30…"),
    one conversion per hour of the export: Berlin is a whole number of hours off UTC, so the minutes stay as they
    are. (A conversion per value was a Python datetime and three calls, 60,000 at 5,000 learners; one per minute
    still converted most of them.)"""

    def __init__(self) -> None:
        self.hours: dict[str, str] = {}

    def __call__(self, raw: str | None) -> str:
        if raw is None:
            return ""
        hour = self.hours.get(raw[:13])
        if hour is None:
            moment = dt.datetime.fromisoformat(raw[:13] + ":00").replace(tzinfo=dt.UTC)
            hour = self.hours[raw[:13]] = spreadsheet_time(moment)[:13]
        return hour + raw[13:16]


def _utc(column: Any, dialect: str) -> Any:
    """A datetime column as UTC text to the minute or beyond ("2026-04-01 12:30…", see `_Times`): as SQLite
    stores it (read raw, past the ORM's datetime conversion), or written so by PostgreSQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI")
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


def _gradebook_text(s: Session, scope: Scope, *, sort: str, only: str, batch: int) -> Iterator[str]:
    """The header and every listed learner's row as a CSV line."""
    course = scope.course
    words = {key: field(cell(word)) for key, word in _words().items()}
    yield ";".join(field(cell(label)) for label in gradebook_header(scope)) + "\r\n"
    connection = s.connection()  # Core rows: the ORM's result layer is not needed for plain columns
    # (No `SET LOCAL cursor_tuple_fraction = 1.0` as for the register's export: the learners are sorted, so
    # PostgreSQL plans their cursor for all rows anyway; EXPLAIN DECLARE shows the same hash joins either way.)
    dialect = connection.dialect.name
    times = _Times()
    modules = _ModuleTexts(course, words, times)
    modules.read(connection, scope)
    columns = grade_columns(s, scope.context_id, course) if modules.texts else None
    deliveries = _delivery_texts(connection, scope, modules, columns, words, times)
    nothing_sent = ";".join((words["delivery:none"], "", "", ""))
    untouched = modules.untouched
    total = str(len(course.modules))
    listed, unlisted = words["yes"], words["no"]
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
            _utc(crowd.c.course_completed_at, dialect),
            crowd.c.modules_done,
            _utc(crowd.c.last_activity, dialect),
        ],
    ).execution_options(yield_per=batch)
    texts = modules.texts
    for part in connection.execute(query).partitions():
        for sub, user_id, name, email, roster_status, completed_at, done, last_activity in part:
            yield (
                ";".join(
                    (
                        field(cell(Text(name))) if name else "",
                        field(cell(Text(email))) if email else "",
                        field(cell(Text(shown_id(sub)))),
                        unlisted if roster_status is None else listed,
                        times(completed_at),
                        _whole(int(done or 0)),
                        total,
                        times(last_activity),
                        deliveries.get(user_id, nothing_sent),
                        texts.get(user_id, untouched),
                    )
                )
                + "\r\n"
            )


class _ModuleTexts:
    """Each learner's module cells (six a module, in the course's order) as CSV text, read for the whole course:
    `texts[user id]`, and the modules with a result (a quiz attempt, a practice task or the module completed,
    `with_result[user id]`) whose grade columns the learner should have (`_delivery_texts`, "missing")."""

    def __init__(self, course: Any, words: dict[str, str], times: _Times) -> None:
        self.modules = course.modules
        self.words = words
        self.times = times
        self.texts: dict[int, str] = {}
        self.with_result: dict[int, tuple[str, ...]] = {}
        # A module's cells for a learner with no progress and no practice text there
        self.nothing = ";".join((words["module:not_started"], "0", "", "0", "", ""))
        self.untouched = ";".join([self.nothing] * len(self.modules))
        self.first_five: dict[tuple[Any, ...], str] = {}

    def read(self, connection: Any, scope: Scope) -> None:
        """Each learner's rows in turn (the statement sorts them by learner): their text is made as soon as
        their rows are read, so no per-learner list outlives them (thousands of those survived into the garbage
        collector's oldest generation and set off a full pass every other export: 50-70 ms)."""
        position = {module.id: n for n, module in enumerate(self.modules)}
        ids = [module.id for module in self.modules]
        for user, rows in groupby(_rows(connection, _module_rows(scope, connection.dialect.name)), _first):
            mine = [self.nothing] * len(self.modules)
            found = []
            for _user, module_id, seen, best, attempts, completed, practice in rows:
                n = position.get(module_id)
                if n is None:  # a module no longer in the course
                    continue
                mine[n] = self._cells(n, seen, best, attempts, completed, practice)
                if attempts or practice != "none" or completed is not None:
                    found.append(n)
            self.texts[user] = ";".join(mine)
            if found:
                self.with_result[user] = tuple(ids[n] for n in sorted(found))

    def _cells(self, n: int, seen: Any, best: Any, attempts: Any, completed: Any, practice: str) -> str:
        key = (n, seen, best, attempts, completed is None, practice)
        first = self.first_five.get(key)
        if first is None:
            if completed is not None:
                state = "completed"
            elif seen or attempts or practice != "none":
                state = "in_progress"
            else:
                state = "not_started"
            words = self.words
            first = self.first_five[key] = ";".join(
                (
                    words["module:" + state],
                    _whole(min(int(seen), len(self.modules[n].lessons))),
                    "" if best is None else _whole(whole_percent(best)),
                    _whole(int(attempts)),
                    words["practice:" + practice],
                    "",
                )
            )
        return first + self.times(completed) if completed is not None else first


_first = itemgetter(0)


def _rows(connection: Any, query: Any, size: int = 100) -> Iterator[Any]:
    """A statement's rows, fetched `size` at a time: a driver call per piece, not per row (psycopg's fetchone is
    a chain of Python calls), and pieces small enough to be dropped before the garbage collector looks at them
    (2,000 rows at a time survived into its older generations: 40-60 ms more per export on SQLite)."""
    for part in connection.execute(query).partitions(size):
        yield from part


def _practice_state(text: Any) -> Any:
    """SQL: the state of a practice task (`PracticeSubmission` or a subquery of its columns; none: no text)."""
    return case(
        (text.reviewed_at.is_not(None), "reviewed"),
        (text.revision_requested_at.is_not(None), "revision"),
        (text.id.is_not(None), "submitted"),
        else_="none",
    )


def _module_rows(scope: Scope, dialect: str) -> Any:
    """Per learner and module of the course: lessons seen, best score, attempts, completed, the practice task's
    state (one statement)."""
    if dialect == "postgresql":
        return _module_rows_joined(scope, dialect)
    c, course_id = scope.context_id, scope.course.id
    practice_state = _practice_state(PracticeSubmission)
    same_module = and_(
        PracticeSubmission.user_id == ModuleProgress.user_id,
        PracticeSubmission.context_id == ModuleProgress.context_id,
        PracticeSubmission.course_id == ModuleProgress.course_id,
        PracticeSubmission.module_id == ModuleProgress.module_id,
    )
    with_progress = (
        select(
            ModuleProgress.user_id,
            ModuleProgress.module_id,
            ModuleProgress.lessons_seen,
            ModuleProgress.best_score,
            ModuleProgress.attempts,
            _utc(ModuleProgress.completed_at, dialect),
            practice_state,
        )
        .outerjoin(PracticeSubmission, same_module)
        .where(ModuleProgress.context_id == c, ModuleProgress.course_id == course_id)
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
        ~exists().where(same_module),
    )
    return union_all(with_progress, text_only).order_by(literal_column("user_id"))


def _module_rows_joined(scope: Scope, dialect: str) -> Any:
    """`_module_rows` as a FULL JOIN of the course's progress rows and practice tasks, for PostgreSQL: one pass
    over each table, where the UNION's second part (the texts without a progress row) read both again, half the
    statement's time. (SQLite plans this join without its indexes: seconds at 5,000 learners.)"""
    c, course_id = scope.context_id, scope.course.id
    progress = (
        select(
            ModuleProgress.user_id,
            ModuleProgress.module_id,
            ModuleProgress.lessons_seen,
            ModuleProgress.best_score,
            ModuleProgress.attempts,
            ModuleProgress.completed_at,
        )
        .where(ModuleProgress.context_id == c, ModuleProgress.course_id == course_id)
        .subquery("progress")
    )
    texts = (
        select(
            PracticeSubmission.id,
            PracticeSubmission.user_id,
            PracticeSubmission.module_id,
            PracticeSubmission.reviewed_at,
            PracticeSubmission.revision_requested_at,
        )
        .where(PracticeSubmission.context_id == c, PracticeSubmission.course_id == course_id)
        .subquery("texts")
    )
    return (
        select(
            func.coalesce(progress.c.user_id, texts.c.user_id).label("user_id"),
            func.coalesce(progress.c.module_id, texts.c.module_id),
            func.coalesce(progress.c.lessons_seen, 0),
            progress.c.best_score,
            func.coalesce(progress.c.attempts, 0),
            _utc(progress.c.completed_at, dialect),
            _practice_state(texts.c),
        )
        .select_from(progress)
        .join(
            texts,
            and_(texts.c.user_id == progress.c.user_id, texts.c.module_id == progress.c.module_id),
            full=True,
        )
        .order_by(literal_column("user_id"))
    )


def _delivery_texts(
    connection: Any,
    scope: Scope,
    modules: _ModuleTexts,
    columns: Columns | None,
    words: dict[str, str],
    times: _Times,
) -> dict[int, str]:
    """Each learner's four delivery cells (the state of their grades in the LMS, the course grade sent, its
    maximum and when) as CSV text, from the newest grade rows of the course (one statement): for everyone with
    grade rows or a module result (whose grade may be "missing")."""
    dialect = connection.dialect.name
    is_course = GradeOutbox.module_id.is_(None)
    newest = newest_rows(context_id=scope.context_id, course_id=scope.course.id).with_only_columns(
        GradeOutbox.user_id,
        GradeOutbox.id,
        GradeOutbox.target,
        GradeOutbox.state,
        is_course,
        # only the course result's value and time are shown: the module rows' are not read
        type_coerce(case((is_course, GradeOutbox.payload), else_=null()), JSON),
        _utc(case((is_course, GradeOutbox.sent_at), else_=null()), dialect),
    )
    groups = _delivery_groups()
    expected: dict[tuple[str, ...], set[str]] = {}

    def text(user: int, found: set[str], targets: set[str], grade: Any) -> str:
        wanted = modules.with_result.get(user)
        if columns is not None and wanted:
            keys = expected.get(wanted)
            if keys is None:
                keys = expected[wanted] = columns.expected(wanted)
            if keys - targets:
                found.add("missing")
        delivery = next((state for state in _DELIVERY_ORDER if state in found), "none")
        given, maximum = ("", "") if grade is None else _sent_score(grade[1])
        return ";".join(
            (words["delivery:" + delivery], given, maximum, "" if grade is None else times(grade[2]))
        )

    texts: dict[int, str] = {}
    # Sorted after reading (`+ 0`): SQLite would otherwise walk ix_grade_outbox_target for the order and read the
    # table in that order, 15 ms more at 5,000 learners
    query = newest.where(GradeOutbox.state != RowState.SUPERSEDED).order_by(GradeOutbox.user_id + 0)
    for user, rows in groupby(_rows(connection, query), _first):  # a learner's rows in turn (see `read`)
        found: set[str] = set()
        targets: set[str] = set()
        grade = None
        for _user, row_id, target, state, course_row, payload, sent_at in rows:
            found.add(groups.get(state, "none"))
            targets.add(target)
            if course_row and (grade is None or row_id > grade[0]):
                grade = (row_id, payload, sent_at)
        texts[user] = text(user, found, targets, grade)
    for user in modules.with_result.keys() - texts.keys():  # a result, no grade row: maybe "missing"
        texts[user] = text(user, set(), set(), None)
    return texts


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
                Text(shown_id(sub)),
                completed_at,
                code,
            ]

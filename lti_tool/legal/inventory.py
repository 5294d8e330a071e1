"""What personal data the tool keeps, declared next to each table, and read from there by the privacy notice,
the record of processing activities (Art. 30 GDPR) and the data-flow description for an LMS's data-protection
officer.

Every model in lti_tool/models/ sets `__data__`: `NoPersonalData(reason)`, or `PersonalData(...)` whose
groups name every column of the table (row and foreign keys listed as `keys`), each group with what it is,
why it is kept, where it comes from and who sees it; the table says how long its rows are kept. `problems()`
lists every table or column without a declaration: tests/legal/test_inventory.py fails on any, so a column
cannot hold personal data without a stated purpose.

No Flask here (models import this module): texts are only marked for translation (`N_`) and translated where
they are shown (lti_tool/legal/notice.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


def N_(text: str) -> str:  # the gettext convention Babel extracts
    """Marks a text for translation without translating it (translated where it is shown)."""
    return text


class Audience(StrEnum):
    """Who can see a piece of data, in the tool or because the tool hands it on."""

    LEARNER = "learner"  # the person themself, on their own pages
    PEERS = "peers"  # other learners of the same LMS course (the exchange page of a practice task)
    INSTRUCTOR = "instructor"  # instructors of the same LMS course (gradebook, CSV downloads)
    CERTIFICATION_OFFICE = "certification_office"  # the completion list instructors hand on
    PUBLIC_WITH_CODE = "public_with_code"  # anyone who holds a certificate's code (/verify)
    LMS = "lms"  # the learning platform the person came from (grades sent back)
    OPERATOR = "operator"  # the people running the tool (operator area, server)


class Subject(StrEnum):
    """Whose data it is (categories of data subjects, Art. 30(1)(c) GDPR)."""

    PARTICIPANT = "participant"  # learners and instructors who opened the tool from their LMS
    ROSTER_MEMBER = "roster_member"  # members of an LMS course as its participant list names them
    OPERATOR = "operator"  # accounts of the operator area (operators and the certification office)


class SourceKind(StrEnum):
    LAUNCH = "launch"  # claims of the LTI launch (the id_token the LMS signs)
    ROSTER = "roster"  # the LMS's participant list (LTI Names and Role Provisioning Services)
    PERSON = "person"  # what the person does or writes in the tool
    INSTRUCTOR = "instructor"  # what an instructor writes about it
    TOOL = "tool"  # made by the tool (codes, times, values derived from the above)
    OPERATOR = "operator"  # entered by an operator on the server
    OFFICE = "office"  # entered by the certification office in its register


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    # Claim names of the launch (`sub`, `name`, or the last part of an LTI claim URI such as `roles`), or
    # member fields of the participant list.
    fields: tuple[str, ...] = ()


def launch(*claims: str) -> Source:
    return Source(SourceKind.LAUNCH, claims)


def roster(*fields: str) -> Source:
    return Source(SourceKind.ROSTER, fields)


PERSON = Source(SourceKind.PERSON)
INSTRUCTOR_INPUT = Source(SourceKind.INSTRUCTOR)
TOOL = Source(SourceKind.TOOL)
OPERATOR_INPUT = Source(SourceKind.OPERATOR)
OFFICE_INPUT = Source(SourceKind.OFFICE)


class Retention(StrEnum):
    """How long rows are kept; each rule is described with the settings it depends on (notice.py)."""

    UNTIL_DELETED = "until_deleted"  # until `learner delete`
    SESSION = "session"  # SESSION_IDLE/LIFETIME_SECONDS, purged by housekeeping
    ROSTER = "roster"  # replaced by every update of the participant list
    LAUNCH_STORE = "launch_store"  # short-lived entries with their own expiry
    OPERATOR_ACCOUNT = "operator_account"  # until `admin delete-user`
    REGISTER = "register"  # the certification register: REGISTER_RETENTION_DAYS, or until `learner delete`
    GRADE_HISTORY = (
        "grade_history"  # grade outbox rows: GRADE_HISTORY_DAYS, the newest until `learner delete`
    )
    ERASURE = "erasure"  # records of deletions: as long as the tool runs (a restore must delete again)


# The settings (config/defaults.py) each rule's description names with their values.
RETENTION_SETTINGS: dict[Retention, tuple[str, ...]] = {
    Retention.UNTIL_DELETED: (),
    Retention.SESSION: ("SESSION_IDLE_SECONDS", "SESSION_LIFETIME_SECONDS", "HOUSEKEEPING_SECONDS"),
    Retention.ROSTER: (),
    Retention.LAUNCH_STORE: ("ADMIN_SESSION_SECONDS", "ADMIN_LOGIN_LOCKOUT_SECONDS", "HOUSEKEEPING_SECONDS"),
    Retention.OPERATOR_ACCOUNT: (),
    Retention.REGISTER: ("REGISTER_RETENTION_DAYS", "HOUSEKEEPING_SECONDS"),
    Retention.GRADE_HISTORY: ("GRADE_HISTORY_DAYS",),
    Retention.ERASURE: (),
}


@dataclass(frozen=True)
class Group:
    """Columns kept for one purpose."""

    columns: tuple[str, ...]
    data: str  # what it is, in words a learner reads ("name and e-mail address")
    purpose: str  # why the tool keeps it
    source: Source
    seen_by: frozenset[Audience]


@dataclass(frozen=True)
class PersonalData:
    title: str  # what the table is, for people ("Your course account")
    subjects: frozenset[Subject]
    groups: tuple[Group, ...]
    retention: Retention
    # Row and foreign keys: they link rows and say nothing of their own.
    keys: tuple[str, ...] = ("id",)


@dataclass(frozen=True)
class NoPersonalData:
    reason: str  # why nothing in the table is about a person


Declaration = PersonalData | NoPersonalData


def group(
    columns: tuple[str, ...] | str,
    data: str,
    purpose: str,
    source: Source,
    seen_by: tuple[Audience, ...],
) -> Group:
    """A Group, written compactly in the models."""
    cols = (columns,) if isinstance(columns, str) else columns
    return Group(cols, data, purpose, source, frozenset(seen_by))


@dataclass(frozen=True)
class Table:
    name: str
    model: type[Any]
    declaration: Declaration
    columns: tuple[str, ...] = field(default=())

    @property
    def personal(self) -> PersonalData | None:
        return self.declaration if isinstance(self.declaration, PersonalData) else None


def tables(base: type[Any]) -> list[Table]:
    """Every mapped table with its declaration (undeclared ones are left out: see `problems`)."""
    found: list[Table] = []
    for mapper in sorted(base.registry.mappers, key=lambda m: m.local_table.name):
        declaration = mapper.class_.__dict__.get("__data__")
        if isinstance(declaration, (PersonalData, NoPersonalData)):
            columns = tuple(c.name for c in mapper.local_table.columns)
            found.append(Table(mapper.local_table.name, mapper.class_, declaration, columns))
    return found


# Column names that mean a person wherever they stand; a table declared free of personal data has none.
PERSONAL_NAMES = re.compile(
    r"(^|_)(sub|email|e_mail|given_name|family_name|full_name|holder_name|username|user_id|ip|ip_address|"
    r"address|phone|birthdate|answers?|feedback|text)$"
)
PERSON_TABLES = {"lti_user", "operator"}


def problems(base: type[Any]) -> list[str]:
    """Every table or column whose personal data has no declared purpose; empty when all is declared."""
    found: list[str] = []
    for mapper in sorted(base.registry.mappers, key=lambda m: m.local_table.name):
        table = mapper.local_table
        model = mapper.class_.__name__
        declaration = mapper.class_.__dict__.get("__data__")
        columns = [c.name for c in table.columns]
        if not isinstance(declaration, (PersonalData, NoPersonalData)):
            found.append(
                f"{model} ({table.name}) declares nothing: add `__data__ = NoPersonalData(...)` or "
                "`PersonalData(...)` (lti_tool/legal/inventory.py says how)"
            )
            continue
        if isinstance(declaration, NoPersonalData):
            for column in table.columns:
                points_at_person = any(fk.column.table.name in PERSON_TABLES for fk in column.foreign_keys)
                if points_at_person or PERSONAL_NAMES.search(column.name):
                    found.append(
                        f"{model}.{column.name} looks like personal data, but {model} declares "
                        "NoPersonalData: declare the table as PersonalData with a purpose for this column"
                    )
            continue
        named: dict[str, int] = {}
        for key in declaration.keys:
            named[key] = named.get(key, 0) + 1
            column = table.columns.get(key)
            if column is not None and not (column.primary_key or column.foreign_keys):
                found.append(f"{model}.{key} is listed as a key but is neither a primary nor a foreign key")
        for g in declaration.groups:
            if not g.purpose.strip() or not g.data.strip():
                found.append(f"{model} {g.columns}: a group needs what the data is and its purpose")
            if not g.seen_by:
                found.append(f"{model} {g.columns}: a group needs who sees the data")
            if g.source.kind in (SourceKind.LAUNCH, SourceKind.ROSTER) and not g.source.fields:
                found.append(f"{model} {g.columns}: name the claims or member fields the data comes from")
            for name in g.columns:
                named[name] = named.get(name, 0) + 1
        for name in columns:
            if name not in named:
                found.append(
                    f"{model}.{name} has no declared purpose: add it to a group of {model}.__data__ "
                    "(what it is, why it is kept, where it comes from, who sees it)"
                )
        for name, count in named.items():
            if name not in columns:
                found.append(f"{model}.__data__ names {name}, which is not a column of {table.name}")
            elif count > 1:
                found.append(f"{model}.__data__ names {name} {count} times")
    return found

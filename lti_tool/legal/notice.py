"""The data part of the privacy notice, the record of processing activities and the data-flow description,
made from the declarations next to the models (inventory.py), the settings in force and the code that talks
to the learning platform (the claims a launch stores, the participant list's fields, the score and grade
column the tool sends).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext

from ..course.drafts import DRAFT_DAYS
from ..grading.ags import lineitem_body
from ..grading.payloads import Result
from ..i18n import LazyText
from ..i18n import lazy_gettext as _l
from ..models import Base
from .inventory import (
    Audience,
    NoPersonalData,
    PersonalData,
    Retention,
    Source,
    SourceKind,
    Subject,
    tables,
)

# The date the privacy notice's hand-written parts were last changed (the data part follows the code).
AS_OF = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
LTI = "https://purl.imsglobal.org/spec/lti/claim/"


def _t(text: str, **variables: Any) -> str:
    """gettext, typed (Flask-Babel's has no type hints)."""
    return str(gettext(text, **variables))


# Short claim names (as the declarations use them) and where they stand in the id_token.
CLAIM_NAMES: dict[str, str] = {
    "sub": "sub",
    "name": "name",
    "given_name": "given_name",
    "family_name": "family_name",
    "email": "email",
    "roles": LTI + "roles",
    "launch_presentation": LTI + "launch_presentation",
    "custom": LTI + "custom",
    "deep_linking_settings": "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings",
}

AUDIENCES: dict[Audience, LazyText] = {
    Audience.LEARNER: _l("you"),
    Audience.PEERS: _l("other learners of the same LMS course"),
    Audience.INSTRUCTOR: _l("instructors of the same LMS course"),
    Audience.CERTIFICATION_OFFICE: _l(
        "the NaMa NRW certification office (its register in the tool, and the completion list instructors hand on)"
    ),
    Audience.PUBLIC_WITH_CODE: _l("anyone who holds the certificate's code"),
    Audience.LMS: _l("your learning platform (grades)"),
    Audience.OPERATOR: _l("the tool's operators (operator area)"),
}
SUBJECTS: dict[Subject, LazyText] = {
    Subject.PARTICIPANT: _l("learners and instructors who opened the tool from their learning platform"),
    Subject.ROSTER_MEMBER: _l("members of an LMS course as its participant list names them"),
    Subject.OPERATOR: _l("operators of the tool and staff of the certification office with an account"),
}


def source_text(source: Source) -> str:
    fields = ", ".join(source.fields)
    if source.kind == SourceKind.LAUNCH:
        return str(_l("the launch from your learning platform (claims: %(claims)s)", claims=fields))
    if source.kind == SourceKind.ROSTER:
        return str(_l("the LMS course's participant list (fields: %(fields)s)", fields=fields))
    return str(
        {
            SourceKind.PERSON: _l("what you do or write in the tool"),
            SourceKind.INSTRUCTOR: _l("instructors of your course"),
            SourceKind.TOOL: _l("the tool itself (from what you do in it)"),
            SourceKind.OPERATOR: _l("an operator, on the server"),
            SourceKind.OFFICE: _l("the certification office, in its register"),
        }[source.kind]
    )


def _number(value: float) -> str:
    return f"{value:g}"


def retention_text(rule: Retention, config: Any) -> str:
    every = int(config["HOUSEKEEPING_SECONDS"])
    purge = (
        str(_l("expired entries are removed every %(minutes)s minutes", minutes=_number(every / 60)))
        if every > 0
        else str(
            _l("expired entries are removed now and then at a launch and by scripts/flask launch-store purge")
        )
    )
    if rule == Retention.UNTIL_DELETED:
        return str(
            _l(
                "No automatic expiry: kept until the operator deletes the person's data on request "
                "(scripts/flask learner delete). Grades already in the learning platform stay there."
            )
        )
    if rule == Retention.SESSION:
        return str(
            _l(
                "A session ends %(idle)s minutes after its last request and %(hours)s hours after the launch at "
                "the latest; it is deleted one hour after that (%(purge)s).",
                idle=_number(int(config["SESSION_IDLE_SECONDS"]) / 60),
                hours=_number(int(config["SESSION_LIFETIME_SECONDS"]) / 3600),
                purge=purge,
            )
        )
    if rule == Retention.ROSTER:
        return str(
            _l(
                "Replaced by every update of the participant list (an instructor presses “Update the participant "
                "list”): a person the list no longer names is removed then. Otherwise kept like the course data."
            )
        )
    if rule == Retention.LAUNCH_STORE:
        return str(
            _l(
                "Every entry expires on its own: an operator's sign-in after %(hours)s hours at the latest, counts "
                "of failed sign-ins after %(lockout)s minutes, used-up launch numbers minutes after the launch, a "
                "kept practice text after %(days)s days (%(purge)s).",
                hours=_number(int(config["ADMIN_SESSION_SECONDS"]) / 3600),
                lockout=_number(int(config["ADMIN_LOGIN_LOCKOUT_SECONDS"]) / 60),
                days=DRAFT_DAYS,
                purge=purge,
            )
        )
    if rule == Retention.REGISTER:
        days = int(config["REGISTER_RETENTION_DAYS"])
        if days <= 0:
            return str(
                _l(
                    "Kept until the learner's data is deleted (scripts/flask learner delete): the register keeps "
                    "no shorter time (REGISTER_RETENTION_DAYS is 0)."
                )
            )
        return str(
            _l(
                "Removed %(days)s days after the completion (REGISTER_RETENTION_DAYS), or earlier when the "
                "learner's data is deleted (%(purge)s).",
                days=days,
                purge=purge,
            )
        )
    if rule == Retention.GRADE_HISTORY:
        days = int(config["GRADE_HISTORY_DAYS"])
        if days <= 0:
            return str(
                _l(
                    "Kept until the person's data is deleted (scripts/flask learner delete); a grade replaced "
                    "before it was sent is removed an hour after it was queued. Grades already in the learning "
                    "platform stay there."
                )
            )
        return str(
            _l(
                "The newest grade for each grade item, and grades not yet delivered or refused, are kept until "
                "the person's data is deleted (scripts/flask learner delete). Earlier grades are removed by the "
                "grade workers %(days)s days after they arrived (GRADE_HISTORY_DAYS), a grade replaced before it "
                "was sent an hour after it was queued. Grades already in the learning platform stay there.",
                days=days,
            )
        )
    if rule == Retention.ERASURE:
        return str(
            _l(
                "Kept as long as the tool is operated, so that a deletion also holds after a restore from an older "
                "backup (the erasure log outside the database keeps the same records for that). Without the key, "
                "which is not stored in the database, the hash names nobody."
            )
        )
    assert rule == Retention.OPERATOR_ACCOUNT
    return str(_l("Until the account is deleted (scripts/flask admin delete-user)."))


@dataclass(frozen=True)
class GroupView:
    data: str
    columns: tuple[str, ...]
    purpose: str
    source: str
    seen_by: list[str]
    audiences: frozenset[Audience]


@dataclass(frozen=True)
class TableView:
    name: str
    title: str
    subjects: list[str]
    groups: list[GroupView]
    retention: str
    keys: tuple[str, ...]


def personal_data(config: Any) -> list[TableView]:
    """Every table that holds personal data, in the order the models define them, in the current language."""
    order = list(Base.metadata.tables)
    found = sorted((t for t in tables(Base) if t.personal is not None), key=lambda t: order.index(t.name))
    views: list[TableView] = []
    for table in found:
        declared = table.personal
        assert declared is not None
        views.append(
            TableView(
                name=table.name,
                title=_t(declared.title),
                subjects=[str(SUBJECTS[s]) for s in Subject if s in declared.subjects],
                groups=[
                    GroupView(
                        data=_t(g.data),
                        columns=g.columns,
                        purpose=_t(g.purpose),
                        source=source_text(g.source),
                        seen_by=[str(AUDIENCES[a]) for a in Audience if a in g.seen_by],
                        audiences=g.seen_by,
                    )
                    for g in declared.groups
                ],
                retention=retention_text(declared.retention, config),
                keys=declared.keys,
            )
        )
    return views


def tables_without_personal_data() -> list[tuple[str, str]]:
    return [
        (t.name, _t(t.declaration.reason)) for t in tables(Base) if isinstance(t.declaration, NoPersonalData)
    ]


def recipients(views: list[TableView]) -> list[str]:
    """Who sees any personal data (Art. 13(1)(e), Art. 30(1)(d)), in a fixed order."""
    seen = frozenset().union(*(g.audiences for v in views for g in v.groups))
    return [str(AUDIENCES[a]) for a in Audience if a in seen and a != Audience.LEARNER]


def subjects(views: list[TableView]) -> list[str]:
    found = {s for v in views for s in v.subjects}
    return [str(text) for s, text in SUBJECTS.items() if str(text) in found]


# --- what flows between the learning platform and the tool --------------------------------------------------


def _sources(kind: SourceKind) -> list[str]:
    names: list[str] = []
    for table in tables(Base):
        declared = table.declaration
        if isinstance(declared, PersonalData):
            for g in declared.groups:
                if g.source.kind == kind:
                    names += [n for n in g.source.fields if n not in names]
    return names


def launch_claims_kept() -> list[tuple[str, str]]:
    """The launch claims whose values the tool keeps about a person: (short name, claim as in the id_token)."""
    kept = set(_sources(SourceKind.LAUNCH))
    return [(name, full) for name, full in CLAIM_NAMES.items() if name in kept]


def roster_fields_kept() -> list[str]:
    return _sources(SourceKind.ROSTER)


def score_fields() -> list[str]:
    """Every field of a score the tool posts to the learning platform (grading/payloads.py)."""
    return list(Result(0.0, "", "", "").payload("sub", "timestamp"))


def lineitem_fields() -> list[str]:
    """Every field of a grade column the tool creates (grading/ags.py)."""
    return list(lineitem_body(resource_id="", tag="", label=""))

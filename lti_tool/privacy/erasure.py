"""Erasures that hold: what a deletion leaves behind so that it stays a deletion.

`erase` deletes a person (learner_data.delete_learner) and records an `Erasure`: a keyed hash of (issuer, client
id, sub) — the *subject* — with the time, and nothing else about them. The record does three jobs:
- a roster refresh (NRPS) does not store the person again (`erased_subs`), unless they came back by launching;
- someone who comes back starts afresh, and the tool holds their grades (`HOLD_GRADES`, at the launch): a fresh
  start would otherwise overwrite the grades the LMS holds (a 100 becomes a 0) — until the operator allows it
  (`allow_grades`) or the deletion said so (`send_grades`);
- a restore from a backup older than the deletion brings the person back; `reapply` erases them again.
  Because such a backup does not hold the record either, every erasure is also appended to a log file outside
  the database (`ERASURE_LOG`, default `instance/erasures.jsonl`), written before the deletion commits.

The subjects and the lookups a launch and a roster refresh make live in subjects.py. The key is derived from the
key secret (`LTI_TOOL_KEY_SECRETS`, else `LTI_TOOL_SECRET_KEY`) with HMAC, so that neither the database nor the
log alone tells whose sub a record is (Moodle's subs are small numbers: a plain hash would be undone by counting). Records match under every configured secret (newest first; rotation) and carry
the id of the key that made them, so that a record no configured secret can match is reported, not ignored.
A person is erased again only where their rows are older than the erasure: who came back afterwards keeps
what they did since.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..course.model import Catalog
from ..gradebook.listed import relist_person
from ..grading import enqueue_grades
from ..models import (
    Context,
    CourseProgress,
    Deployment,
    Erasure,
    ModuleProgress,
    Platform,
    RosterEntry,
    User,
    utcnow,
)
from .learner_data import Deletion, Person, delete_learner
from .subjects import find_erasure, subject_keys, subject_of


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    """An erasure as the log file and the database hold it (no personal data)."""

    subject: str
    key_id: str
    erased_at: dt.datetime
    send_grades: bool

    def to_json(self) -> str:
        return json.dumps(
            {
                "subject": self.subject,
                "key_id": self.key_id,
                "erased_at": self.erased_at.isoformat(),
                "send_grades": self.send_grades,
            },
            sort_keys=True,
        )

    @classmethod
    def of(cls, row: Erasure) -> ErasureRecord:
        return cls(row.subject, row.key_id, row.erased_at, row.send_grades)


class ErasureLogError(ValueError):
    """The erasure log cannot be written or read; the message names the file (and line)."""


def log_path(app: Flask) -> Path:
    configured = str(app.config.get("ERASURE_LOG") or "")
    return Path(configured) if configured else Path(app.instance_path) / "erasures.jsonl"


def append_to_log(path: Path, record: ErasureRecord) -> None:
    """Append one line and fsync it (the file is created 0600). Raises ErasureLogError: the caller rolls back."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (record.to_json() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ErasureLogError(f"cannot append to the erasure log {path}: {exc.strerror or exc}") from exc


def read_log(path: Path) -> list[ErasureRecord]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ErasureLogError(f"cannot read the erasure log {path}: {exc.strerror or exc}") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            erased_at = dt.datetime.fromisoformat(raw["erased_at"])
            record = ErasureRecord(
                str(raw["subject"]), str(raw["key_id"]), erased_at, bool(raw["send_grades"])
            )
            if erased_at.tzinfo is None or len(record.subject) != 64 or not record.key_id:
                raise ValueError("not a record this tool writes")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ErasureLogError(f"{path}, line {number}: not an erasure record ({exc})") from exc
        records.append(record)
    return records


# --- Erasing ---------------------------------------------------------------------------------------------


def erase(
    s: Session, app: Flask, person: Person, *, send_grades: bool = False, now: dt.datetime | None = None
) -> Deletion:
    """Delete the person and record the erasure, in the database and in the log (never commits).

    A person erased before gets the newer time and the newer choice about grades."""
    now = now or utcnow()
    deletion = delete_learner(s, person)
    keys = subject_keys(app.config)
    record = ErasureRecord(subject_of(keys[0], person.platform, person.sub), keys[0].key_id, now, send_grades)
    s.execute(
        delete(Erasure).where(Erasure.subject.in_([subject_of(k, person.platform, person.sub) for k in keys]))
    )
    s.add(Erasure(subject=record.subject, key_id=record.key_id, erased_at=now, send_grades=send_grades))
    s.flush()
    append_to_log(log_path(app), record)
    return deletion


# --- When they come back ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GradesAllowed:
    erasure_found: bool
    queued: int  # grade outbox rows written for the person's current results


def allow_grades(s: Session, app: Flask, catalog: Catalog, person: Person) -> GradesAllowed:
    """Send the grades of a person who came back: from now on, and their current results at once."""
    erasure = find_erasure(s, subject_keys(app.config), person.platform, person.sub)
    user = person.user
    if erasure is None and (user is None or not user.grades_held):
        return GradesAllowed(False, 0)  # never erased: their grades are sent anyway
    if erasure is not None:
        erasure.send_grades = True
    if user is None:
        return GradesAllowed(erasure is not None, 0)
    user.grades_held = False
    s.flush()
    modules: dict[tuple[int, str], set[str]] = {}
    for context_id, course_id, module_id in s.execute(
        select(ModuleProgress.context_id, ModuleProgress.course_id, ModuleProgress.module_id).where(
            ModuleProgress.user_id == user.id
        )
    ):
        modules.setdefault((context_id, course_id), set()).add(module_id)
    for context_id, course_id in s.execute(
        select(CourseProgress.context_id, CourseProgress.course_id).where(CourseProgress.user_id == user.id)
    ):
        modules.setdefault((context_id, course_id), set())
    queued = 0
    for (context_id, course_id), module_ids in sorted(modules.items()):
        course = catalog.get(course_id)
        if course is not None:
            queued += len(
                enqueue_grades(
                    s, user_id=user.id, context_id=context_id, course=course, changed_module_ids=module_ids
                )
            )
    return GradesAllowed(erasure is not None, queued)


# --- After a restore -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Reapplied:
    records: int = 0  # erasures known (log files and database)
    added: int = 0  # of those, not in the database before (it was restored from before them)
    people: int = 0  # persons erased again
    counts: dict[str, int] = field(default_factory=dict)  # rows deleted per table
    # key id -> records no configured secret matches
    unknown_keys: dict[str, int] = field(default_factory=dict)
    deletions: list[Deletion] = field(default_factory=list)  # for learner_data.forget_drafts after the commit


def reapply(s: Session, app: Flask, records: Iterable[ErasureRecord]) -> Reapplied:
    """Make every erasure hold again in this database (after a restore; never commits): records the database
    lacks are added, and whoever they name is deleted again where their rows are older than their erasure."""
    keys = subject_keys(app.config)
    newest: dict[str, ErasureRecord] = {}
    for record in [*records, *(ErasureRecord.of(row) for row in s.scalars(select(Erasure)))]:
        if record.subject not in newest or record.erased_at > newest[record.subject].erased_at:
            newest[record.subject] = record
    result = Reapplied(records=len(newest))
    known = {key.key_id for key in keys}
    for record in newest.values():
        if record.key_id not in known:
            result.unknown_keys[record.key_id] = result.unknown_keys.get(record.key_id, 0) + 1
    stored = {row.subject: row for row in s.scalars(select(Erasure))}
    for subject, record in newest.items():
        row = stored.get(subject)
        if row is None:
            s.add(
                Erasure(
                    subject=subject,
                    key_id=record.key_id,
                    erased_at=record.erased_at,
                    send_grades=record.send_grades,
                )
            )
            result.added += 1
        elif row.erased_at < record.erased_at:
            row.erased_at, row.send_grades = record.erased_at, record.send_grades
    s.flush()

    for platform in s.scalars(select(Platform).order_by(Platform.id)).all():
        users = {u.sub: u for u in s.scalars(select(User).where(User.platform_id == platform.id))}
        contexts = select(Context.id).join(Deployment, Deployment.id == Context.deployment_id)
        in_platform = RosterEntry.context_id.in_(contexts.where(Deployment.platform_id == platform.id))
        roster_subs = set(s.scalars(select(RosterEntry.sub).where(in_platform).distinct()))
        for sub in sorted(set(users) | roster_subs):
            found = next(
                (newest[x] for x in (subject_of(key, platform, sub) for key in keys) if x in newest), None
            )
            if found is None:
                continue
            user = users.get(sub)
            if user is not None and user.created_at < found.erased_at:
                deletion = delete_learner(s, Person(platform, sub, user))
                _add(result, deletion)
            elif user is None:
                # Known only from the participant list: its entries from before the erasure go.
                gone = s.execute(
                    delete(RosterEntry)
                    .where(in_platform, RosterEntry.sub == sub, RosterEntry.fetched_at < found.erased_at)
                    .execution_options(synchronize_session=False)
                ).rowcount  # type: ignore[attr-defined]
                if gone:
                    relist_person(
                        s, platform_id=platform.id, sub=sub
                    )  # the gradebooks' rows of those entries
                    result.people += 1
                    result.counts["roster_entry"] = result.counts.get("roster_entry", 0) + int(gone)
    return result


def _add(result: Reapplied, deletion: Deletion) -> None:
    result.people += 1
    result.deletions.append(deletion)
    for table, count in deletion.counts.items():
        result.counts[table] = result.counts.get(table, 0) + count

"""The practice task: the learner's text (submitted, edited until accepted, revised when an instructor asks for
it). The instructor's review rounds: `review`; what peers in the same course context wrote: `lti_tool.exchange`."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from ..course.model import Course, Module
from ..db import dialect_insert
from ..models import PracticeSubmission, utcnow
from ..text import BIDI_CONTROLS
from .learner import Learner, PracticeLocked, PracticeTextInvalid
from .statements import PRACTICE, params
from .writes import ProgressUpdate, lock_learner, refresh_progress, set_location

_CONTROL = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f{BIDI_CONTROLS}]")


def normalize_text(text: str) -> str:
    """Line breaks as \\n, no control characters (a NUL breaks PostgreSQL), no bidirectional embeddings or
    overrides (lti_tool/text.py), no surrounding whitespace."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def check_practice_text(module: Module, text: str) -> str:
    """The normalised text, or PracticeTextInvalid when too short or too long."""
    clean = normalize_text(text)
    task = module.practice
    if len(clean) < task.min_length:
        raise PracticeTextInvalid("too_short", len(clean), task.min_length, task.max_length)
    if len(clean) > task.max_length:
        raise PracticeTextInvalid("too_long", len(clean), task.min_length, task.max_length)
    return clean


def get_practice(s: Session, learner: Learner, course: Course, module: Module) -> PracticeSubmission | None:
    return s.scalars(PRACTICE, params(learner, course.id, module.id)).first()


@dataclass(frozen=True, slots=True)
class PracticeSave:
    submission: PracticeSubmission
    first: bool  # the first submission (grade-affecting); later saves are edits
    update: ProgressUpdate | None
    revised: bool = False  # this save made the revision an instructor asked for (it waits for review again)


@functools.cache
def _save_statement(dialect: str) -> Any:
    """The learner's text saved (INSERT … ON CONFLICT DO UPDATE unless accepted), returning the row as an entity:
    built once per dialect, with bind parameters (:user_id, :context_id, :course_id, :module_id, :text, :now)."""
    insert = dialect_insert(dialect)
    columns = PracticeSubmission.__table__.c
    keys = ("user_id", "context_id", "course_id", "module_id")
    now = bindparam("now", type_=columns.submitted_at.type)
    ins = insert(PracticeSubmission).values(
        {
            **{name: bindparam(name, type_=columns[name].type) for name in keys},
            "text": bindparam("text", type_=columns.text.type),
            "submitted_at": now,
            "updated_at": now,
        }
    )
    return ins.on_conflict_do_update(
        index_elements=list(keys),
        # A revision asked for is made by saving: the answer waits for a review again.
        set_={
            "text": ins.excluded.text,
            "updated_at": ins.excluded.updated_at,
            "revision_requested_at": None,
        },
        where=PracticeSubmission.reviewed_at.is_(None),
    ).returning(PracticeSubmission)


def save_practice(s: Session, learner: Learner, course: Course, module: Module, text: str) -> PracticeSave:
    """Submit or edit the learner's practice text; refused once an instructor has accepted it. Saving after an
    instructor asked for a revision makes the revision: the answer waits for a review again."""
    clean = check_practice_text(module, text)
    now = utcnow()
    lock_learner(s, learner, course.id)
    existing = get_practice(s, learner, course, module)
    if existing is not None and existing.reviewed_at is not None:
        raise PracticeLocked(module.id)
    revised = existing is not None and existing.revision_requested_at is not None
    submission = s.scalars(
        _save_statement(s.get_bind().dialect.name),
        params(learner, course.id, module.id, text=clean, now=now),
        execution_options={"populate_existing": True},
    ).first()
    if submission is None:
        raise PracticeLocked(module.id)
    result = None
    if existing is None or revised:
        # A revision waits for a review again: the gradebook's summary counts it, and the LMS's grade comment
        # stops saying a revision was asked for.
        result = refresh_progress(s, learner, course, module, "practice_submitted", now, location="praxis")
    else:
        set_location(s, learner, course.id, module.id, "praxis", now)
    return PracticeSave(submission, first=existing is None, update=result, revised=revised)

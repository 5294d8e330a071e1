"""The outbox table's vocabulary: the states a row goes through, and the one question asked of a target's
history, "which row is the newest?".

A target is where one grade goes (see `targets.py`); its rows are the scores queued for it over time, ids
growing with every score (`enqueue.py` queues under a per-learner lock). The newest row of a target is the
one with the highest id, whatever its state: the worker sends only that one (an older row is superseded when
claimed or when it would be retried), the gradebook shows it as the grade's sync state, "send again" picks it
up, the counts of failed rows include only it, and retention never deletes it.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.orm import aliased

from ...models import GradeOutbox


class RowState(StrEnum):
    """GradeOutbox.state (lti_tool/grading/__init__.py says what each means)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    APPLIED = "applied"
    FAILED = "failed"
    REMOVED = "removed"
    SUPERSEDED = "superseded"


class Destination(StrEnum):
    """GradeOutbox.destination: which line item a row's score goes to."""

    LINK = "link"  # the line item of the activity (resource link) itself, from its launch's `lineitem` claim
    MODULE_ITEM = "module_item"  # the tool's per-module line item, found or created through the container


STATES: tuple[RowState, ...] = tuple(RowState)
WAITING = (RowState.PENDING, RowState.SENDING)
DELIVERED = (RowState.SENT, RowState.APPLIED)


# Aliases are built once per process, not per statement: SQLAlchemy keeps the column proxies an alias makes, so
# one built per request grew every worker by thousands of Column objects under load (bench/FINDINGS.md, memory).
_NEWER = aliased(GradeOutbox, name="newer")


def is_newest(row: Any = GradeOutbox) -> ColumnElement[bool]:
    """SQL condition: `row` (GradeOutbox or an alias of it) is the newest row of its target, i.e. no row of
    the same user, context and target has a higher id. Served by `ix_grade_outbox_target`."""
    newer = _NEWER
    return ~exists().where(
        newer.user_id == row.user_id,
        newer.context_id == row.context_id,
        newer.target == row.target,
        newer.id > row.id,
    )


def newest_rows(
    *,
    context_id: int | None = None,
    course_id: str | None = None,
    user_ids: Collection[int] | None = None,
    targets: Collection[str] | None = None,
    states: Collection[str] | None = None,
) -> Select[GradeOutbox]:
    """The newest row of each target, narrowed by context, course, users, target keys and states (the states
    filter the newest rows: a target whose newest row is in another state yields nothing). Add columns,
    ordering or a limit as needed: `newest_rows(...).with_only_columns(GradeOutbox.id)` for ids."""
    query = select(GradeOutbox).where(is_newest())
    if context_id is not None:
        query = query.where(GradeOutbox.context_id == context_id)
    if course_id is not None:
        query = query.where(GradeOutbox.course_id == course_id)
    if user_ids is not None:
        query = query.where(GradeOutbox.user_id.in_(list(user_ids)))
    if targets is not None:
        query = query.where(GradeOutbox.target.in_(list(targets)))
    if states is not None:
        query = query.where(GradeOutbox.state.in_(list(states)))
    return query

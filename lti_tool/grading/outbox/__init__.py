"""The grade outbox: grades waiting for, and on their way to, the LMS gradebooks (table `grade_outbox`).

One module per job; the rules the rows follow are in lti_tool/grading/__init__.py.
  rows.py      the row states (`RowState`) and the newest row of each target (`is_newest`, `newest_rows`)
  targets.py   where a learner's grades go: activities that accept grades, the tool's per-module line items
  enqueue.py   queue grades in the caller's transaction: `enqueue_grades`, `reconcile`, `resend`
  lease.py     the worker's lease: `claim`, `extend_lease`, `release`
  record.py    what became of a delivery attempt: `record_outcome` and the `record_*` it calls
  monitor.py   heartbeats, rows per state, failed rows (operator pages, `grades status`)
  retention.py which old rows go (`prune`, from the grade workers' housekeeping)

Services here take a session and never commit; the edge (the request, the worker loop, the CLI) commits.
"""

from __future__ import annotations

from .enqueue import (
    WAKE_CHANNEL,
    add_wake_listener,
    enqueue_grades,
    reconcile,
    remove_wake_listener,
    resend,
)
from .lease import Claimed, claim, extend_lease, release
from .monitor import Summary, counted, failed_rows, forget_worker, heartbeat, summary
from .record import (
    own_conflict,
    record_delivered,
    record_failed,
    record_outcome,
    record_removed,
    record_restamp,
    record_retry,
)
from .retention import PRUNE_BATCH, delete_rows, prunable, prune
from .rows import DELIVERED, STATES, WAITING, RowState, is_newest, newest_rows
from .targets import (
    LINEITEM_SCOPE,
    SCORE_SCOPE,
    Columns,
    Target,
    forget_lineitem,
    grade_columns,
    known_lineitem,
    known_lineitems,
    remember_lineitem,
    targets_for,
)

__all__ = [
    "DELIVERED",
    "LINEITEM_SCOPE",
    "PRUNE_BATCH",
    "SCORE_SCOPE",
    "STATES",
    "WAITING",
    "WAKE_CHANNEL",
    "Claimed",
    "Columns",
    "RowState",
    "Summary",
    "Target",
    "add_wake_listener",
    "claim",
    "counted",
    "delete_rows",
    "enqueue_grades",
    "extend_lease",
    "failed_rows",
    "forget_lineitem",
    "forget_worker",
    "grade_columns",
    "heartbeat",
    "is_newest",
    "known_lineitem",
    "known_lineitems",
    "newest_rows",
    "own_conflict",
    "prunable",
    "prune",
    "reconcile",
    "record_delivered",
    "record_failed",
    "record_outcome",
    "record_removed",
    "record_restamp",
    "record_retry",
    "release",
    "remember_lineitem",
    "remove_wake_listener",
    "resend",
    "summary",
    "targets_for",
]

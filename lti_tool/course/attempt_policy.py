"""The attempt policy of course.toml (`[attempts]`): when a learner may start the next quiz attempt.

`wait_minutes` applies after an attempt that did not pass; `per_day` counts the attempts submitted on the same
calendar day in Europe/Berlin (where the learners are), per module. No Flask, no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from .model import AttemptPolicy

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass(frozen=True, slots=True)
class Done:
    """A submitted attempt, as the policy sees it."""

    submitted_at: dt.datetime
    passed: bool


@dataclass(frozen=True, slots=True)
class Gate:
    reason: Literal["wait", "per_day"]
    until: dt.datetime  # aware; the next attempt may start from then on


def _next_midnight(moment: dt.datetime) -> dt.datetime:
    local = moment.astimezone(BERLIN)
    tomorrow = local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(0, 0), tzinfo=BERLIN).astimezone(dt.UTC)


def next_gate(policy: AttemptPolicy, done: Sequence[Done], now: dt.datetime) -> Gate | None:
    """What keeps the learner from starting an attempt at `now` (the later of the two limits), or None."""
    gates: list[Gate] = []
    if policy.wait_minutes and done and not done[-1].passed:
        until = done[-1].submitted_at + dt.timedelta(minutes=policy.wait_minutes)
        if now < until:
            gates.append(Gate("wait", until))
    if policy.per_day:
        today = now.astimezone(BERLIN).date()
        count = sum(1 for attempt in done if attempt.submitted_at.astimezone(BERLIN).date() == today)
        if count >= policy.per_day:
            gates.append(Gate("per_day", _next_midnight(now)))
    return max(gates, key=lambda gate: gate.until) if gates else None

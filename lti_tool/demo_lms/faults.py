"""Fault injection for tests (only with FAULTS_ENABLED): make service endpoints fail, slow down or go down.

Rules are per endpoint group and live in memory. A rule fires with probability `rate` (default 1, seeded
for repeatable runs) at most `count` times (default: unlimited); firing means sleeping `delay` seconds
and/or answering `status` (with `Retry-After` when `retry_after` is given). `{"down": true}` makes every
service endpoint answer 503. The UI pages and /api/* are never affected.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

GROUPS = ("token", "jwks", "auth", "lineitems", "scores", "results", "nrps", "registration", "deep_linking")

F = TypeVar("F", bound=Callable[..., Any])


def fault_group(group: str) -> Callable[[F], F]:
    """Mark a view as belonging to a fault group (read by the before_request hook)."""
    if group not in GROUPS:
        raise ValueError(group)

    def mark(view: F) -> F:
        view._fault_group = group  # type: ignore[attr-defined]
        return view

    return mark


@dataclass
class Rule:
    status: int | None = None
    rate: float = 1.0
    count: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    fired: int = 0

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rate": self.rate, "fired": self.fired}
        for name in ("status", "count", "retry_after"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.delay:
            out["delay"] = self.delay
        return out


@dataclass(frozen=True)
class Decision:
    status: int | None
    retry_after: float | None
    delay: float


class Faults:
    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}
        self._down = False
        self._lock = threading.Lock()

    def update(self, spec: Any) -> None:
        """Apply a POST /api/faults body; raises ValueError naming what is wrong."""
        if not isinstance(spec, dict):
            raise ValueError("body must be a JSON object")
        seed = spec.get("seed")
        if seed is not None and not isinstance(seed, int):
            raise ValueError("seed must be an integer")
        parsed: dict[str, Rule | None] = {}
        for name, value in spec.items():
            if name in ("seed", "down"):
                continue
            if name not in GROUPS:
                raise ValueError(f"unknown group {name!r}; known: {', '.join(GROUPS)}")
            parsed[name] = None if value is None else _parse_rule(name, value, seed)
        down = spec.get("down")
        if down is not None and not isinstance(down, bool):
            raise ValueError("down must be true or false")
        with self._lock:
            for name, rule in parsed.items():
                if rule is None:
                    self._rules.pop(name, None)
                else:
                    self._rules[name] = rule
            if down is not None:
                self._down = down

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._down = False

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"down": self._down, "rules": {name: r.describe() for name, r in self._rules.items()}}

    def decide(self, group: str) -> Decision | None:
        with self._lock:
            if self._down:
                return Decision(status=503, retry_after=None, delay=0.0)
            rule = self._rules.get(group)
            if rule is None or rule.rng.random() >= rule.rate:
                return None
            rule.fired += 1
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    del self._rules[group]
            return Decision(status=rule.status, retry_after=rule.retry_after, delay=rule.delay)


def _parse_rule(group: str, value: Any, seed: int | None) -> Rule:
    if not isinstance(value, dict):
        raise ValueError(f"{group}: rule must be an object")
    unknown = set(value) - {"status", "rate", "count", "retry_after", "delay", "seed"}
    if unknown:
        raise ValueError(f"{group}: unknown fields {sorted(unknown)}")
    status = value.get("status")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise ValueError(f"{group}: status must be an integer 400..599")
    rate = value.get("rate", 1.0)
    if not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ValueError(f"{group}: rate must be between 0 and 1")
    count = value.get("count")
    if count is not None and (not isinstance(count, int) or count < 1):
        raise ValueError(f"{group}: count must be a positive integer")
    retry_after = value.get("retry_after")
    if retry_after is not None and (not isinstance(retry_after, int | float) or retry_after < 0):
        raise ValueError(f"{group}: retry_after must be a number >= 0")
    delay = value.get("delay", 0)
    if not isinstance(delay, int | float) or not 0 <= delay <= 120:
        raise ValueError(f"{group}: delay must be between 0 and 120 seconds")
    if status is None and not delay:
        raise ValueError(f"{group}: a rule needs a status or a delay")
    rule_seed = value.get("seed", seed)
    return Rule(
        status=status,
        rate=float(rate),
        count=count,
        retry_after=retry_after,
        delay=float(delay),
        rng=random.Random(rule_seed),  # noqa: S311 - test fault injection, not security
    )

"""When to try again: exponential backoff with full jitter, and the platform's Retry-After.

Full jitter (a random wait between 0 and base * 2**(n-1), capped) spreads the retries of many rows and
workers after an outage, so a platform that comes back is not hit by all of them in the same second.
A `Retry-After` from the platform (seconds or an HTTP date, RFC 9110 §10.2.3) is a floor for the wait.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random


def backoff_seconds(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Wait before retry number `attempt` (1 = the first retry): uniform in [0, min(cap, base * 2**(attempt-1))]."""
    exponent = min(max(attempt, 1) - 1, 60)  # 2**60 * base is beyond any cap; avoids float overflow
    ceiling = min(cap, base * 2.0**exponent)
    return (rng or random).uniform(0.0, ceiling)  # jitter, not security


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        seconds = float(value)  # not allowed by the RFC, but some servers send "1.5"
    except ValueError:
        pass
    else:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def retry_delay(
    attempt: int,
    retry_after: float | None,
    *,
    base: float,
    cap: float,
    retry_after_max: float,
    rng: random.Random | None = None,
) -> float:
    """The wait before the next attempt: jittered backoff, but never less than the platform asked for."""
    delay = backoff_seconds(attempt, base=base, cap=cap, rng=rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, retry_after_max))
    return delay

"""Backoff with full jitter and Retry-After parsing (pure functions)."""

from __future__ import annotations

import datetime as dt
import random
from email.utils import format_datetime

from lti_tool.grading.backoff import backoff_seconds, parse_retry_after, retry_delay

# The documented schedule (config/defaults.py, README "Grades"): with a base of 2 s and a cap of 600 s, retry n
# waits a random time up to 2, 4, 8, … seconds, never more than 600.
CEILINGS = {
    1: 2.0,
    2: 4.0,
    3: 8.0,
    4: 16.0,
    5: 32.0,
    6: 64.0,
    7: 128.0,
    8: 256.0,
    9: 512.0,
    10: 600.0,
    29: 600.0,
}


class Highest(random.Random):
    """The jitter at its largest: the wait is the ceiling itself."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Lowest(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def test_retry_n_waits_at_most_the_documented_ceiling() -> None:
    for attempt, ceiling in CEILINGS.items():
        assert backoff_seconds(attempt, base=2.0, cap=600.0, rng=Highest()) == ceiling, attempt
        assert backoff_seconds(attempt, base=2.0, cap=600.0, rng=Lowest()) == 0.0, attempt


def test_full_jitter_stays_under_the_exponential_ceiling_and_the_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in CEILINGS.items():
        for _ in range(50):
            delay = backoff_seconds(attempt, base=2.0, cap=600.0, rng=rng)
            assert 0.0 <= delay <= ceiling


def test_jitter_spreads_retries() -> None:
    rng = random.Random(1)
    delays = [backoff_seconds(6, base=2.0, cap=600.0, rng=rng) for _ in range(200)]
    assert min(delays) < 10 and max(delays) > 50  # uniform over [0, 64]


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert backoff_seconds(10_000, base=2.0, cap=600.0) <= 600.0
    assert backoff_seconds(0, base=2.0, cap=600.0) <= 2.0


def test_retry_after_seconds_and_http_date() -> None:
    now = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 3 ", now) == 3.0
    assert parse_retry_after("1.5", now) == 1.5
    later = format_datetime(now + dt.timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now) == 90.0
    earlier = format_datetime(now - dt.timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(earlier, now) == 0.0
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after("soon", now) is None


def test_retry_after_is_a_floor_and_is_capped() -> None:
    rng = random.Random(3)
    assert retry_delay(1, 30.0, base=2.0, cap=600.0, retry_after_max=3600.0, rng=rng) == 30.0
    assert retry_delay(1, 10**6, base=2.0, cap=600.0, retry_after_max=3600.0, rng=rng) == 3600.0
    assert retry_delay(1, None, base=2.0, cap=600.0, retry_after_max=3600.0, rng=rng) <= 2.0

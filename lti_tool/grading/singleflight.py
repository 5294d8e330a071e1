"""One fetch at a time across every process: a lock in the launch store (a table row, or Redis SET NX).

Used for what many workers may want at the same moment and only one should fetch: an access token, a
per-module line item. The lock is not held in a database transaction (on SQLite that would stop every
writer while the platform answers); it expires by itself if its holder dies.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from ..cache import LaunchStore

T = TypeVar("T")

WAIT_STEP = 0.05


class Busy(Exception):
    """Someone else was fetching and did not succeed (or took too long): try again later."""


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def single_flight(
    store: LaunchStore,
    key: str,
    *,
    ttl: int,
    cached: Callable[[], T | None],
    fetch: Callable[[], T],
    max_wait: float | None = None,
) -> T:
    """`cached()` if it has a value; otherwise `fetch()` by exactly one caller while the others wait for it.

    The lock holder checks `cached()` again after taking the lock (someone may have just finished). A waiter
    returns what the holder stored; if the holder gave up without a value, the waiter raises Busy instead of
    fetching too, so a failing endpoint sees one request per attempt, not one per worker.
    """
    value = cached()
    if value is not None:
        return value
    lock = "lock:" + key
    deadline = time.monotonic() + (max_wait if max_wait is not None else ttl)
    if store.add(lock, _owner(), ttl):
        return _fetch_holding(store, lock, cached, fetch)
    while time.monotonic() < deadline:
        time.sleep(WAIT_STEP)
        value = cached()
        if value is not None:
            return value
        if store.get(lock) is None:
            value = cached()  # the holder stores before it unlocks
            if value is not None:
                return value
            raise Busy(f"another worker's request for {key} did not succeed")
    raise Busy(f"waited too long for another worker's request for {key}")


def _fetch_holding(
    store: LaunchStore, lock: str, cached: Callable[[], T | None], fetch: Callable[[], T]
) -> T:
    try:
        value = cached()
        return value if value is not None else fetch()
    finally:
        store.delete(lock)

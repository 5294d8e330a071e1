"""The one per-process cache whose entries expire, in front of the database or the shared launch store.

A web process serves requests on several threads and gunicorn runs several processes: values every request
needs (registered platform origins, platform key sets, access tokens) are kept here for a short while so that
not every request pays a query or a Redis round trip. Each process holds its own copy, so only values whose
short staleness is harmless belong here, or values the code that changes them invalidates itself.

Built on cachetools' `TLRUCache` (maintained, typed; expiry per entry and least-recently-used eviction at a
size bound), behind a lock: cachetools' caches are not thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TLRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LocalCache(Generic[K, V]):
    """Thread-safe; an entry lives `ttl` seconds unless `set` gives it its own."""

    def __init__(
        self, ttl: float, *, maxsize: int = 1024, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._entries: TLRUCache[K, tuple[V, float], float] = TLRUCache(maxsize, _time_to_use, timer=timer)
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def set(self, key: K, value: V, *, ttl: float | None = None) -> None:
        """Keep `value` for `ttl` seconds (default: the cache's); a ttl of 0 or less keeps nothing."""
        seconds = self.ttl if ttl is None else ttl
        with self._lock:
            if seconds > 0:
                self._entries[key] = (value, seconds)
            else:
                self._entries.pop(key, None)

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        """The cached value, else `load()`'s, kept. One load at a time: threads that miss together wait for the
        first and take its value instead of each querying the database."""
        found = self.get(key)
        if found is not None:
            return found
        with self._load_lock:
            found = self.get(key)
            if found is None:
                found = load()
                self.set(key, found)
            return found

    def discard(self, key: K, when: Callable[[V], bool] | None = None) -> None:
        """Forget the entry (only if `when(value)` holds, when given: a fresher value stays)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (when is None or when(entry[0])):
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _time_to_use(_key: object, entry: tuple[object, float], now: float) -> float:
    return now + entry[1]

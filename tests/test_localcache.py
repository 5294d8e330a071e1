"""The per-process expiring cache: entries end after their time, a conditional discard keeps a fresher value,
and threads that miss together load once."""

from __future__ import annotations

import threading

from lti_tool.localcache import LocalCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_end_after_the_cache_ttl_or_their_own() -> None:
    clock = Clock()
    cache: LocalCache[str, str] = LocalCache(60, timer=clock)
    cache.set("a", "default")
    cache.set("b", "short", ttl=5)
    cache.set("c", "none", ttl=0)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("default", "short", None)
    clock.now += 5
    assert (cache.get("a"), cache.get("b")) == ("default", None)
    clock.now += 55
    assert cache.get("a") is None


def test_discard_only_the_value_it_names() -> None:
    cache: LocalCache[str, str] = LocalCache(60)
    cache.set("token", "fresh")
    cache.discard("token", when=lambda value: value == "refused")
    assert cache.get("token") == "fresh"
    cache.discard("token", when=lambda value: value == "fresh")
    assert cache.get("token") is None
    cache.set("token", "again")
    cache.clear()
    assert cache.get("token") is None


def test_threads_that_miss_together_load_once() -> None:
    cache: LocalCache[str, int] = LocalCache(60)
    loads: list[int] = []
    gate = threading.Barrier(8)

    def load() -> int:
        loads.append(1)
        return 42

    got: list[int] = []

    def reader() -> None:
        gate.wait()
        got.append(cache.get_or_load("origins", load))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert got == [42] * 8
    assert len(loads) == 1

"""One fetch at a time across workers: the launch store's add() as a lock (table row or Redis SET NX)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask

from lti_tool.cache import DbLaunchStore, get_store
from lti_tool.grading.singleflight import Busy, single_flight


def together(count: int, job: Any) -> list[Any]:
    start = threading.Barrier(count)
    results: list[Any] = []

    def run() -> None:
        start.wait()
        try:
            results.append(job())
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return results


def test_table_store_add_succeeds_once_among_concurrent_callers(app: Flask) -> None:
    """Also on PostgreSQL (an INSERT's rowcount is -1 there with SQLAlchemy 2.1; RETURNING tells)."""
    store = DbLaunchStore(app)
    assert together(8, lambda: store.add("lock:x", "me", 30)).count(True) == 1
    assert store.add("lock:x", "again", 30) is False
    store.delete("lock:x")
    assert store.add("lock:x", "again", 30) is True


@pytest.mark.parametrize("backend", ["configured", "table"])
def test_one_fetch_while_the_others_wait_for_it(app: Flask, backend: str) -> None:
    store = get_store(app) if backend == "configured" else DbLaunchStore(app)
    value: dict[str, str] = {}
    fetches: list[int] = []

    def fetch() -> str:
        fetches.append(1)
        time.sleep(0.3)
        value["v"] = "token"
        return "token"

    results = together(
        6, lambda: single_flight(store, "k", ttl=10, cached=lambda: value.get("v"), fetch=fetch)
    )
    assert results == ["token"] * 6
    assert len(fetches) == 1


def test_a_failed_fetch_is_not_repeated_by_every_waiter(app: Flask) -> None:
    store = get_store(app)
    fetches: list[int] = []

    def fetch() -> str:
        fetches.append(1)
        time.sleep(0.3)
        raise RuntimeError("token endpoint answered 500")

    results = together(5, lambda: single_flight(store, "k2", ttl=10, cached=lambda: None, fetch=fetch))
    assert len(fetches) == 1
    assert sum(isinstance(r, RuntimeError) for r in results) == 1
    assert sum(isinstance(r, Busy) for r in results) == 4


def test_a_dead_holders_lock_expires(app: Flask) -> None:
    store = get_store(app)
    assert store.add("lock:k3", "dead worker", 1)
    with pytest.raises(Busy):
        single_flight(store, "k3", ttl=1, cached=lambda: None, fetch=lambda: "x", max_wait=0.2)
    time.sleep(1.1)
    assert single_flight(store, "k3", ttl=1, cached=lambda: None, fetch=lambda: "x") == "x"

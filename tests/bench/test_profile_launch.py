"""bench/profile_launch.py counts the launch store's calls without changing the path a launch takes."""

from __future__ import annotations

from collections import Counter

from flask import Flask

from lti_tool.cache import get_store
from lti_tool.lti.provision import nonce_with_rows

from . import bench_module

profile_launch = bench_module("profile_launch")


def test_counting_the_store_calls_keeps_the_store_its_type_and_the_launch_path(app: Flask) -> None:
    store = get_store(app)
    kind, with_rows = type(store), nonce_with_rows(store)
    calls: Counter[str] = Counter()
    profile_launch.count_calls(store, lambda name: calls.update([name]))
    assert get_store(app) is store and type(store) is kind
    assert nonce_with_rows(store) is with_rows  # the path the launch takes for its nonce marker
    with app.app_context():
        assert store.add("nonce-1", 1, 60) is True
        assert store.add("nonce-1", 2, 60) is False
        assert store.get("nonce-1") == 1
        assert store.pop("nonce-1") == 1
        assert store.get("nonce-1") is None
    assert calls == {"add": 2, "get": 2, "pop": 1}

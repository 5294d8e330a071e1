"""A cold process's first requests are served one at a time (lti_tool/warmup.py), later ones side by side, and
nothing waits forever."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from lti_tool import warmup
from lti_tool.warmup import WarmUp


def _slow_app(active: list[int], peak: list[int]) -> Callable[..., Iterable[bytes]]:
    lock = threading.Lock()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return [b"ok"]

    return app


def _serve(app: WarmUp, paths: list[str]) -> None:
    threads = [threading.Thread(target=app, args=({"PATH_INFO": p}, lambda *a: None)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_first_requests_one_at_a_time_then_side_by_side() -> None:
    active, peak = [0], [0]
    app = WarmUp(_slow_app(active, peak), requests=4)
    _serve(app, ["/s/x/kurs/"] * 4)
    assert peak[0] == 1 and app.remaining == 0
    _serve(app, ["/s/x/kurs/"] * 4)
    assert peak[0] > 1


def test_key_set_and_static_files_are_never_held_back() -> None:
    active, peak = [0], [0]
    app = WarmUp(_slow_app(active, peak), requests=100)
    _serve(app, ["/.well-known/jwks.json", "/static/style.css", "/.well-known/jwks.json"])
    assert peak[0] > 1 and app.remaining == 100


def test_a_request_waits_for_its_turn_only_so_long(monkeypatch: Any) -> None:
    """A request called back while the one before it waits for the callback must not deadlock."""
    monkeypatch.setattr(warmup, "WAIT_SECONDS", 0.05)
    answered = threading.Event()
    app: WarmUp

    def calls_back(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/outer":
            inner = threading.Thread(target=app, args=({"PATH_INFO": "/inner"}, lambda *a: None))
            inner.start()
            inner.join(5)
            assert answered.is_set()
        else:
            answered.set()
        return [b"ok"]

    app = WarmUp(calls_back, requests=10)
    app({"PATH_INFO": "/outer"}, lambda *a: None)
    assert answered.is_set()

"""A web process's first requests one at a time (WSGI middleware), so its cold start costs memory once.

A process that has not served yet compiles templates and SQL statements, loads catalogs, locale data and word
tables on its first requests. Served by several threads at once (gunicorn's gthread workers at a webinar's
start), each thread does that work for itself, and the memory its garbage leaves behind stays with the process:
measured in-process with 4 threads walking the course from a cold start, the process peaked at 174 MB; with its
first 150 requests one at a time, at 118 MB (one thread alone: 115 MB). The GIL runs one thread's Python at a
time anyway, so serving them in turn costs little time.

Static files and the key set are never held back: a platform fetches the key set while a request of the tool
waits for the platform's token endpoint. Any other request waits at most WAIT_SECONDS for its turn, then goes
ahead, so nothing can deadlock; on an overloaded machine a short wait let the requests of a webinar's start
through side by side again (a soak with 2 s: workers still peaked at 176-182 MB).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

WAIT_SECONDS = 60.0
_NEVER_HELD = ("/static/", "/.well-known/")


class WarmUp:
    def __init__(self, app: Callable[..., Iterable[bytes]], *, requests: int) -> None:
        self.app = app
        self.remaining = requests
        self._turn = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.remaining <= 0 or str(environ.get("PATH_INFO", "")).startswith(_NEVER_HELD):
            return self.app(environ, start_response)
        got = self._turn.acquire(timeout=WAIT_SECONDS)
        try:
            self.remaining -= 1
            return self.app(environ, start_response)
        finally:
            if got:
                self._turn.release()

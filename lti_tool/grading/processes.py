"""How grade workers run: in their own processes (`scripts/flask grades worker`, any number of them on
PostgreSQL), or embedded as a daemon thread in each app process (the zero-set-up default on SQLite); and, on
PostgreSQL, a listener that wakes them when another process queues grades.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from flask import Flask, request

from ..db import get_db
from .outbox import WAKE_CHANNEL
from .tokens import AccessTokens
from .worker import Worker

log = logging.getLogger(__name__)


class PgWakeup:
    """PostgreSQL only: LISTEN on its own connection and wake this process's workers when another process
    commits new grades (enqueue_grades NOTIFYs), so a grade leaves within milliseconds instead of the next
    poll. Polling (GRADE_POLL_SECONDS) stays as the fallback; a lost connection is retried."""

    def __init__(self, app: Flask, workers: Sequence[Worker]) -> None:
        url = get_db(app).engine.url.set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)
        self.workers = list(workers)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._listen, name="grades-wakeup", daemon=True)

    def start(self) -> PgWakeup:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)

    def _listen(self) -> None:
        import psycopg

        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {WAKE_CHANNEL}")
                    while not self.stopping.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            for worker in self.workers:
                                worker.nudge.set()
            except Exception as exc:  # the database went away: poll meanwhile, listen again later
                log.warning("grade wake-up listener: %s; retrying in 5 s", exc)
                self.stopping.wait(5)


def wakeup_for(app: Flask, workers: Sequence[Worker]) -> PgWakeup | None:
    return PgWakeup(app, workers).start() if get_db(app).dialect == "postgresql" else None


# --- scale-out: `scripts/flask grades worker` ---------------------------------------------------------------


def run_workers(app: Flask, *, concurrency: int = 1, once: bool = False) -> int:
    """Run N worker threads in this process until SIGTERM/SIGINT (or, with once, until nothing is due).

    A stop finishes the row in flight, gives the rest of the batch back and removes the heartbeats.
    Returns the number of scores delivered.
    """
    tokens = AccessTokens(app)
    workers = [Worker(app, label=f"t{i}", tokens=tokens) for i in range(max(1, concurrency))]

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping the grade workers", signum)
        for worker in workers:
            worker.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    threads = [
        threading.Thread(target=w.drain if once else w.run, name=f"grades-{i}", daemon=True)
        for i, w in enumerate(workers)
    ]
    wakeup = None if once else wakeup_for(app, workers)
    try:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.2)
    finally:
        if wakeup is not None:
            wakeup.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return sum(w.delivered for w in workers)


# --- embedded: a thread in each app process ------------------------------------------------------------


class EmbeddedWorker:
    """The zero-set-up mode: one daemon thread per app process (under gunicorn, one per web process)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.worker: Worker | None = None
        self.thread: threading.Thread | None = None
        self.wakeup: PgWakeup | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self.thread is not None:
                return
            self.worker = Worker(self.app, label="embedded")
            self.thread = threading.Thread(target=self.worker.run, name="grades-embedded", daemon=True)
            self.thread.start()
            self.wakeup = wakeup_for(self.app, [self.worker])
        atexit.register(self.stop)

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            worker, thread, wakeup = self.worker, self.thread, self.wakeup
        if worker is None or thread is None:
            return
        worker.stop()
        if wakeup is not None:
            wakeup.stop()
        thread.join(timeout)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def embedded_enabled(app: Flask) -> bool:
    value: Any = app.config.get("EMBEDDED_WORKER", "auto")
    if isinstance(value, str):
        value = value.strip().lower()
        if value in ("true", "1", "yes", "on"):
            return True
        if value != "auto":
            return False
        return get_db(app).dialect == "sqlite" and not app.config.get("TESTING")
    return bool(value)


def init_app(app: Flask) -> None:
    """Start the embedded worker when configured. Under the `flask` command (`flask run`, and every other
    command such as `grades worker` or `db upgrade`) it starts with the first request instead, so CLI
    commands never run one."""
    embedded = EmbeddedWorker(app)
    app.extensions["nama_grade_worker"] = embedded
    if not embedded_enabled(app):
        return
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        embedded.start()
        return

    @app.before_request
    def _start_embedded_worker() -> None:
        if not embedded.running and request.endpoint != "static":
            embedded.start()

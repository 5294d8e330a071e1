"""The grade worker: claim due outbox rows, send each to the platform, record what happened.

Each batch: claim (one short transaction) -> for each row, outside any transaction: find the line item if
needed, post the score -> record the outcome (one short transaction, only if this worker still holds the
row). Modes: embedded (a daemon thread in each app process; the default on SQLite) and scale-out
(`scripts/flask grades worker [--concurrency N]`: N threads in one process; any number of processes).
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from flask import Flask, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import housekeeping, logconfig, metrics
from ..course.catalog import get_catalog
from ..db import get_db, session_scope
from ..http import http_session
from ..models import Context, Deployment, Platform, utcnow
from . import outbox
from .ags import APPLIED, FAILED, REMOVED, RETRY, SENT, AgsClient, Outcome, classify_exception
from .backoff import parse_retry_after, retry_delay
from .lineitems import LineItemRemoved, module_lineitem
from .payloads import next_timestamp
from .tokens import AccessTokens, PlatformInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ContextInfo:
    platform: PlatformInfo
    scopes: tuple[str, ...]
    lineitems_url: str | None


def token_scopes(granted: Sequence[str] | None) -> tuple[str, ...]:
    """One scope set per context for all AGS calls (so one token serves scores and line items)."""
    scopes = {outbox.SCORE_SCOPE}
    if granted and outbox.LINEITEM_SCOPE in granted:
        scopes.add(outbox.LINEITEM_SCOPE)
    return tuple(sorted(scopes))


class Worker:
    """One delivery loop (one thread). Thread-safe only in the sense that each thread has its own Worker."""

    def __init__(self, app: Flask, *, label: str = "worker", tokens: AccessTokens | None = None) -> None:
        cfg = app.config
        self.app = app
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{label}:{uuid.uuid4().hex[:6]}"[:100]
        self.http = http_session(app)
        self.tokens = tokens or AccessTokens(app)
        self.batch_size = int(cfg["GRADE_BATCH_SIZE"])
        self.lease = float(cfg["GRADE_LEASE_SECONDS"])
        self.poll = float(cfg["GRADE_POLL_SECONDS"])
        self.base = float(cfg["GRADE_BACKOFF_BASE_SECONDS"])
        self.cap = float(cfg["GRADE_BACKOFF_CAP_SECONDS"])
        self.retry_after_max = float(cfg["GRADE_RETRY_AFTER_MAX_SECONDS"])
        self.heartbeat_every = float(cfg["GRADE_HEARTBEAT_SECONDS"])
        # Time to keep in hand on the lease before the next row: a score post and its one 401 retry. (A row
        # that runs over is sent again by another worker after the lease and answered 409: no harm.)
        self.row_budget = 2 * (float(cfg["HTTP_CONNECT_TIMEOUT"]) + float(cfg["HTTP_READ_TIMEOUT"]))
        self.stop_event = threading.Event()
        self.nudge = threading.Event()
        self.record_every = max(1, int(cfg["GRADE_RECORD_EVERY"]))
        self.started_at = utcnow()
        self.delivered = 0
        self._last_beat = 0.0
        self.housekeeping_every = float(cfg["HOUSEKEEPING_SECONDS"])
        self._last_housekeeping = time.monotonic()  # the first purge one interval after the start

    # --- one batch ---------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many rows were claimed.

        Outcomes are written together, GRADE_RECORD_EVERY rows per transaction (and always before the
        batch ends, the lease is renewed or the worker stops): fewer commits per score. A worker that dies
        in between leaves those rows leased; they are sent again after the lease and answered 409 (applied).
        """
        with session_scope(self.app, write=True) as s:
            rows = outbox.claim(s, self.worker_id, limit=self.batch_size, lease_seconds=self.lease)
        if not rows:
            return 0
        contexts = self._contexts({r.context_id for r in rows})
        lease_end = time.monotonic() + self.lease
        holdoff: dict[int, dt.datetime] = {}
        done: list[_Done] = []
        try:
            for index, row in enumerate(rows):
                rest = [r.id for r in rows[index:]]
                if self.stop_event.is_set():
                    self._record(done)
                    self._release(rest)
                    break
                if time.monotonic() + self.row_budget > lease_end:
                    self._record(done)
                    with session_scope(self.app, write=True) as s:
                        held = outbox.extend_lease(s, self.worker_id, rest, lease_seconds=self.lease)
                    lease_end = time.monotonic() + self.lease
                    if row.id not in held:
                        continue
                until = holdoff.get(row.platform_id)
                if until is not None:
                    self._record(done)
                    self._release([row.id], due=until)
                    continue
                context = contexts.get(row.context_id)
                if context is None:  # the context was deleted meanwhile; the row went with it
                    continue
                with logconfig.bound(row.request_id):  # its lines name the learner's request that queued it
                    started = time.perf_counter()
                    outcome, url = self.deliver(row, context)
                    seconds = time.perf_counter() - started
                    metrics.delivery(outcome.kind, seconds)
                    delay = self._retry_delay(row, outcome) if outcome.kind == RETRY else None
                    log_attempt(row, outcome, url, seconds, delay)
                done.append(_Done(row, outcome, url, utcnow(), delay, round(seconds * 1000)))
                if outcome.platform_trouble and delay is not None:
                    holdoff[row.platform_id] = utcnow() + dt.timedelta(seconds=delay)
                if len(done) >= self.record_every:
                    self._record(done)
        finally:
            self._record(done)
        return len(rows)

    def _retry_delay(self, row: outbox.Claimed, outcome: Outcome) -> float:
        wanted = parse_retry_after(outcome.retry_after, utcnow())
        delay = retry_delay(
            row.attempts, wanted, base=self.base, cap=self.cap, retry_after_max=self.retry_after_max
        )
        return delay

    def _contexts(self, ids: set[int]) -> dict[int, ContextInfo]:
        with session_scope(self.app) as s:
            found = s.execute(
                select(Context.id, Context.ags_scopes, Context.lineitems_url, Platform)
                .join(Deployment, Context.deployment_id == Deployment.id)
                .join(Platform, Deployment.platform_id == Platform.id)
                .where(Context.id.in_(ids))
            ).all()
            return {
                cid: ContextInfo(PlatformInfo.of(platform), token_scopes(scopes), lineitems_url)
                for cid, scopes, lineitems_url, platform in found
            }

    def deliver(self, row: outbox.Claimed, context: ContextInfo) -> tuple[Outcome, str | None]:
        """Send one row; returns the outcome and the line item URL it went to."""
        client = AgsClient(self.http, self.tokens, context.platform, context.scopes)
        url = row.lineitem_url
        if url is None:
            try:
                url = self._module_lineitem(row, context, client)
            except LineItemRemoved as exc:
                return Outcome(REMOVED, None, str(exc)), exc.url
            except _Unusable as exc:
                return Outcome(FAILED, None, str(exc)), None
            except Exception as exc:  # platform trouble while finding the line item: retried like a score
                return classify_exception(exc), None
        return client.post_score(url, row.payload), url

    def _module_lineitem(self, row: outbox.Claimed, context: ContextInfo, client: AgsClient) -> str:
        if not row.is_auto or not context.lineitems_url or not row.course_id or not row.module_id:
            raise _Unusable("no line item to send this score to")
        course = get_catalog(self.app).get(row.course_id)
        module = course.module(row.module_id) if course else None
        if module is None:
            raise _Unusable(f"module {row.module_id} is no longer part of course {row.course_id}")
        url = module_lineitem(
            self.app,
            client,
            context_id=row.context_id,
            lineitems_url=context.lineitems_url,
            course_id=row.course_id,
            module=module,
        )
        return url

    def _record(self, done: list[_Done]) -> None:
        """Write the buffered outcomes in one transaction (each only if this worker still holds its row)."""
        if not done:
            return
        with session_scope(self.app, write=True) as s:
            for item in done:
                if self._record_one(s, item):
                    self.delivered += 1
        done.clear()

    def _record_one(self, s: Session, item: _Done) -> bool:
        """Store one outcome; True when the row now counts as delivered (sent or applied)."""
        row, outcome, url, at = item.row, item.outcome, item.url, item.at
        if outcome.kind == SENT and url is not None:
            return outbox.record_delivered(
                s,
                row.id,
                self.worker_id,
                applied=False,
                status=outcome.status or 200,
                lineitem_url=url,
                now=at,
                duration_ms=item.duration_ms,
            )
        if outcome.kind == APPLIED and url is not None:
            if outbox.conflict_is_ours(s, row, url):
                send_at = utcnow().replace(microsecond=0) + dt.timedelta(seconds=1, milliseconds=1)
                stamp = next_timestamp(row.score_timestamp, send_at)
                log.debug("grade %s: 409 after our own previous score; resending at %s", row.id, stamp)
                outbox.record_restamp(
                    s,
                    row,
                    self.worker_id,
                    timestamp=stamp,
                    send_at=send_at,
                    lineitem_url=url,
                    now=at,
                    duration_ms=item.duration_ms,
                )
                return False
            return outbox.record_delivered(
                s,
                row.id,
                self.worker_id,
                applied=True,
                status=409,
                lineitem_url=url,
                now=at,
                duration_ms=item.duration_ms,
            )
        if outcome.kind == RETRY:
            outbox.record_retry(
                s,
                row.id,
                self.worker_id,
                delay=item.delay or 0.0,
                status=outcome.status,
                reason=outcome.reason,
                lineitem_url=url,
                now=at,
                duration_ms=item.duration_ms,
            )
            return False
        if outcome.kind == REMOVED:
            outbox.record_removed(
                s,
                row.id,
                self.worker_id,
                status=outcome.status,
                reason=outcome.reason,
                lineitem_url=url,
                now=at,
                duration_ms=item.duration_ms,
            )
            return False
        outbox.record_failed(
            s,
            row.id,
            self.worker_id,
            status=outcome.status,
            reason=outcome.reason,
            lineitem_url=url,
            now=at,
            duration_ms=item.duration_ms,
        )
        return False

    def _release(self, ids: list[int], due: dt.datetime | None = None) -> None:
        with session_scope(self.app, write=True) as s:
            outbox.release(s, self.worker_id, ids, due=due)

    # --- the loop ------------------------------------------------------------------------------------

    def beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_beat < self.heartbeat_every:
            return
        self._last_beat = now
        with session_scope(self.app, write=True) as s:
            outbox.heartbeat(
                s,
                self.worker_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                started_at=self.started_at,
                delivered=self.delivered,
            )

    def housekeep(self) -> None:
        """Purge expired launch-store entries and sessions now and then, also when nobody logs in."""
        now = time.monotonic()
        if self.housekeeping_every <= 0 or now - self._last_housekeeping < self.housekeeping_every:
            return
        self._last_housekeeping = now
        housekeeping.purge(self.app)

    def drain(self) -> int:
        """Deliver until nothing is due (rows waiting for a retry later are left); returns rows claimed."""
        total = 0
        while not self.stop_event.is_set():
            claimed = self.run_once()
            total += claimed
            if claimed == 0:
                break
        return total

    def run(self) -> None:
        """Deliver until stop() is called. Never dies on an error: logs it and tries again after a pause."""
        outbox.add_wake_listener(self.nudge.set)
        log.info("grade worker %s started", self.worker_id)
        try:
            while not self.stop_event.is_set():
                try:
                    self.beat()
                    self.housekeep()
                    claimed = self.run_once()
                except Exception:
                    log.exception("grade worker %s: error in a batch; pausing", self.worker_id)
                    claimed = 0
                    self.stop_event.wait(max(self.poll, 1.0))
                if claimed < self.batch_size and not self.stop_event.is_set():
                    self.nudge.wait(self.poll)
                    self.nudge.clear()
        finally:
            outbox.remove_wake_listener(self.nudge.set)
            try:
                with session_scope(self.app, write=True) as s:
                    outbox.forget_worker(s, self.worker_id)
            except Exception:
                log.exception("grade worker %s: could not remove its heartbeat", self.worker_id)
            self.http.close()
            log.info("grade worker %s stopped (%d delivered)", self.worker_id, self.delivered)

    def stop(self) -> None:
        self.stop_event.set()
        self.nudge.set()


@dataclass(frozen=True, slots=True)
class _Done:
    """A delivery attempt's result, waiting to be written."""

    row: outbox.Claimed
    outcome: Outcome
    url: str | None
    at: dt.datetime
    delay: float | None
    duration_ms: int | None = None


def log_attempt(
    row: outbox.Claimed, outcome: Outcome, url: str | None, seconds: float, delay: float | None
) -> None:
    """One INFO line per delivery attempt: platform, line item, learner (the tool's user id, not the LTI sub),
    outcome, HTTP status, latency, and the platform's reason when it was not sent. Never a token: the line
    item URL carries none, and reasons are sanitised excerpts (`lti_tool.http.short_reason`)."""
    extra = ""
    if outcome.kind not in (SENT, APPLIED) and outcome.reason:
        extra = f" reason={outcome.reason!r}"
    if delay is not None:
        extra += f" retry_in={delay:.1f}s"
    log.info(
        "grade delivery: platform=%s lineitem=%s user=%s grade=%s attempt=%s outcome=%s status=%s "
        "latency_ms=%.0f%s",
        row.platform_id,
        url or row.lineitem_url or "-",
        row.user_id,
        row.id,
        row.attempts,
        outcome.kind,
        outcome.status if outcome.status is not None else "-",
        seconds * 1000,
        extra,
    )


class _Unusable(Exception):
    """The row cannot be sent anywhere (fails, with this as the reason)."""


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
                    conn.execute(f"LISTEN {outbox.WAKE_CHANNEL}")
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

"""The grade worker: claim due outbox rows, send each to the platform, record what happened.

Each batch: claim (one short transaction) -> for each row, outside any transaction: find the line item if
needed, post the score -> record the outcome (one short transaction, only if this worker still holds the
row). How workers are started (their own processes, or a thread in each app process): processes.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select

from .. import housekeeping, logconfig, metrics
from ..course.catalog import get_catalog
from ..db import session_scope
from ..http import http_session
from ..models import Context, Deployment, Platform, utcnow
from . import outbox
from .ags import AgsClient, Outcome, OutcomeKind, classify_exception
from .backoff import parse_retry_after, retry_delay
from .lineitems import LineItemRemoved, module_lineitem
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
        # A platform in trouble (down, 429, no access token: `Outcome.platform_trouble`) is given a rest: its
        # other rows of this batch are not tried, and go back to wait as long as the row that was tried.
        holdoff: dict[int, tuple[dt.datetime, str]] = {}
        held_back: dict[int, list[int]] = {}
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
                if row.platform_id in holdoff:
                    held_back.setdefault(row.platform_id, []).append(row.id)
                    continue
                context = contexts.get(row.context_id)
                if context is None:  # the context was deleted meanwhile; the row went with it
                    continue
                with logconfig.bound(row.request_id):  # its lines name the learner's request that queued it
                    started = time.perf_counter()
                    outcome, url = self.deliver(row, context)
                    seconds = time.perf_counter() - started
                    metrics.delivery(outcome.kind, seconds)
                    delay = self._retry_delay(row, outcome) if outcome.kind == OutcomeKind.RETRY else None
                    log_attempt(row, outcome, url, seconds, delay)
                done.append(_Done(row, outcome, url, utcnow(), delay, round(seconds * 1000)))
                if outcome.platform_trouble and delay is not None:
                    holdoff[row.platform_id] = (utcnow() + dt.timedelta(seconds=delay), outcome.reason)
                if len(done) >= self.record_every:
                    self._record(done)
        finally:
            self._record(done)
            self._hold_back(held_back, holdoff)
        return len(rows)

    def _hold_back(
        self, held_back: dict[int, list[int]], holdoff: dict[int, tuple[dt.datetime, str]]
    ) -> None:
        """Give a resting platform's rows back unsent, due when the row that was tried is retried (their
        attempts unchanged), in one statement and one log line per platform."""
        for platform_id, ids in held_back.items():
            until, reason = holdoff[platform_id]
            self._release(ids, due=until)
            log.info(
                "grade worker %s: %d grade(s) of platform %s held back until %s UTC (%s)",
                self.worker_id,
                len(ids),
                platform_id,
                f"{until:%H:%M:%S}",
                reason,
            )

    def _retry_delay(self, row: outbox.Claimed, outcome: Outcome) -> float:
        now = utcnow()
        wanted = parse_retry_after(outcome.retry_after, now)
        delay = retry_delay(
            row.attempts, wanted, base=self.base, cap=self.cap, retry_after_max=self.retry_after_max
        )
        if outcome.rest_until is not None:  # no access token before then: no point in trying sooner
            delay = max(delay, (outcome.rest_until - now).total_seconds())
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
                return Outcome(OutcomeKind.REMOVED, None, str(exc)), exc.url
            except _Unusable as exc:
                return Outcome(OutcomeKind.FAILED, None, str(exc)), None
            except Exception as exc:  # platform trouble while finding the line item: retried like a score
                return classify_exception(exc), None
        return client.post_score(url, row.payload), url

    def _module_lineitem(self, row: outbox.Claimed, context: ContextInfo, client: AgsClient) -> str:
        if not row.to_module_item or not context.lineitems_url or not row.course_id or not row.module_id:
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
                if outbox.record_outcome(
                    s,
                    item.row,
                    self.worker_id,
                    item.outcome,
                    item.url,
                    at=item.at,
                    delay=item.delay,
                    duration_ms=item.duration_ms,
                ):
                    self.delivered += 1
        done.clear()

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
        """Purge expired launch-store entries and sessions now and then, also when nobody logs in, and prune
        the outbox's history (outbox/retention.py)."""
        now = time.monotonic()
        if self.housekeeping_every <= 0 or now - self._last_housekeeping < self.housekeeping_every:
            return
        self._last_housekeeping = now
        housekeeping.purge(self.app)
        prune_outbox(self.app, rounds=PRUNE_ROUNDS)

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


PRUNE_ROUNDS = 10  # outbox batches pruned per housekeeping run: a backlog goes over several runs


def prune_outbox(app: Flask, *, rounds: int | None = None) -> int:
    """Prune the outbox's history, a batch per transaction, until nothing is left or after `rounds` batches;
    returns the rows deleted."""
    days = int(app.config["GRADE_HISTORY_DAYS"])
    total = done = 0
    while rounds is None or done < rounds:
        with session_scope(app) as s:  # the search reads; only the delete takes the write lock
            ids = outbox.prunable(s, history_days=days)
        with session_scope(app, write=True) as s:
            total += outbox.delete_rows(s, ids)
        done += 1
        if len(ids) < outbox.PRUNE_BATCH:
            break
    if total:
        log.info("grade outbox: %d old sent or superseded rows pruned", total)
    return total


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
    if outcome.kind not in (OutcomeKind.SENT, OutcomeKind.APPLIED) and outcome.reason:
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

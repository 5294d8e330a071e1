"""Worker processes (`scripts/flask grades worker`) on the test database: one killed with SIGKILL in the
middle of a batch and another taking over after the lease; several at once delivering every row once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lti_tool import progress
from lti_tool.db import session_scope
from lti_tool.models import WorkerHeartbeat

from ..conftest import TEST_DATABASE_URL, TEST_KEY_SECRET, TEST_REDIS_URL
from ..course.learner import answers
from ..test_gunicorn import free_port
from .conftest import LEARNERS, Classroom, Lms, assert_platform_has_exactly_the_newest, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class WorkerProcess:
    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        self._file = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "grades", "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._file.close()

    def terminate(self, timeout: float = 15) -> int:
        self.ask_to_stop()
        return self.wait(timeout)

    def ask_to_stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)

    def wait(self, timeout: float = 15) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError("worker did not stop on SIGTERM:\n" + self.output()[-3000:]) from None
        finally:
            self._file.close()
        return code

    def delivered(self) -> int:
        match = re.search(r"(\d+) score\(s\) delivered", self.output())
        assert match, self.output()[-3000:]
        return int(match.group(1))


@pytest.fixture
def spawn(test_config: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    started: list[WorkerProcess] = []

    def start(*args: str, **settings: Any) -> WorkerProcess:
        env = dict(os.environ)
        env.update(
            {
                "LTI_TOOL_DATABASE_URL": test_config["DATABASE_URL"],
                "LTI_TOOL_SECRET_KEY": test_config["SECRET_KEY"],
                "LTI_TOOL_KEY_SECRETS": TEST_KEY_SECRET,
                "LTI_TOOL_CONTENT_DIR": test_config["CONTENT_DIR"],
                "LTI_TOOL_INSTANCE_PATH": str(tmp_path / f"worker-{len(started)}"),
                "LTI_TOOL_EMBEDDED_WORKER": "false",
            }
        )
        for key in (
            "GRADE_POLL_SECONDS",
            "GRADE_BACKOFF_BASE_SECONDS",
            "GRADE_BACKOFF_CAP_SECONDS",
            "GRADE_TOKEN_BACKOFF_BASE_SECONDS",
            "GRADE_TOKEN_BACKOFF_CAP_SECONDS",
            "GRADE_LEASE_SECONDS",
            "GRADE_RECORD_EVERY",
            "GRADE_HEARTBEAT_SECONDS",
            "HTTP_CONNECT_TIMEOUT",
            "HTTP_READ_TIMEOUT",
        ):
            env[f"LTI_TOOL_{key}"] = str(test_config[key])
        for key, value in settings.items():
            env[f"LTI_TOOL_{key}"] = str(value)
        if TEST_REDIS_URL:
            env["LTI_TOOL_REDIS_URL"] = TEST_REDIS_URL
            env["LTI_TOOL_REDIS_PREFIX"] = test_config["REDIS_PREFIX"]
        process = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log", *args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.kill()


def test_worker_killed_mid_batch_another_takes_over_after_the_lease(
    classroom: Classroom, lms: Lms, spawn: Any
) -> None:
    users = classroom.learners([*LEARNERS, *lms.add_learners(8)])
    for user in users:
        classroom.record(user, "modul-a", score=0.6)
    lms.faults({"scores": {"delay": 0.1}})  # a batch of 20 takes about 2 s
    first = spawn(GRADE_LEASE_SECONDS=2, GRADE_BATCH_SIZE=20)
    wait_until(lambda: len(lms.history()) >= 4, timeout=30)
    first.kill()  # SIGKILL: no chance to give anything back
    stuck = classroom.count("sending")
    assert stuck > 0, "the worker was not in the middle of a batch"
    second = spawn(GRADE_LEASE_SECONDS=2, GRADE_BATCH_SIZE=20)
    wait_until(lambda: classroom.count("pending", "sending") == 0, timeout=40)
    assert second.terminate() == 0
    assert second.delivered() >= stuck
    assert_platform_has_exactly_the_newest(classroom)
    with session_scope(
        classroom.app
    ) as s:  # the graceful one removed its heartbeat, the killed one could not
        assert s.scalar(select(func.count()).select_from(WorkerHeartbeat)) == 1


def test_several_worker_processes_deliver_every_row_once(classroom: Classroom, lms: Lms, spawn: Any) -> None:
    """Four processes on PostgreSQL (FOR UPDATE SKIP LOCKED); two on SQLite (BEGIN IMMEDIATE)."""
    count = 4 if TEST_DATABASE_URL else 2
    learners = 60 if TEST_DATABASE_URL else 30
    users = classroom.learners([*LEARNERS, *lms.add_learners(learners - len(LEARNERS))])
    lms.faults({"scores": {"delay": 0.01}})
    workers = [spawn(GRADE_BATCH_SIZE=10) for _ in range(count)]

    wait_until(lambda: heartbeats(classroom) == count, timeout=30)
    with session_scope(classroom.app, write=True) as s:  # all rows appear at once
        for user in users:
            classroom_record(s, classroom, user)
    wait_until(lambda: classroom.count("pending", "sending") == 0, timeout=40)
    for worker in workers:
        worker.ask_to_stop()
    assert [w.wait() for w in workers] == [0] * count
    delivered = [w.delivered() for w in workers]
    rows = classroom.rows()
    assert len(rows) == 2 * learners and {r.state for r in rows} == {"sent"}
    assert sum(delivered) == len(rows)
    assert sum(1 for d in delivered if d) >= 2, delivered  # they really shared the work
    assert len(lms.history()) == len(rows)  # each row accepted exactly once
    stats = lms.stats()
    assert stats["token_requests"] == 1  # one token for every process
    assert stats["by_status"]["lineitem_requests"].get("201") == 1  # one per-module column
    assert stats["by_status"]["score_posts"] == {"200": len(rows)}
    assert_platform_has_exactly_the_newest(classroom)


def heartbeats(classroom: Classroom) -> int:
    with session_scope(classroom.app) as s:
        return int(s.scalar(select(func.count()).select_from(WorkerHeartbeat)) or 0)


def classroom_record(s: Any, classroom: Classroom, user: int) -> None:
    """A quiz taken (4 of 5 answers right) through the progress service, in the caller's transaction."""
    learner, course = classroom.learner(user), classroom.course
    module = course.module("modul-a")
    assert module is not None
    attempt = progress.start_quiz_attempt(s, learner, course, module)
    progress.submit_quiz_attempt(s, learner, course, module, attempt.public_id, answers(module, right=4))


@pytest.fixture
def classroom(app: Any, lms: Lms) -> Classroom:
    return Classroom(app, lms)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL: LISTEN/NOTIFY")
def test_a_waiting_worker_process_is_woken_by_notify(classroom: Classroom, spawn: Any) -> None:
    worker = spawn(GRADE_POLL_SECONDS=60, GRADE_HEARTBEAT_SECONDS=60)
    wait_until(lambda: heartbeats(classroom) == 1, timeout=30)
    time.sleep(0.5)  # the worker has polled once and now waits (up to 60 s)
    started = time.monotonic()
    classroom.record(classroom.person("4"), "modul-a", score=0.4)
    wait_until(lambda: classroom.count("sent") == 2, timeout=10)
    assert time.monotonic() - started < 5
    assert worker.terminate() == 0


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the embedded worker is the SQLite set-up")
def test_embedded_workers_under_gunicorn_deliver_each_row_once(
    classroom: Classroom, lms: Lms, test_config: dict[str, Any], tmp_path: Path
) -> None:
    """Two gunicorn processes, each with its embedded worker thread, on one SQLite file."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "LTI_TOOL_DATABASE_URL": test_config["DATABASE_URL"],
            "LTI_TOOL_SECRET_KEY": test_config["SECRET_KEY"],
            "LTI_TOOL_KEY_SECRETS": TEST_KEY_SECRET,
            "LTI_TOOL_CONTENT_DIR": test_config["CONTENT_DIR"],
            "LTI_TOOL_INSTANCE_PATH": str(tmp_path / "gunicorn"),
            "LTI_TOOL_BIND": f"127.0.0.1:{port}",
            "LTI_TOOL_WEB_WORKERS": "2",
            "LTI_TOOL_EMBEDDED_WORKER": "auto",
            "LTI_TOOL_GRADE_POLL_SECONDS": "0.05",
            "LTI_TOOL_GRADE_HEARTBEAT_SECONDS": "0.5",
            "LTI_TOOL_GRADE_BATCH_SIZE": "5",
            "LTI_TOOL_GRADE_TOKEN_BACKOFF_BASE_SECONDS": str(test_config["GRADE_TOKEN_BACKOFF_BASE_SECONDS"]),
            "LTI_TOOL_GRADE_TOKEN_BACKOFF_CAP_SECONDS": str(test_config["GRADE_TOKEN_BACKOFF_CAP_SECONDS"]),
        }
    )
    users = classroom.learners([*LEARNERS, *lms.add_learners(16)])
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "app:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: heartbeats(classroom) == 2, timeout=30)
        for user in users:
            classroom.record(user, "modul-a", score=0.8)
        wait_until(lambda: classroom.count("pending", "sending") == 0, timeout=30)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    rows = classroom.rows()
    assert {r.state for r in rows} == {"sent"} and len(rows) == 2 * len(users)
    assert len(lms.history()) == len(rows)
    assert_platform_has_exactly_the_newest(classroom)

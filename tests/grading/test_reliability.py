"""No grade lost, none doubled: the platform down and back, 30 % of score posts answered 500, 429 with
Retry-After, the token endpoint failing, a read time-out. Each ends with the platform holding exactly the
newest score of every learner and line item, each accepted once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from lti_tool.grading.worker import Worker

from .conftest import (
    LEARNERS,
    Classroom,
    Lms,
    assert_platform_has_exactly_the_newest,
    deliver_all,
    wait_until,
)


@pytest.fixture
def classroom(app: Flask, lms: Lms) -> Classroom:
    return Classroom(app, lms)


@pytest.fixture
def running_worker(app: Flask) -> Iterator[Worker]:
    worker = Worker(app, label="background")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield worker
    worker.stop()
    thread.join(15)


def learn(classroom: Classroom, users: list[int], rounds: int, pause: float = 0.0) -> None:
    """Every learner improves their quiz score `rounds` times (up to all 5 answers right) and completes the module
    at the end."""
    scores = (0.2, 0.4, 0.6, 0.8, 1.0)[-rounds:]
    for step, score in enumerate(scores):
        for user in users:
            classroom.record(user, "modul-a", score=score, completed=step == rounds - 1)
        time.sleep(pause)


def wait_delivered(classroom: Classroom, timeout: float = 30.0) -> None:
    wait_until(lambda: classroom.count("pending", "sending") == 0, timeout=timeout)


def test_platform_down_for_a_while_then_back(classroom: Classroom, running_worker: Worker) -> None:
    users = classroom.learners([*LEARNERS, *classroom.lms.add_learners(6)])
    classroom.lms.stop()  # connection refused
    learn(classroom, users, rounds=3, pause=0.1)
    wait_until(lambda: max((r.attempts for r in classroom.rows()), default=0) >= 2, timeout=15)
    assert classroom.count("sent") == 0
    classroom.lms.start()
    wait_delivered(classroom)
    assert_platform_has_exactly_the_newest(classroom)
    rows = classroom.rows()
    assert all(
        "connection" in (r.last_error or "").lower() for r in rows if r.state == "superseded" and r.attempts
    )


def test_platform_answering_503_to_everything_then_back(classroom: Classroom, running_worker: Worker) -> None:
    users = classroom.learners(LEARNERS)
    classroom.lms.faults({"down": True})
    learn(classroom, users, rounds=2)
    wait_until(lambda: classroom.lms.stats()["faults_injected"].get("token", 0) >= 2, timeout=15)
    classroom.lms.clear_faults()
    wait_delivered(classroom)
    assert_platform_has_exactly_the_newest(classroom)


def test_thirty_percent_of_score_posts_answered_500(classroom: Classroom, running_worker: Worker) -> None:
    users = classroom.learners([*LEARNERS, *classroom.lms.add_learners(12)])
    classroom.lms.faults({"scores": {"status": 500, "rate": 0.3, "seed": 1}})
    # five rounds while the worker is delivering: retried scores overtaken by newer ones, restamped ones and
    # their successors stamped ahead of the clock (test_worker.py ..._stamped_ahead_of_the_clock_arrives)
    learn(classroom, users, rounds=5, pause=0.05)
    wait_delivered(classroom)
    assert_platform_has_exactly_the_newest(classroom)
    posts = classroom.lms.stats()["by_status"]["score_posts"]
    assert posts["500"] >= 5
    assert sum(posts.values()) > posts["500"]


def test_429_retry_after_is_honoured(classroom: Classroom) -> None:
    classroom.lms.faults({"scores": {"status": 429, "retry_after": 1, "count": 2}})
    classroom.record(classroom.person("4"), "modul-a", score=0.4)
    started = time.monotonic()
    deliver_all(classroom.app)
    waited = time.monotonic() - started
    # backoff alone (base 0.05 s, cap 0.4 s) would have retried twice within a second
    assert waited >= 2.0, waited
    assert classroom.lms.stats()["by_status"]["score_posts"]["429"] == 2
    assert_platform_has_exactly_the_newest(classroom)


def test_token_endpoint_failing_for_a_while(classroom: Classroom) -> None:
    classroom.lms.faults({"token": {"status": 500, "count": 3}})
    for user in classroom.learners(LEARNERS):
        classroom.record(user, "modul-a", score=0.8, completed=True)
    deliver_all(classroom.app)
    assert classroom.lms.stats()["by_status"]["token_requests"] == {"500": 3, "200": 1}
    assert_platform_has_exactly_the_newest(classroom)


def test_read_timeout_then_retry(classroom: Classroom) -> None:
    """A score post outlasts the read time-out (1 s here; it answers after 2.5 s) and is sent again; the platform
    applies it anyway, later."""
    # First the token and the module's line item, read with the tests' generous time-out. Through another learner:
    # a newer score of the same learner in the second the platform saved theirs would be answered 409 and sent
    # again, a second attempt that is not the time-out's.
    classroom.record(classroom.person(LEARNERS[0]), "modul-a", score=0.4)
    deliver_all(classroom.app)
    classroom.app.config["HTTP_READ_TIMEOUT"] = 1.0  # for the worker deliver_all makes: score posts only
    classroom.lms.faults({"scores": {"delay": 2.5, "count": 1}})
    for user in classroom.learners(LEARNERS[1:3]):
        classroom.record(user, "modul-a", score=0.6)
    deliver_all(classroom.app)
    rows = classroom.rows()
    assert max(r.attempts for r in rows) == 2
    # wait for the slow request to finish on the platform's side too
    wait_until(lambda: classroom.lms.stats()["score_posts"] == sum(r.attempts for r in rows), timeout=10)
    assert_platform_has_exactly_the_newest(classroom)

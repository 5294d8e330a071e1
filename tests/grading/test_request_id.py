"""The request id of a learner's action reaches the grade worker: the outbox row keeps the id of the request that
queued it, and every line the worker logs about that row carries it (so one id follows the action from the
learner's click to the LMS). Migration 0011 adds the column to a database holding outbox rows of 0010."""

from __future__ import annotations

import datetime as dt
import logging
import re

import requests
from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.logconfig import RequestIdFilter
from lti_tool.lti.platforms import PlatformSpec, add_platform
from lti_tool.models import GradeOutbox

from ..course.learner import attempt_id, quiz_answers
from ..forms import csrf_token
from ..migrations import LINK_ITEM, downgrade, outbox_row, previous_revision, session, upgrade_to_head
from .conftest import CLIENT_ID, DEPLOYMENT_ID, Lms, deliver_all
from .test_end_to_end import launch_page


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_workers_lines_about_a_grade_name_the_request_that_queued_it(app: Flask, lms: Lms) -> None:
    with session_scope(app, write=True) as s:
        add_platform(
            s,
            PlatformSpec(lms.url, CLIENT_ID, lms.url + "/auth", lms.token_url, lms.url + "/jwks", "Demo-LMS"),
            DEPLOYMENT_ID,
        )
    lea = requests.Session()
    landing = launch_page(lea, lms.url + "/launch/1", {"user": "4"})
    base = re.match(r"^(https?://[^/]+/s/[^/]+/)", landing.url)
    assert landing.status_code == 200 and base
    page = lea.get(base.group(1) + "m/modul-a/quiz")
    assert page.status_code == 200
    csrf = csrf_token(page.text)
    answers = quiz_answers(app, "modul-a", attempt_id(page.text))
    done = lea.post(
        base.group(1) + "m/modul-a/quiz",
        data=[*answers, ("csrf_token", csrf)],
        allow_redirects=False,
    )
    assert done.status_code == 303, done.text[:300]
    request_id = done.headers["X-Request-ID"]
    with session_scope(app) as s:
        queued = s.scalars(select(GradeOutbox)).all()
    assert queued and {row.request_id for row in queued} == {request_id}

    lms.faults({"scores": {"status": 500, "count": 1}})  # one retry: the worker logs about the row
    lines = Lines()
    grading = logging.getLogger("lti_tool.grading")
    grading.addHandler(lines)
    level = grading.level
    grading.setLevel(logging.INFO)
    try:
        deliver_all(app)
    finally:
        grading.removeHandler(lines)
        grading.setLevel(level)
    about_rows = [r for r in lines.records if re.match(r"grade \d+|grade delivery: ", r.getMessage())]
    assert about_rows, [r.getMessage() for r in lines.records]
    assert {r.request_id for r in about_rows} == {request_id}  # type: ignore[attr-defined]
    assert len(lms.scores()) == len(queued)


def test_migration_0011_keeps_outbox_rows_of_0010(empty_database: str) -> None:
    when = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    with previous_revision(empty_database, "0010") as old:
        assert "request_id" not in old.columns("grade_outbox")
        old.course(when)
        old.link(when, LINK_ITEM)
        old.insert(
            "grade_outbox", outbox_row(1, when, "course:grundlagenkurs", "sent", attempts=1, sent_at=when)
        )
    upgrade_to_head(empty_database)
    with session(empty_database) as s:
        row = s.execute(select(GradeOutbox.__table__)).one()
    assert (row.id, row.state, row.request_id) == (1, "sent", None)
    downgrade(empty_database, "0010")
    upgrade_to_head(empty_database)

"""A platform whose grade service answers what no platform should: JSON nested deeper than the parser goes,
NaN, a NUL, a line item whose id is no URL of the platform's, an access token no HTTP header can carry. The
worker reads these answers as strictly as the tool's other readers of platform JSON (lti_tool/http.py
`platform_json`): each ends as a recorded outcome with a clear reason, never an exception that stops the batch
and leaves the row leased, and nothing the answer said is stored."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.db import session_scope
from lti_tool.grading.worker import Worker
from lti_tool.models import GradeOutbox, LineItem

from .conftest import Classroom
from .hostile_lms import Answer, HostileLms

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def classroom(app: Flask, hostile: HostileLms) -> Classroom:
    return Classroom(app, hostile)  # type: ignore[arg-type]  # duck-typed: only the grade service is used


def deliver(app: Flask, classroom: Classroom) -> dict[str, tuple[str, str | None]]:
    """One learner's quiz in modul-a (a row for the module's own item, one for the activity's), delivered by one
    batch of a worker; returns each row's state and reason by where it goes ('module' / 'activity')."""
    learner = classroom.person("4")
    classroom.record(learner, "modul-a", score=1.0, completed=True)
    worker = Worker(app, label="test")
    worker.run_once()  # raises if a hostile answer escapes as an exception
    with session_scope(app) as s:
        rows = s.scalars(select(GradeOutbox).where(GradeOutbox.state != "superseded")).all()
        out = {
            ("module" if r.destination == "module_item" else "activity"): (r.state, r.last_error)
            for r in rows
        }
    assert "sending" not in {state for state, _ in out.values()}, out  # none left leased
    return out


def lineitems_stored(app: Flask) -> list[str]:
    with session_scope(app) as s:
        return list(s.scalars(select(LineItem.url)))


def test_an_error_answer_nested_too_deeply_fails_the_score_with_its_status(
    app: Flask, classroom: Classroom, hostile: HostileLms
) -> None:
    """The reason of a refused score quotes what the platform said: a JSON error body nested deeper than the
    parser goes raised RecursionError out of the batch, and the row stayed leased, to crash the next worker."""
    hostile.scores = Answer(DEEP, 400)
    rows = deliver(app, classroom)
    assert rows["activity"] == ("failed", "400 Bad Request"), rows


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (DEEP, "nested too deeply"),
        ('[{"id": NaN, "resourceId": "modul-a"}]', "NaN"),
        # int() reads at most 4,300 digits: the refusal said "NaN or Infinity"
        ('[{"id": "x", "scoreMaximum": ' + "1" * 4301 + "}]", "a number too long to read (over 4300 digits)"),
        ('[{"id": "x", "scoreMaximum": -' + "9" * 5000 + "}]", "a number too long to read"),
        ('[{"id": "x", "scoreMaximum": 1e400}]', "a number beyond a float's range"),
        ('[{"id": "http://x/\\u0000", "resourceId": "modul-a", "tag": "grundlagenkurs"}]', "NUL"),
        ('{"lineitems": []}', "not a list"),
    ],
)
def test_a_line_item_list_the_tool_cannot_read_fails_the_row(
    app: Flask, classroom: Classroom, hostile: HostileLms, body: str, reason: str
) -> None:
    hostile.lineitems = Answer(body)
    rows = deliver(app, classroom)
    state, last_error = rows["module"]
    assert state == "failed" and last_error and "line items" in last_error and reason in last_error, rows
    assert rows["activity"][0] == "sent"  # the activity's own item is unaffected
    assert lineitems_stored(app) == []
    assert "POST lineitems" not in hostile.seen  # nothing created on a list it could not read


def test_a_line_item_list_that_is_no_json_is_tried_again(
    app: Flask, classroom: Classroom, hostile: HostileLms
) -> None:
    """A maintenance page (HTML with 200) is platform trouble, not a hostile answer: retried later."""
    hostile.lineitems = Answer("<html>Wartung</html>", kind="text/html")
    rows = deliver(app, classroom)
    assert rows["module"][0] == "pending" and "no JSON" in (rows["module"][1] or ""), rows


@pytest.mark.parametrize(
    "body",
    [
        '{"id": {"url": "x"}}',
        '{"id": 17}',
        '{"id": "not a url"}',
        '{"id": "https://elsewhere.example.org/lineitems/9/lineitem"}',
        '{"id": "URL/' + "x" * 1100 + '"}',
        DEEP,
        '{"id": NaN}',
    ],
)
def test_a_created_line_item_without_a_usable_id_is_not_stored(
    app: Flask, classroom: Classroom, hostile: HostileLms, body: str
) -> None:
    """The id of a created line item is where the tool sends that module's scores from then on: only a URL on the
    platform's registered origins that fits the column is kept (str() of an object was stored and every later
    score of the module went to "{'url': 'x'}/scores")."""
    hostile.created = Answer(body.replace("URL", hostile.url), 201)
    rows = deliver(app, classroom)
    state, last_error = rows["module"]
    assert state == "failed" and last_error and "line item" in last_error, rows
    assert lineitems_stored(app) == []
    assert not [s for s in hostile.seen if s == "score 9"]


def test_a_found_line_item_elsewhere_is_not_used(
    app: Flask, classroom: Classroom, hostile: HostileLms
) -> None:
    hostile.lineitems = Answer(
        '[{"id": "https://elsewhere.example.org/li", "resourceId": "modul-a", "tag": "grundlagenkurs"}]'
    )
    rows = deliver(app, classroom)
    assert rows["module"][0] == "failed" and "line item" in (rows["module"][1] or ""), rows
    assert lineitems_stored(app) == []


@pytest.mark.parametrize(
    "body",
    [
        '{"access_token": "tok\\r\\nX-Injected: 1", "expires_in": 3600}',
        '{"access_token": "' + "t" * 20_000 + '", "expires_in": 3600}',
        DEEP,
    ],
)
def test_a_token_answer_the_tool_cannot_use_is_a_clear_retry(
    app: Flask, classroom: Classroom, hostile: HostileLms, body: str
) -> None:
    """A token no header can carry (requests raised InvalidHeader: 'unexpected error') or an answer the tool
    refuses: retried later, with the reason."""
    hostile.token = Answer(body)
    rows = deliver(app, classroom)
    state, last_error = rows["activity"]
    assert state == "pending" and last_error and "access token" in last_error, rows
    assert "unexpected" not in last_error
    assert rows["module"][0] == "pending"


@pytest.mark.parametrize("expires_in", ["1e308", '"inf"', "-5"])
def test_a_token_lifetime_beyond_counting_is_taken_as_at_most_a_day(
    app: Flask, classroom: Classroom, hostile: HostileLms, expires_in: str
) -> None:
    """expires_in 1e308 overflowed the expiry's date (a timedelta): the token is used, kept at most a day."""
    hostile.token = Answer('{"access_token": "tok-1", "expires_in": ' + expires_in + "}")
    rows = deliver(app, classroom)
    assert {state for state, _ in rows.values()} == {"sent"}, rows

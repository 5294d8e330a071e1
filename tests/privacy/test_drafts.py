"""A practice text sent after the session ended is kept in the launch store (course/drafts.py): it is the person's
data too, so their export shows it and their deletion removes it."""

from __future__ import annotations

import datetime as dt
import json

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from lti_tool.course.drafts import kept_text
from lti_tool.db import session_scope
from lti_tool.models import Membership, User

from ..course.learner import Learner
from ..course.test_session_time import PRACTICE, _age
from ..peer import Launcher


def test_a_kept_practice_text_is_exported_and_deleted(
    app: Flask, runner: FlaskCliRunner, launcher: Launcher
) -> None:
    lea = Learner.launch(launcher, sub="lea-d", name="Lea Schneider")
    lea.get(PRACTICE)
    text = "Unsere Gemeinde plant ein Klimaschutzkonzept mit Bürgerbeteiligung, sagt Lea. " * 2
    _age(app, lea, seen=dt.timedelta(hours=2))
    assert lea.post(PRACTICE, {"text": text}).status_code == 401  # kept, not submitted
    with session_scope(app) as s:
        user_id, context_id = s.execute(
            select(User.id, Membership.context_id).join(Membership, Membership.user_id == User.id)
        ).one()

    exported = runner.invoke(args=["learner", "export", "--platform", launcher.peer.issuer, "--sub", "lea-d"])
    assert exported.exit_code == 0, exported.output
    [draft] = json.loads(exported.output)["practice_draft"]
    assert (draft["text"], draft["module_id"], draft["context_id"]) == (text, "modul-a", context_id)

    deleted = runner.invoke(
        args=["learner", "delete", "--platform", launcher.peer.issuer, "--sub", "lea-d", "--yes"]
    )
    assert deleted.exit_code == 0, deleted.output
    assert "practice texts kept after a session ended (launch store): 1" in deleted.output
    with app.app_context():
        assert kept_text(user_id, context_id, "grundlagenkurs", "modul-a") is None

"""The erasure log and `learner reapply-erasures` / `send-grades` from the command line: what the log holds (no
personal data), a log that cannot be written stops the deletion, a broken log or one made with a key secret this
tool no longer has is said, not skipped; a rotated key secret still matches older records."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, update

from lti_tool import create_app
from lti_tool.db import session_scope
from lti_tool.models import Erasure, User, utcnow

from ..admin import seed
from ..conftest import TEST_KEY_SECRET

MOODLE = "https://moodle.kreis-dueren.example"


def erika(app: Flask) -> seed.Seeded:
    return seed.learner(app, seed.platform(app, MOODLE), "42")


def users(app: Flask) -> int:
    """How many people with Erika's sub the tool knows (her teacher is another)."""
    with session_scope(app) as s:
        return int(s.scalar(select(func.count()).select_from(User).where(User.sub == "42")) or 0)


def delete(runner: Any, *extra: str) -> Any:
    return runner.invoke(args=["learner", "delete", "--platform", MOODLE, "--sub", "42", "--yes", *extra])


def test_the_log_holds_a_keyed_hash_and_the_time_and_nothing_about_the_person(
    app: Flask, runner: FlaskCliRunner
) -> None:
    person = erika(app)
    assert delete(runner).exit_code == 0
    log = Path(app.instance_path) / "erasures.jsonl"
    assert log.stat().st_mode & 0o777 == 0o600
    [line] = log.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert set(record) == {"subject", "key_id", "erased_at", "send_grades"}
    assert len(record["subject"]) == 64 and int(record["subject"], 16) >= 0
    for personal in (person.name, person.email, MOODLE, "moodle"):
        assert personal not in line
    # The sub ("42") is short enough to turn up inside the random hex hash or the time by chance: no value is it.
    assert person.sub not in record.values() and json.dumps(person.sub) not in line
    with session_scope(app) as s:
        [row] = s.scalars(select(Erasure)).all()
        assert (row.subject, row.key_id, row.send_grades) == (record["subject"], record["key_id"], False)


def test_a_log_that_cannot_be_written_stops_the_deletion(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    erika(app)
    (tmp_path / "not-a-folder").write_text("")
    app.config["ERASURE_LOG"] = str(tmp_path / "not-a-folder" / "erasures.jsonl")
    result = delete(runner)
    assert result.exit_code != 0 and "cannot append to the erasure log" in result.output
    assert "not-a-folder" in result.output
    assert users(app) == 1  # nothing deleted
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(Erasure)) == 0


def test_a_broken_log_is_named_with_its_line(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    erika(app)
    bad = tmp_path / "erasures.jsonl"
    bad.write_text(
        '{"subject": "' + "a" * 64 + '", "key_id": "x", "erased_at": "2026-12-01T10:00:00+00:00", '
        '"send_grades": false}\n{"subject": "short"}\n',
        encoding="utf-8",
    )
    result = runner.invoke(args=["learner", "reapply-erasures", "--from", str(bad)])
    assert result.exit_code != 0 and f"{bad}, line 2: not an erasure record" in result.output
    missing = runner.invoke(args=["learner", "reapply-erasures", "--from", str(tmp_path / "none.jsonl")])
    assert missing.exit_code != 0 and "does not exist" in missing.output
    assert users(app) == 1


def test_records_of_a_key_secret_no_longer_configured_are_reported(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """The tool cannot start without the secret its keys were sealed with, but a log may come from a time
    when another secret was configured (a backup of the log older than a rotation): its records are named."""
    erika(app)
    assert delete(runner).exit_code == 0
    log = Path(app.instance_path) / "erasures.jsonl"
    foreign = json.loads(log.read_text(encoding="utf-8"))
    foreign.update(subject="b" * 64, key_id="0123456789abcdef")
    older = tmp_path / "older.jsonl"
    older.write_text(json.dumps(foreign) + "\n", encoding="utf-8")
    result = runner.invoke(args=["learner", "reapply-erasures", "--from", str(log), "--from", str(older)])
    assert result.exit_code == 1
    assert "2 erasure(s) known, 1 added to the database" in result.output
    assert "1 erasure(s) were made with a key secret this tool no longer has (key id 0123456789abcdef)" in (
        result.output
    )


def test_after_a_key_secret_rotation_older_records_still_match(
    app: Flask, runner: FlaskCliRunner, test_config: dict[str, Any]
) -> None:
    erika(app)
    assert delete(runner).exit_code == 0
    log = Path(app.instance_path) / "erasures.jsonl"
    # She comes back from a restored backup; the tool meanwhile has a new key secret, the old one listed after.
    rotated = create_app(
        {**test_config, "KEY_SECRETS": ["rotated-secret", TEST_KEY_SECRET], "ERASURE_LOG": str(log)}
    )
    try:
        with session_scope(rotated, write=True) as s:
            s.execute(sa.delete(Erasure))
        seed.learner(rotated, seed.platform(rotated, MOODLE), "42")
        with session_scope(
            rotated, write=True
        ) as s:  # as the backup holds her: known since before her erasure
            s.execute(update(User).values(created_at=utcnow() - dt.timedelta(days=30)))
        result = rotated.test_cli_runner().invoke(args=["learner", "reapply-erasures"])
        assert result.exit_code == 0, result.output
        assert "1 person(s) erased again" in result.output
        assert users(rotated) == 0
    finally:
        rotated.extensions["nama_db"].dispose()


def test_send_grades_for_someone_never_deleted_or_unknown(app: Flask, runner: FlaskCliRunner) -> None:
    erika(app)
    never = runner.invoke(args=["learner", "send-grades", "--platform", MOODLE, "--sub", "42"])
    assert never.exit_code == 0 and "was never deleted" in never.output
    unknown = runner.invoke(args=["learner", "send-grades", "--platform", MOODLE, "--sub", "99"])
    assert unknown.exit_code != 0 and "no person with sub '99'" in unknown.output

"""Backups and restore (README "Backups and restore"), the round trip on SQLite and PostgreSQL: a backup taken
while the tool runs, a learner deleted, the backup restored — she is back, her certificate verifies, her old
session link works, her text is in a colleague's exchange — and `learner reapply-erasures` makes the deletion hold
again: certificate unknown, session link dead, text gone. The commands are the ones the README gives."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import requests
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import make_url, select

from lti_tool.db import session_scope
from lti_tool.models import Erasure

from ..course.learner import Learner, take_quiz
from ..peer import Launcher

LEA_TEXT = "Lea: Unsere Kommune Düren hat einen Klimabeirat mit elf Mitgliedern."


def complete_course(app: Flask, lea: Learner) -> str:
    """Work through both modules over HTTP (lessons, quiz, practice task), then fetch the certificate's code."""
    for module_id in ("modul-a", "modul-b"):
        for lesson in ("01-einstieg", "02-vertiefung"):
            assert lea.get(f"m/{module_id}/{lesson}").status_code == 200
        assert take_quiz(app, lea, module_id).status_code == 200
        text = LEA_TEXT if module_id == "modul-a" else "Lea: In Modul b geht es um unseren Haushalt."
        assert lea.post(f"m/{module_id}/praxis", {"text": text}).status_code == 200
    page = lea.get("bescheinigung/")
    code = re.search(r"<code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>", page.text)
    assert page.status_code == 200 and code, page.text[:800]
    return code.group(1)


def lea_is_there(launcher: Launcher, lea: Learner, jonas: Learner, code: str) -> bool:
    verified = requests.get(f"{launcher.tool_url}/verify/{code}").status_code
    session = lea.get("uebersicht").status_code
    exchange = jonas.get("m/modul-a/austausch")
    assert exchange.status_code == 200
    seen = (verified == 200, session == 200, LEA_TEXT in exchange.text)
    assert len(set(seen)) == 1, f"partly there: verify {verified}, session {session}, exchange {seen[2]}"
    return seen[0]


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_restore_then_reapply_erasures(
    app: Flask, runner: FlaskCliRunner, launcher: Launcher, database_url: str, tmp_path: Path
) -> None:
    lea = Learner.launch(launcher, sub="lea", name="Lea Schneider", given_name="Lea")
    code = complete_course(app, lea)
    colleague = Launcher(launcher.tool_url, launcher.peer, launcher.client_id, launcher.deployment_id)
    jonas = Learner.launch(colleague, sub="jonas", name="Jonas Weber", given_name="Jonas")
    assert (
        jonas.post("m/modul-a/praxis", {"text": "Jonas: Wir haben ein Leitbild beschlossen."}).status_code
        == 200
    )
    assert lea_is_there(launcher, lea, jonas, code)

    # The backup, taken while the tool runs (README).
    engine = app.extensions["nama_db"]
    if database_url.startswith("sqlite"):
        database = Path(make_url(database_url).database or "")
        backup = tmp_path / "backup.db"
        subprocess.run(["sqlite3", str(database), f".backup '{backup}'"], check=True)
    else:
        backup = tmp_path / "backup.dump"
        subprocess.run(["pg_dump", "--format=custom", f"--file={backup}", libpq(database_url)], check=True)

    deleted = runner.invoke(
        args=["learner", "delete", "--platform", launcher.peer.issuer, "--sub", "lea", "--yes"]
    )
    assert deleted.exit_code == 0, deleted.output
    assert not lea_is_there(launcher, lea, jonas, code)

    # The restore, with the tool stopped (here: its database connections closed).
    engine.dispose()
    if database_url.startswith("sqlite"):
        subprocess.run(["sqlite3", str(database), f".restore '{backup}'"], check=True)
    else:
        subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={libpq(database_url)}",
                str(backup),
            ],
            check=True,
        )
    assert lea_is_there(launcher, lea, jonas, code)  # the backup brought her back
    with session_scope(app) as s:
        assert s.scalars(select(Erasure)).all() == []  # and the backup knows nothing of her erasure

    reapplied = runner.invoke(args=["learner", "reapply-erasures"])
    assert reapplied.exit_code == 0, reapplied.output
    assert "1 erasure(s) known, 1 added to the database; 1 person(s) erased again" in reapplied.output
    assert "certificate: 1" in reapplied.output
    assert not lea_is_there(launcher, lea, jonas, code)
    with session_scope(app) as s:
        assert len(s.scalars(select(Erasure)).all()) == 1
    again = runner.invoke(args=["learner", "reapply-erasures"])
    assert "0 added to the database; 0 person(s) erased again" in again.output  # nothing twice
    if database_url.startswith("sqlite"):
        stored = database.read_bytes()
        wal = database.with_name(database.name + "-wal")
        stored += wal.read_bytes() if wal.exists() else b""
        assert LEA_TEXT.encode() not in stored and b"Lea Schneider" not in stored

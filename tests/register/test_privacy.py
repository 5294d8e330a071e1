"""The register and a person's rights: `learner export` includes their register entries (and the revocation
history of their certificates), `learner delete` removes them and says so, and REGISTER_RETENTION_DAYS takes
old entries out of the register without touching the learner's own certificate."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from lti_tool import create_app
from lti_tool.db import session_scope
from lti_tool.housekeeping import purge
from lti_tool.models import Certificate, CertificateEvent, RegisterAudit, RegisterEntry, utcnow

from ..admin.conftest import AdminClient
from ..peer import Launcher
from .conftest import complete, issue_certificate, text_of

REASON = "Täuschung festgestellt"


def _revoked(app: Flask, launcher: Launcher, office: AdminClient) -> tuple[Any, str]:
    done = complete(app, launcher, "lea", name="Lea Schneider", context="k1")
    code = issue_certificate(done)
    record = f"/admin/register/{done.entry_id}"
    office.get(record)
    assert office.post(f"{record}/revoke", {"reason": REASON}, page=record).status_code == 303
    return done, code


def test_export_includes_the_register_entries_and_the_revocation(
    app: Flask, runner: Any, launcher: Launcher, office: AdminClient
) -> None:
    done, code = _revoked(app, launcher, office)
    result = runner.invoke(args=["learner", "export", "--platform", launcher.peer.issuer, "--sub", "lea"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    [entry] = data["register_entry"]
    assert entry["id"] == done.entry_id and entry["course_id"] == "grundlagenkurs" and entry["completed_at"]
    assert data["certificate"][0]["code"] == code and data["certificate"][0]["revoked_reason"] == REASON
    [event] = data["certificate_event"]
    assert (event["action"], event["account"], event["reason"]) == ("revoked", "pruefstelle", REASON)


def test_delete_removes_the_register_entries_and_says_so(
    app: Flask, runner: Any, launcher: Launcher, office: AdminClient
) -> None:
    done, code = _revoked(app, launcher, office)
    other = complete(app, launcher, "max", name="Max Öztürk", context="k1")
    asked = runner.invoke(
        args=["learner", "delete", "--platform", launcher.peer.issuer, "--sub", "lea"], input="n\n"
    )
    assert "Their 1 entry in the certification register is removed too" in asked.output
    result = runner.invoke(
        args=["learner", "delete", "--platform", launcher.peer.issuer, "--sub", "lea", "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert "register_entry: 1" in result.output and "certificate_event: 1" in result.output
    assert "removed from the certification register: 1 entry" in result.output
    with session_scope(app) as s:
        assert s.scalars(select(RegisterEntry.id)).all() == [other.entry_id]
        assert s.scalar(select(func.count()).select_from(CertificateEvent)) == 0
        assert s.scalar(select(func.count()).select_from(Certificate)) == 0
        lines = s.scalars(select(RegisterAudit).order_by(RegisterAudit.id)).all()
    # What the office did stays in its audit trail, but no longer names the deleted entry.
    assert [line.action for line in lines] == ["view", "view", "revoke"]  # opened, form read, revoked
    assert all(line.entry_id is None and line.subject == "" for line in lines)
    html = text_of(office.get("/admin/register"))
    assert "Lea Schneider" not in html and "Max Öztürk" in html
    assert code not in text_of(office.get("/admin/register/audit"))
    assert office.get(f"/admin/register/{done.entry_id}").status_code == 404


def test_retention_takes_old_entries_out_of_the_register_only(
    app: Flask, test_config: dict[str, Any], launcher: Launcher, office: AdminClient
) -> None:
    old, code = _revoked(app, launcher, office)
    new = complete(app, launcher, "max", name="Max Öztürk", context="k1")
    with session_scope(app, write=True) as s:
        s.execute(
            update(RegisterEntry)
            .where(RegisterEntry.id == old.entry_id)
            .values(completed_at=utcnow() - dt.timedelta(days=400))
        )
        s.execute(update(RegisterAudit).values(at=utcnow() - dt.timedelta(days=401)))
    purge(app)  # the default, 0, keeps everything
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(RegisterEntry)) == 2
    kept = create_app({**test_config, "REGISTER_RETENTION_DAYS": 365})
    try:
        result = kept.test_cli_runner().invoke(args=["launch-store", "purge"])
        assert result.exit_code == 0, result.output
    finally:
        kept.extensions["nama_db"].dispose()
    with session_scope(app) as s:
        assert s.scalars(select(RegisterEntry.id)).all() == [new.entry_id]
        assert s.scalar(select(func.count()).select_from(RegisterAudit)) == 0
        assert s.scalars(select(Certificate.code)).one() == code  # the learner's certificate stays
    assert "Lea Schneider" not in text_of(office.get("/admin/register"))

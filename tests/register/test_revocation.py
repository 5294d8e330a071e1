"""Revoking a certificate with a reason and reinstating it: who, when and why in the register and its audit trail,
'revoked on …' on /verify/<code> and on the learner's certificate page; nothing is ever deleted."""

from __future__ import annotations

import requests
from flask import Flask
from sqlalchemy import func, select

from lti_tool.db import session_scope
from lti_tool.models import Certificate, CertificateEvent, RegisterAudit, RegisterEntry
from lti_tool.register.revocation import REASON_MAX

from ..admin.conftest import AdminClient
from ..peer import Launcher
from .conftest import complete, issue_certificate, text_of

REASON = "Die Prüfung ergab, dass die Quizze von einer anderen Person abgelegt wurden."


def test_revoke_and_reinstate(app: Flask, launcher: Launcher, office: AdminClient) -> None:
    done = complete(app, launcher, "lea", name="Lea Schneider", context="k1")
    code = issue_certificate(done)
    record = f"/admin/register/{done.entry_id}"
    resp = office.post(f"{record}/revoke", {"reason": f"  {REASON}\r\n"}, page=record)
    assert resp.status_code == 303 and resp.headers["Location"] == record
    html = text_of(office.get(record))
    assert f"Die Teilnahmebescheinigung {code} ist widerrufen." in html
    assert "Widerrufen am" in html and "von pruefstelle" in html and REASON in html
    assert "Wieder gültig machen" in html  # the form now reinstates

    listing = text_of(office.get("/admin/register"))
    assert "widerrufen am" in listing
    public = requests.get(f"{launcher.tool_url}/verify/{code}")
    assert public.status_code == 410
    assert "Widerrufen." in public.text and "wurde am" in public.text and "widerrufen" in public.text
    assert (
        "Lea Schneider" not in public.text and REASON not in public.text
    )  # the public learns only that and when
    mine = done.learner.get("bescheinigung/")
    assert "Ihre Teilnahmebescheinigung wurde am" in mine.text and REASON in mine.text
    assert "teilnahmebescheinigung.pdf" not in mine.text
    pdf = done.learner.get("bescheinigung/teilnahmebescheinigung.pdf", allow_redirects=False)
    assert pdf.status_code == 303  # no PDF of a revoked certificate

    # A second revocation (another tab) changes nothing.
    again = office.post(f"{record}/revoke", {"reason": "noch einmal"}, page=record, any_token=True)
    assert again.status_code == 303
    assert "war schon widerrufen" in text_of(office.get(record))

    resp = office.post(f"{record}/reinstate", {"reason": "Widerspruch stattgegeben"}, page=record)
    assert resp.status_code == 303
    html = text_of(office.get(record))
    assert f"Die Teilnahmebescheinigung {code} ist wieder gültig." in html
    assert "widerrufen von pruefstelle" in html and "wieder gültig gemacht von pruefstelle" in html  # history
    assert requests.get(f"{launcher.tool_url}/verify/{code}").status_code == 200
    assert "Bescheinigung herunterladen" in done.learner.get("bescheinigung/").text

    with session_scope(app) as s:
        cert = s.scalars(select(Certificate)).one()  # nothing deleted, same code
        assert cert.code == code and cert.revoked_at is None and cert.revoked_reason is None
        events = s.scalars(select(CertificateEvent).order_by(CertificateEvent.id)).all()
        assert [(e.action, e.account, e.reason) for e in events] == [
            ("revoked", "pruefstelle", REASON),
            ("reinstated", "pruefstelle", "Widerspruch stattgegeben"),
        ]
        actions = [a for (a,) in s.execute(select(RegisterAudit.action).order_by(RegisterAudit.id))]
        assert actions.count("revoke") == 1 and actions.count("reinstate") == 1
        assert s.scalar(select(func.count()).select_from(RegisterEntry)) == 1
    trail = text_of(office.get("/admin/register/audit"))
    assert (
        "hat die Bescheinigung widerrufen" in trail and "hat die Bescheinigung wieder gültig gemacht" in trail
    )
    assert "hat den Eintrag geöffnet" in trail and code in trail and "pruefstelle" in trail


def test_a_reason_is_required_and_bounded(app: Flask, launcher: Launcher, office: AdminClient) -> None:
    done = complete(app, launcher, "lea", context="k1")
    issue_certificate(done)
    record = f"/admin/register/{done.entry_id}"
    for reason, message in [
        ("", "Bitte geben Sie die Begründung an."),
        (" \r\n\t ", "Bitte geben Sie die Begründung an."),
        ("\x00\x07 ", "Bitte geben Sie die Begründung an."),  # control characters are no reason
        ("x" * (REASON_MAX + 1), f"Höchstens {REASON_MAX} Zeichen."),
    ]:
        resp = office.post(f"{record}/revoke", {"reason": reason}, page=record)
        assert resp.status_code == 400
        html = text_of(resp)
        assert message in html and 'aria-invalid="true"' in html
    resp = office.post(f"{record}/revoke", {}, page=record)
    assert resp.status_code == 400
    with session_scope(app) as s:
        assert s.scalars(select(Certificate.revoked_at)).one() is None
        assert s.scalar(select(func.count()).select_from(CertificateEvent)) == 0


def test_control_characters_are_left_out_of_the_reason(
    app: Flask, launcher: Launcher, office: AdminClient
) -> None:
    """PostgreSQL refuses a NUL (the revocation failed with a 500 there)."""
    done = complete(app, launcher, "lea", context="k1")
    issue_certificate(done)
    record = f"/admin/register/{done.entry_id}"
    resp = office.post(f"{record}/revoke", {"reason": "Die\x00 Prüfung\x1b ergab es."}, page=record)
    assert resp.status_code == 303
    with session_scope(app) as s:
        assert s.scalars(select(CertificateEvent.reason)).all() == ["Die Prüfung ergab es."]


def test_reinstating_a_valid_certificate_changes_nothing(
    app: Flask, launcher: Launcher, office: AdminClient
) -> None:
    done = complete(app, launcher, "lea", context="k1")
    issue_certificate(done)
    record = f"/admin/register/{done.entry_id}"
    resp = office.post(f"{record}/reinstate", {"reason": "warum auch immer"}, page=record, any_token=True)
    assert resp.status_code == 303
    assert "nichts wurde geändert" in text_of(office.get(record))
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(CertificateEvent)) == 0


def test_no_certificate_nothing_to_revoke(app: Flask, launcher: Launcher, office: AdminClient) -> None:
    done = complete(app, launcher, "lea", context="k1")
    record = f"/admin/register/{done.entry_id}"
    resp = office.post(f"{record}/revoke", {"reason": "Täuschung"}, page=record, any_token=True)
    assert resp.status_code == 303
    assert "es gibt nichts zu widerrufen" in text_of(office.get(record))
    for path in ("/admin/register/999999/revoke", "/admin/register/999999/reinstate"):
        resp = office.post(path, {"reason": "x"}, page=record, any_token=True)
        assert resp.status_code == 404

"""The operator pages do what they say: approve and deactivate deployments (launches follow), add a platform
with the CLI's validation, issue registration links (shown once), rotate keys once per confirmation, send
failed grades again, show health."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, update

from lti_tool import cache
from lti_tool.admin import reports
from lti_tool.db import session_scope
from lti_tool.grading.outbox import heartbeat
from lti_tool.grading.tokens import AccessTokens, PlatformInfo, TokenError
from lti_tool.http import http_session
from lti_tool.lti.registration import _hash
from lti_tool.models import (
    Deployment,
    GradeOutbox,
    Platform,
    RegistrationLink,
    ToolKey,
    WorkerHeartbeat,
    utcnow,
)
from lti_tool.security import platform_origins

from ..lti.moodle_registrar import MoodleRegistrar
from ..lti.test_registration import register
from ..peer import Launcher, ServerThread, claim
from . import seed
from .conftest import AdminClient

PLATFORM_FORM = {
    "name": "Moodle Kreis Düren",
    "issuer": "https://moodle.kreis-dueren.example",
    "client_id": "abc123",
    "deployment_id": "7",
    "auth_login_url": "https://moodle.kreis-dueren.example/mod/lti/auth.php",
    "auth_token_url": "https://moodle.kreis-dueren.example/mod/lti/token.php",
    "jwks_url": "https://moodle.kreis-dueren.example/mod/lti/certs.php",
    "auth_audience": "",
}


def _deployment(app: Flask, deployment_id: str) -> Deployment:
    with session_scope(app) as s:
        return s.scalars(select(Deployment).where(Deployment.deployment_id == deployment_id)).one()


def test_a_new_deployment_is_approved_in_the_operator_area_and_can_launch(
    app: Flask, admin: AdminClient, launcher: Launcher
) -> None:
    refused = launcher.launch(**claim("deployment_id", "deployment-new"))
    assert refused.status_code == 403 and "deployment_unknown" in refused.text
    page = admin.get("/admin/platforms")
    assert "deployment-new" in page.text and "inaktiv: Starts werden abgewiesen" in page.text
    assert admin.get("/admin/").text.count("Deployments, die auf Freigabe warten: 1.") == 1
    new = _deployment(app, "deployment-new")
    resp = admin.post(f"/admin/deployments/{new.id}/approve", page="/admin/platforms")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"#platform-{new.platform_id}")
    assert "Deployment deployment-new von Peer platform ist aktiv" in admin.get("/admin/platforms").text
    assert _deployment(app, "deployment-new").active
    assert launcher.launch_and_follow(**claim("deployment_id", "deployment-new")).status_code == 200

    resp = admin.post(f"/admin/deployments/{new.id}/deactivate", page="/admin/platforms")
    assert resp.status_code == 303 and not _deployment(app, "deployment-new").active
    again = launcher.launch(**claim("deployment_id", "deployment-new"))
    assert again.status_code == 403 and "deployment_inactive" in again.text


def test_an_unknown_deployment_is_a_clear_404(admin: AdminClient) -> None:
    resp = admin.post("/admin/deployments/9999/approve", page="/admin/platforms", any_token=True)
    assert resp.status_code == 404 and "Dieses Deployment gibt es nicht (mehr)." in resp.text


def test_adding_a_platform_by_hand(app: Flask, admin: AdminClient) -> None:
    page = admin.get("/admin/platforms/new")
    assert page.status_code == 200 and 'for="issuer"' in page.text
    resp = admin.post("/admin/platforms/new", PLATFORM_FORM, page="/admin/platforms/new")
    assert resp.status_code == 303
    listing = admin.get("/admin/platforms").text
    assert "Plattform Moodle Kreis Düren hinzugefügt; Deployment 7 ist aktiv." in listing
    assert "Betreiberbereich" in listing  # registered via the operator area
    with session_scope(app) as s:
        platform = s.scalars(select(Platform)).one()
        assert (platform.issuer, platform.client_id, platform.registered_via) == (
            PLATFORM_FORM["issuer"],
            "abc123",
            "admin",
        )
        assert s.scalars(select(Deployment)).one().active
    # The platform may frame the tool at once (the origins cache was invalidated).
    assert platform_origins(app).registered(app, "https://moodle.kreis-dueren.example")
    again = admin.post(
        "/admin/platforms/new", {**PLATFORM_FORM, "name": "Moodle Düren"}, page="/admin/platforms/new"
    )
    assert again.status_code == 303
    assert "Plattform Moodle Düren aktualisiert" in admin.get("/admin/platforms").text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("issuer", "  ", "Bitte füllen Sie dieses Feld aus."),
        ("jwks_url", "not a url", "Bitte geben Sie eine Webadresse ein, die mit https://"),
        (
            "auth_login_url",
            "ftp://moodle.example/auth",
            "Bitte geben Sie eine Webadresse ein, die mit https://",
        ),
        ("client_id", "x" * 256, "Höchstens 255 Zeichen."),
        ("deployment_id", "", "Bitte füllen Sie dieses Feld aus."),
    ],
)
def test_adding_a_platform_checks_what_the_cli_checks(
    app: Flask, admin: AdminClient, runner: FlaskCliRunner, field: str, value: str, message: str
) -> None:
    resp = admin.post("/admin/platforms/new", {**PLATFORM_FORM, field: value}, page="/admin/platforms/new")
    assert resp.status_code == 400 and message in resp.text
    assert f'id="{field}-error"' in resp.text and f'href="#{field}"' in resp.text
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', resp.text)
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(Platform)) == 0
    cli = runner.invoke(
        args=[
            "platform",
            "add",
            *[
                a
                for k, v in {**PLATFORM_FORM, field: value}.items()
                if k != "auth_audience"
                for a in (f"--{k.replace('_', '-')}", v)
            ],
        ]
    )
    assert cli.exit_code != 0  # the command line refuses the same values


@pytest.mark.parametrize("field", ["name", "issuer", "client_id", "deployment_id", "jwks_url"])
def test_a_nul_character_in_a_platform_field_is_left_out(app: Flask, admin: AdminClient, field: str) -> None:
    """No browser sends a NUL from a text field, and PostgreSQL refuses one (the form failed with a 500 there)."""
    value = PLATFORM_FORM[field]
    garbled = value[:3] + "\x00" + value[3:]
    resp = admin.post("/admin/platforms/new", {**PLATFORM_FORM, field: garbled}, page="/admin/platforms/new")
    assert resp.status_code == 303
    with session_scope(app) as s:
        platform = s.scalars(select(Platform)).one()
        deployment = s.scalars(select(Deployment)).one()
        stored = deployment.deployment_id if field == "deployment_id" else getattr(platform, field)
    assert stored == value


def test_a_nul_character_in_a_registration_link_note_is_left_out(app: Flask, admin: AdminClient) -> None:
    resp = admin.post(
        "/admin/registration-links",
        {"note": "Kreis\x00 Düren", "days": "3"},
        page="/admin/registration-links",
    )
    assert resp.status_code == 200 and 'id="issued-url"' in resp.text
    empty = admin.post(
        "/admin/registration-links", {"note": "\x00", "days": "3"}, page="/admin/registration-links"
    )
    assert empty.status_code == 400 and "Bitte füllen Sie dieses Feld aus." in empty.text
    with session_scope(app) as s:
        assert s.scalars(select(RegistrationLink.note)).all() == ["Kreis Düren"]


def test_a_registration_link_is_shown_once_and_listed_with_its_state(
    app: Flask, admin: AdminClient, tool_server: ServerThread
) -> None:
    resp = admin.post(
        "/admin/registration-links", {"note": "Kreis Düren", "days": "3"}, page="/admin/registration-links"
    )
    assert resp.status_code == 200
    url = re.search(r'id="issued-url" type="text" readonly value="([^"]+)"', resp.text)
    assert url, resp.text
    token = url.group(1).split("t=", 1)[1]
    assert url.group(1).startswith("http://localhost/lti/register?t=")
    with session_scope(app) as s:
        link = s.scalars(select(RegistrationLink)).one()
        assert link.token_hash == _hash(token) and link.note == "Kreis Düren"
        assert dt.timedelta(days=2, hours=23) < link.expires_at - utcnow() <= dt.timedelta(days=3)
    assert app.test_client().get(f"/lti/register?t={token}").status_code == 200
    listing = admin.get("/admin/registration-links").text
    assert token not in listing and "Kreis Düren" in listing and ">offen<" in listing

    # A Moodle registers with the link (LTI Dynamic Registration over HTTP), and a second link runs out: its
    # end is moved into the past (time passing is the only thing the test stands in for).
    moodle = MoodleRegistrar()
    try:
        registered = register(tool_server.url, token, moodle)
    finally:
        moodle.stop()
    assert registered.status_code == 200, registered.text[:500]
    admin.post("/admin/registration-links", {"note": "Alt", "days": "1"}, page="/admin/registration-links")
    with session_scope(app, write=True) as s:
        s.execute(
            update(RegistrationLink)
            .where(RegistrationLink.note == "Alt")
            .values(expires_at=utcnow() - dt.timedelta(days=1))
        )
    listing = admin.get("/admin/registration-links").text
    issuer = "{0.scheme}://{0.netloc}".format(urlsplit(moodle.openid_configuration))
    assert "verwendet am" in listing and f"<code>{issuer}</code>" in listing and ">abgelaufen<" in listing


def test_a_registration_link_needs_a_note(app: Flask, admin: AdminClient) -> None:
    resp = admin.post(
        "/admin/registration-links", {"note": "", "days": "7"}, page="/admin/registration-links"
    )
    assert resp.status_code == 400 and "Bitte füllen Sie dieses Feld aus." in resp.text
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(RegistrationLink)) == 0


def _keys(app: Flask) -> dict[str, list[str]]:
    with session_scope(app) as s:
        found: dict[str, list[str]] = {}
        for key in s.scalars(select(ToolKey).order_by(ToolKey.id)):
            found.setdefault(key.state, []).append(key.kid)
        return found


@pytest.fixture
def keys_restored(app: Flask) -> Iterator[None]:
    with seed.keys_restored(app):
        yield


def test_rotating_keys_asks_first_and_happens_once(
    app: Flask, admin: AdminClient, keys_restored: None
) -> None:
    before = _keys(app)
    page = admin.get("/admin/keys")
    assert before["current"][0] in page.text and "aktuell: signiert" in page.text
    confirm = admin.get("/admin/keys/rotate")
    assert "Die Schlüssel des Tools wechseln?" in confirm.text and before["next"][0] in confirm.text
    form = {"current_kid": before["current"][0]}
    assert admin.post("/admin/keys/rotate", form, page="/admin/keys/rotate").status_code == 303
    after = _keys(app)
    assert after["current"] == before["next"] and before["current"][0] in after["retired"]
    assert f"Ab jetzt signiert Schlüssel {before['next'][0]}" in admin.get("/admin/keys").text
    jwks = {k["kid"] for k in app.test_client().get("/.well-known/jwks.json").get_json()["keys"]}
    assert before["current"][0] in jwks and after["next"][0] in jwks
    # The same confirmation sent again (double click, back button) changes nothing.
    assert admin.post("/admin/keys/rotate", form, page="/admin/keys/rotate").status_code == 303
    assert _keys(app) == after
    assert "inzwischen gewechselt" in admin.get("/admin/keys").text


@pytest.fixture
def failing(app: Flask) -> dict[str, Any]:
    here = seed.platform(app, "https://moodle.dueren.example")
    there = seed.platform(app, "https://moodle.aachen.example")
    return {
        "a": seed.learner(app, here, "sub-a"),
        "b": seed.learner(app, here, "sub-b"),
        "c": seed.learner(app, there, "sub-c", context_title="Kurs Aachen"),
    }


def _pending(app: Flask) -> list[GradeOutbox]:
    with session_scope(app) as s:
        return list(
            s.scalars(select(GradeOutbox).where(GradeOutbox.state == "pending").order_by(GradeOutbox.id))
        )


def test_the_grade_outbox_by_state_and_platform_with_failed_rows(
    app: Flask, admin: AdminClient, failing: dict[str, Any]
) -> None:
    # On the second platform someone's first quiz attempt, queued five minutes ago, waits for the worker.
    there = seed.platform(app, "https://moodle.aachen.example")  # registered already: the same ids
    d = seed.started(app, there, "sub-d", context_title="Kurs Aachen")
    with session_scope(app, write=True) as s:  # five minutes pass
        s.execute(
            update(GradeOutbox)
            .where(GradeOutbox.user_id == d)
            .values(created_at=utcnow() - dt.timedelta(minutes=5))
        )
    page = admin.get("/admin/grades").text
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>((?:<td>\d+</td>)+)</tr>", page)
    counts = {name: [int(n) for n in re.findall(r"\d+", cells)] for name, cells in rows}
    # states in order: waiting, being sent, sent, already there, failed, deleted in the LMS, replaced
    assert counts == {
        "Moodle moodle.dueren.example": [0, 0, 2, 0, 2, 0, 0],
        "Moodle moodle.aachen.example": [1, 0, 1, 0, 1, 0, 0],
        "Alle Plattformen": [1, 0, 3, 0, 3, 0, 0],
    }
    assert "Alter: 5 Minuten" in page
    for learner in failing.values():
        assert f"<code>{learner.sub}</code>" in page and f"#{learner.failed_grade_id}" in page
    assert "HTTP 400: Incorrect score received" in page and "Kurs Aachen" in page
    assert page.count("Alle fehlgeschlagenen Bewertungen von") == 2


def test_a_failed_grade_shows_the_lms_user_id_without_invisible_and_direction_characters(
    app: Flask, admin: AdminClient
) -> None:
    """An LTI `sub` is any string: a right-to-left override and a zero-width space in it were shown as sent."""
    seed.learner(app, seed.platform(app, "https://moodle.dueren.example"), "=\u202e1+2\u200b9")
    page = admin.get("/admin/grades").text
    assert "<code>=1+29</code>" in page and "\u202e" not in page and "\u200b" not in page


def test_a_failing_token_endpoint_is_named_with_its_grades(app: Flask, admin: AdminClient) -> None:
    """The grade workers rest a platform's token endpoint after a failed token request (its grades wait): the
    page says since when, how often, why and until when (lti_tool/grading/tokens.py)."""
    here = seed.platform(app, "https://moodle.dueren.example")
    assert "Token-Endpunkt" not in admin.get("/admin/grades").text
    with session_scope(app) as s:
        info = PlatformInfo.of(s.get_one(Platform, here.platform_id))
    with pytest.raises(TokenError):  # moodle.dueren.example cannot be reached from here
        AccessTokens(app).get(
            info, ["https://purl.imsglobal.org/spec/lti-ags/scope/score"], http_session(app)
        )
    page = admin.get("/admin/grades").text
    notice = re.search(
        r'<p class="notice notice--warn">(Der Token-Endpunkt von Moodle moodle.dueren.example[^<]*)</p>', page
    )
    assert notice, page
    assert "schlägt seit " in notice.group(
        1
    ) and "(fehlgeschlagene Anfragen in Folge: 1; zuletzt: token endpoint not reachable" in notice.group(1)
    assert "die nächste Token-Anfrage geht frühestens am " in notice.group(1)


def test_send_again_one_row_then_a_whole_platform(
    app: Flask, admin: AdminClient, failing: dict[str, Any]
) -> None:
    a, b, c = failing["a"], failing["b"], failing["c"]
    resp = admin.post("/admin/grades/resend", {"row": a.failed_grade_id}, page="/admin/grades")
    assert resp.status_code == 303
    assert "Erneut eingereihte Bewertungen: 1." in admin.get("/admin/grades").text
    assert [(r.user_id, r.payload["scoreGiven"]) for r in _pending(app)] == [(a.user_id, 100)]
    admin.post("/admin/grades/resend", {"row": a.failed_grade_id}, page="/admin/grades")
    assert "Nichts erneut zu senden" in admin.get("/admin/grades").text
    assert len(_pending(app)) == 1

    admin.post("/admin/grades/resend", {"platform": a.platform_id}, page="/admin/grades")
    assert {r.user_id for r in _pending(app)} == {a.user_id, b.user_id}  # not c: another platform
    failed = admin.get("/admin/grades").text.split('id="failed"', 1)[1]
    assert f"#{c.failed_grade_id}" in failed and f"#{b.failed_grade_id}" not in failed


def test_send_again_needs_exactly_one_target(admin: AdminClient, failing: dict[str, Any]) -> None:
    assert admin.post("/admin/grades/resend", {}, page="/admin/grades").status_code == 400
    both = {"row": failing["a"].failed_grade_id, "platform": failing["a"].platform_id}
    assert admin.post("/admin/grades/resend", both, page="/admin/grades").status_code == 400
    assert admin.post("/admin/grades/resend", {"platform": 999}, page="/admin/grades").status_code == 404


def test_health_shows_the_database_store_and_workers(app: Flask, admin: AdminClient) -> None:
    with session_scope(app, write=True) as s:  # two workers beat; one has been silent for an hour since
        for worker_id, host, pid in (("web-1", "host-a", 11), ("old-1", "host-b", 12)):
            heartbeat(s, worker_id, hostname=host, pid=pid, started_at=utcnow(), delivered=0)
        s.execute(
            update(WorkerHeartbeat)
            .where(WorkerHeartbeat.worker_id == "old-1")
            .values(last_seen_at=utcnow() - dt.timedelta(hours=1))
        )
    page = admin.get("/admin/health")
    assert page.status_code == 200
    assert page.text.count(">erreichbar<") == 2
    assert "web-1" in page.text and ">läuft<" in page.text and ">stumm<" in page.text
    assert "keine wartend" in page.text


def test_health_says_when_the_launch_store_is_down(
    app: Flask, admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def get(self, key: str) -> Any:
            raise ConnectionError("store down")

    real = cache.get_store
    monkeypatch.setattr(reports, "get_store", lambda app=None: Broken())
    page = admin.get("/admin/health")
    assert page.status_code == 503 and "nicht erreichbar: Starts schlagen fehl" in page.text
    monkeypatch.setattr(reports, "get_store", real)


def test_pages_answer_in_english_on_request(admin: AdminClient) -> None:
    for path in ("/admin/?lang=en", "/admin/platforms", "/admin/keys", "/admin/grades", "/admin/health"):
        page = admin.get(path)
        assert page.status_code == 200 and '<html lang="en">' in page.text, path

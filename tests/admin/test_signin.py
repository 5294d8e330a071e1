"""Signing in to the operator area: the same answer for unknown names and wrong passwords, throttling per user
name and per address (shared through the launch store), sessions that end (absolute, idle, sign-out)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from lti_tool.admin import accounts, signin, views
from lti_tool.cache import get_store
from lti_tool.db import session_scope
from lti_tool.models import Operator

from ..forms import csrf_token
from .conftest import PASSWORD, USERNAME, AdminClient

WRONG = "Benutzername oder Passwort ist falsch"
LOCKED = "Zu viele fehlgeschlagene Anmeldeversuche"


def _without_token(html: str) -> str:
    return html.replace(csrf_token(html), "")


def test_sign_in_sets_a_first_party_cookie_and_records_the_time(app: Flask, anonymous: AdminClient) -> None:
    resp = anonymous.login()
    assert resp.status_code == 303 and resp.headers["Location"] == "/admin/"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("nama_lti_admin=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # http in tests; Secure when BASE_URL is https (test below)
    page = anonymous.get("/admin/")
    assert page.status_code == 200 and f"Angemeldet als {USERNAME}" in page.text
    with session_scope(app) as s:
        assert s.scalars(select(Operator.last_login_at)).one() is not None


def test_cookie_is_secure_when_the_tool_runs_on_https(test_config: dict[str, Any], operator: str) -> None:
    from lti_tool import create_app

    app = create_app({**test_config, "BASE_URL": "https://lti.example.org"})
    try:
        client = app.test_client()
        https = "https://lti.example.org"
        token = csrf_token(client.get("/admin/login", base_url=https).text)
        form = {"csrf_token": token, "username": USERNAME, "password": PASSWORD}
        # Over HTTPS, Flask-WTF also wants a same-origin Referer (the admin pages send one: same-origin policy).
        refused = client.post("/admin/login", data=form, base_url=https)
        assert refused.status_code == 403 and "csrf_failed" in refused.text
        resp = client.post(
            "/admin/login", data=form, base_url=https, headers={"Referer": https + "/admin/login"}
        )
        assert resp.status_code == 303, resp.text
        assert "Secure" in resp.headers["Set-Cookie"]
    finally:
        app.extensions["nama_db"].dispose()


def test_unknown_user_and_wrong_password_get_the_same_answer(anonymous: AdminClient) -> None:
    wrong = anonymous.login(password="not the password at all")
    unknown = anonymous.login(username="nobody", password="not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert WRONG in wrong.text
    assert _without_token(wrong.text) == _without_token(unknown.text).replace("nobody", USERNAME)
    assert "Set-Cookie" not in wrong.headers or "sign_in" not in wrong.headers.get("Set-Cookie", "")


def test_a_user_name_with_a_nul_character_is_just_wrong(anonymous: AdminClient) -> None:
    """PostgreSQL refuses a NUL in the account lookup (the sign-in failed with a 500 there)."""
    resp = anonymous.login(username=USERNAME + "\x00")
    assert resp.status_code == 401 and WRONG in resp.text


def test_empty_fields_are_named(anonymous: AdminClient) -> None:
    resp = anonymous.login(username="", password="")
    assert resp.status_code == 400 and resp.text.count("Bitte füllen Sie dieses Feld aus.") == 2
    assert 'aria-invalid="true"' in resp.text


def test_five_failures_lock_the_user_name_even_for_the_right_password(anonymous: AdminClient) -> None:
    for _ in range(5):
        assert anonymous.login(password="wrong password, again").status_code == 401
    locked = anonymous.login()
    assert locked.status_code == 429 and LOCKED in locked.text and "15 Minuten" in locked.text
    assert anonymous.get("/admin/").status_code == 303


def test_a_stranger_cannot_lock_the_operator_out(app: Flask, anonymous: AdminClient) -> None:
    """Wrong passwords for the operator's name in any spelling ("OPS ", "ops") from a stranger's address lock
    that address only; the operator signs in from theirs."""
    stranger = {"REMOTE_ADDR": "203.0.113.66"}
    for i in range(30):
        name = [USERNAME.upper() + " ", USERNAME, " " + USERNAME.title()][i % 3]
        anonymous.login(username=name, password="wrong password, again", environ_base=stranger)
    assert anonymous.login(environ_base=stranger).status_code == 429
    operator = AdminClient(app)
    assert operator.login(environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 303


def test_unknown_user_names_are_locked_the_same_way(anonymous: AdminClient) -> None:
    for _ in range(5):
        assert anonymous.login(username="ghost", password="wrong password, again").status_code == 401
    known, unknown = anonymous.login(password="wrong password"), None
    assert known.status_code == 401  # the real user name is not affected by failures for another name
    unknown = anonymous.login(username="ghost", password="wrong password, again")
    assert unknown.status_code == 429 and LOCKED in unknown.text


def test_a_success_forgets_earlier_failures(anonymous: AdminClient) -> None:
    for _ in range(4):
        anonymous.login(password="wrong password, again")
    assert anonymous.login().status_code == 303
    anonymous.post("/admin/logout")
    for _ in range(4):
        assert anonymous.login(password="wrong password, again").status_code == 401
    assert anonymous.login().status_code == 303


def test_one_address_trying_many_names_is_locked(app: Flask, anonymous: AdminClient) -> None:
    app.config["ADMIN_LOGIN_MAX_FAILURES_PER_IP"] = 8
    for i in range(8):
        assert anonymous.login(username=f"guess{i}", password="wrong password, again").status_code == 401
    assert anonymous.login().status_code == 429
    elsewhere = AdminClient(app)
    resp = elsewhere.login(environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert resp.status_code == 303


def test_the_lockout_ends(app: Flask, anonymous: AdminClient) -> None:
    for _ in range(5):
        anonymous.login(password="wrong password, again")
    assert anonymous.login().status_code == 429
    store = get_store(app)
    scope = _throttle_scopes(app)[0]
    store.set(scope.key + ":lock", 1, 1)  # as if the lockout time had nearly passed
    time.sleep(1.2)
    assert anonymous.login().status_code == 303


def _throttle_scopes(app: Flask) -> list[Any]:
    with app.test_request_context():
        return views._throttle().scopes(USERNAME, "127.0.0.1")


def test_parallel_guesses_check_at_most_five_passwords(
    app: Flask, anonymous: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = accounts.authenticate

    def counting(s: Any, username: str, password: str) -> Any:
        checked.append(password)
        return real(s, username, password)

    monkeypatch.setattr(views, "authenticate", counting)
    token = anonymous.token()
    statuses: list[int] = []

    def guess(i: int) -> None:
        client = app.test_client()
        client.set_cookie(
            "nama_lti_admin",
            anonymous.session_cookie(),
            path="/admin",
        )
        resp = client.post(
            "/admin/login", data={"csrf_token": token, "username": USERNAME, "password": f"guess number {i}"}
        )
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checked) <= 5
    assert sorted(set(statuses)) == [401, 429]


def _moved(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    start = time.time()
    monkeypatch.setattr(signin, "clock", lambda: start + seconds)


def test_a_session_ends_after_the_idle_time(
    app: Flask, admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    idle = app.config["ADMIN_IDLE_SECONDS"]
    _moved(monkeypatch, idle - 60)
    assert admin.get("/admin/platforms").status_code == 200  # activity moves the idle deadline
    _moved(monkeypatch, 2 * idle - 120)
    assert admin.get("/admin/platforms").status_code == 200
    _moved(monkeypatch, 3 * idle)
    resp = admin.get("/admin/platforms")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/admin/login")
    login = admin.get(resp.headers["Location"])
    assert "Ihre Anmeldung ist abgelaufen" in login.text


def test_a_session_ends_after_the_absolute_time_however_active(
    app: Flask, admin: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    absolute, idle = app.config["ADMIN_SESSION_SECONDS"], app.config["ADMIN_IDLE_SECONDS"]
    step = idle - 60
    moved = 0
    while moved + step < absolute:
        moved += step
        _moved(monkeypatch, moved)
        assert admin.get("/admin/").status_code == 200
    _moved(monkeypatch, absolute + 1)
    assert admin.get("/admin/").status_code == 303


def test_signing_out_ends_the_session_on_the_server(app: Flask, admin: AdminClient) -> None:
    copied = admin.session_cookie()
    resp = admin.post("/admin/logout")
    assert resp.status_code == 303 and resp.headers["Location"] == "/admin/login"
    assert "Sie sind abgemeldet" in admin.get("/admin/login").text
    assert admin.get("/admin/").status_code == 303
    replay = app.test_client()
    replay.set_cookie("nama_lti_admin", copied, path="/admin")
    assert replay.get("/admin/").status_code == 303


def test_deleting_the_account_ends_its_sessions(admin: AdminClient, runner: FlaskCliRunner) -> None:
    assert admin.get("/admin/").status_code == 200
    assert runner.invoke(args=["admin", "delete-user", USERNAME, "--yes"]).exit_code == 0
    assert admin.get("/admin/").status_code == 303


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/admin/keys", "/admin/keys"),
        ("https://evil.example/", "/admin/"),
        ("//evil.example/admin/", "/admin/"),
        ("/s/token/", "/admin/"),
        ("/admin/\\evil", "/admin/"),
    ],
)
def test_after_sign_in_only_back_into_the_operator_area(
    anonymous: AdminClient, target: str, landing: str
) -> None:
    resp = anonymous.post(
        "/admin/login", {"username": USERNAME, "password": PASSWORD, "next": target}, page="/admin/login"
    )
    assert resp.status_code == 303 and resp.headers["Location"] == landing


def test_a_page_asked_for_before_signing_in_is_shown_after(anonymous: AdminClient) -> None:
    first = anonymous.get("/admin/grades")
    assert first.status_code == 303 and first.headers["Location"] == "/admin/login?next=/admin/grades"
    page = anonymous.get(first.headers["Location"])
    assert 'name="next" value="/admin/grades"' in page.text
    resp = anonymous.post(
        "/admin/login",
        {"username": USERNAME, "password": PASSWORD, "next": "/admin/grades"},
        page="/admin/login",
    )
    assert resp.headers["Location"] == "/admin/grades"


def test_the_language_chosen_stays(anonymous: AdminClient) -> None:
    assert "Sign in to the operator area" in anonymous.get("/admin/login?lang=en").text
    assert "Sign in to the operator area" in anonymous.get("/admin/login").text
    assert "Anmelden" in anonymous.get("/admin/login?lang=de").text


def test_under_a_path_prefix_the_cookie_goes_to_that_prefix(anonymous: AdminClient) -> None:
    prefixed = "http://localhost/kurs/"  # SCRIPT_NAME /kurs, as ProxyFix sets it from X-Forwarded-Prefix
    page = anonymous.client.get("/admin/login", base_url=prefixed)
    resp = anonymous.client.post(
        "/admin/login",
        data={"csrf_token": csrf_token(page.text), "username": USERNAME, "password": PASSWORD},
        base_url=prefixed,
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/kurs/admin/"
    assert "Path=/kurs/admin" in resp.headers["Set-Cookie"]
    assert anonymous.client.get("/admin/", base_url=prefixed).status_code == 200
    anonymous.client.delete_cookie("nama_lti_admin", path="/kurs/admin")
    first = anonymous.client.get("/admin/keys", base_url=prefixed)
    assert first.headers["Location"] == "/kurs/admin/login?next=/admin/keys"
    page = anonymous.client.get("/admin/login?next=/admin/keys", base_url=prefixed)
    resp = anonymous.client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_token(page.text),
            "username": USERNAME,
            "password": PASSWORD,
            "next": "/admin/keys",
        },
        base_url=prefixed,
    )
    assert resp.headers["Location"] == "/kurs/admin/keys"


def test_a_refused_sign_in_message_takes_the_focus(anonymous: AdminClient) -> None:
    refused = anonymous.login(password="wrong password")
    assert refused.status_code == 401
    message = refused.get_data(as_text=True).split('class="notice notice--error"', 1)[1].split(">", 1)[0]
    assert 'role="alert"' in message and 'tabindex="-1"' in message and "data-autofocus" in message

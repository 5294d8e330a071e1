"""App-wide behaviour: configuration, /lti/config, /healthz, security headers, CLI for platforms."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool import create_app
from lti_tool.db import session_scope
from lti_tool.models import Deployment, Platform

from .conftest import CONTENT_DIR

ADD = [
    "platform",
    "add",
    "--issuer",
    "https://moodle.example.org",
    "--client-id",
    "abc123",
    "--auth-login-url",
    "https://moodle.example.org/mod/lti/auth.php",
    "--auth-token-url",
    "https://moodle.example.org/mod/lti/token.php",
    "--jwks-url",
    "https://moodle.example.org/mod/lti/certs.php",
    "--deployment-id",
    "7",
    "--name",
    "Moodle Test",
]


def test_config_comes_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LTI_TOOL_BASE_URL", "https://lti.example.org/")
    monkeypatch.setenv("LTI_TOOL_SESSION_LIFETIME_SECONDS", "1234")
    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "inst"), "CONTENT_DIR": CONTENT_DIR})
    try:
        assert app.config["BASE_URL"] == "https://lti.example.org"
        assert app.config["SESSION_LIFETIME_SECONDS"] == 1234
        assert (tmp_path / "env.db").exists()
        # No LTI_TOOL_SECRET_KEY: one is generated once and kept (0600) in the instance folder.
        key_file = tmp_path / "inst" / "secret_key"
        assert key_file.exists() and oct(key_file.stat().st_mode)[-3:] == "600"
        assert app.config["SECRET_KEY"] == key_file.read_text()
        info = app.test_client().get("/lti/config", headers={"Accept": "application/json"}).get_json()
        assert info["login_url"] == "https://lti.example.org/lti/login"
        assert info["jwks_url"] == "https://lti.example.org/.well-known/jwks.json"
    finally:
        app.extensions["nama_db"].dispose()


def test_proxy_fix_by_setting(tmp_path: Path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "CONTENT_DIR": CONTENT_DIR,
            "PROXY_FIX": 1,
            "SECRET_KEY": "x",
        }
    )
    try:
        info = (
            app.test_client()
            .get(
                "/lti/config",
                headers={
                    "Accept": "application/json",
                    "X-Forwarded-Proto": "https",
                    "X-Forwarded-Host": "tool.example.org",
                },
            )
            .get_json()
        )
        assert info["launch_url"] == "https://tool.example.org/lti/launch"
    finally:
        app.extensions["nama_db"].dispose()


def test_registration_values_page_and_json(client: FlaskClient) -> None:
    page = client.get("/lti/config")
    assert page.status_code == 200
    assert "http://localhost/lti/login" in page.text and "module=modul-a" in page.text
    info = client.get("/lti/config", headers={"Accept": "application/json"}).get_json()
    assert info["redirect_uris"] == ["http://localhost/lti/launch"]
    assert "LtiDeepLinkingRequest" in info["messages"]


def test_healthz(client: FlaskClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok"
    assert body == {"status": "ok", "checks": {"database": "ok", "launch_store": "ok"}}  # no counts in public


def test_public_pages_may_be_framed_by_the_tool_only(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    """No public response lists the registered platforms (frame-ancestors names them per session)."""
    runner.invoke(args=ADD)
    app.extensions["nama_platform_origins"].invalidate()
    for path in ("/", "/lti/config", "/healthz", "/gibt-es-nicht"):
        csp = client.get(path).headers["Content-Security-Policy"]
        assert "frame-ancestors 'self';" in csp and "moodle.example.org" not in csp, path
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in resp.headers
    # A login from the platform (its page posts the login form, with Origin) may show its refusal in its frame.
    refused = client.post("/lti/login", data={"iss": "x"}, headers={"Origin": "https://moodle.example.org"})
    assert "frame-ancestors 'self' https://moodle.example.org;" in refused.headers["Content-Security-Policy"]
    stranger = client.post("/lti/login", data={"iss": "x"}, headers={"Origin": "https://evil.example"})
    assert "frame-ancestors 'self';" in stranger.headers["Content-Security-Policy"]
    for each in (resp, refused, client.get("/.well-known/jwks.json")):
        for name in (
            "Content-Security-Policy",
            "Referrer-Policy",
            "X-Content-Type-Options",
            "Permissions-Policy",
        ):
            assert len(each.headers.getlist(name)) == 1, name  # each once
    assert refused.headers.getlist("Cache-Control") == ["no-store"]
    # A view's own header is kept: the key set may be cached, the operator area sends its own policy.
    assert client.get("/.well-known/jwks.json").headers.getlist("Cache-Control") == ["public, max-age=300"]
    admin = client.get("/admin/")
    assert admin.headers.getlist("Referrer-Policy") == ["same-origin"]
    assert len(admin.headers.getlist("Content-Security-Policy")) == 1


def test_platform_add_is_idempotent_and_listed(app: Flask, runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=ADD).exit_code == 0
    result = runner.invoke(args=[*ADD[:-2], "--name", "Moodle Renamed"])
    assert result.exit_code == 0, result.output
    with session_scope(app) as s:
        platform = s.scalars(select(Platform)).one()
        assert platform.name == "Moodle Renamed"
        assert s.scalars(select(Deployment)).one().active
    listing = runner.invoke(args=["platform", "list"]).output
    assert "https://moodle.example.org" in listing and "deployment 7: active" in listing


def test_platform_add_rejects_bad_urls(runner: FlaskCliRunner) -> None:
    args = list(ADD)
    args[args.index("--jwks-url") + 1] = "not a url"
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and "--jwks-url" in result.output


def test_platform_add_help_explains_the_options(runner: FlaskCliRunner) -> None:
    out = runner.invoke(args=["platform", "add", "--help"]).output
    assert "mod/lti/auth.php" in out and "--deployment-id" in out


def test_registration_link_needs_a_base_url(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["platform", "registration-link"])
    assert result.exit_code != 0 and "LTI_TOOL_BASE_URL" in result.output


def test_db_upgrade_command(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "head" in result.output


def test_unknown_page_is_a_german_404(client: FlaskClient) -> None:
    resp = client.get("/nope")
    assert resp.status_code == 404 and "Seite nicht gefunden" in resp.text


def test_session_page_with_a_made_up_token(client: FlaskClient) -> None:
    resp = client.get("/s/made-up-token/")
    assert resp.status_code == 401 and "session_expired" in resp.text


def test_purge_removes_expired_launch_data_and_sessions(app: Flask, runner: FlaskCliRunner) -> None:
    import datetime as dt

    from lti_tool.cache import get_store
    from lti_tool.models import LaunchCache, utcnow

    store = get_store(app)
    store.set("short", {"a": 1}, 1)
    store.set("long", {"b": 2}, 3600)
    if app.config.get("REDIS_URL"):
        assert store.get("long") == {"b": 2}
    else:
        with session_scope(app, write=True) as s:
            short = s.get(LaunchCache, "short")
            assert short is not None
            short.expires_at = utcnow() - dt.timedelta(seconds=5)
        result = runner.invoke(args=["launch-store", "purge"])
        assert result.exit_code == 0 and "1 expired launch-store entries" in result.output
        assert store.get("long") == {"b": 2} and store.get("short") is None


def test_launch_store_pop_is_single_use_and_add_only_once(app: Flask) -> None:
    from lti_tool.cache import get_store

    store = get_store(app)
    store.set("k", [1, 2], 60)
    assert store.pop("k") == [1, 2]
    assert store.pop("k") is None
    assert store.add("n", 1, 60) is True
    assert store.add("n", 1, 60) is False

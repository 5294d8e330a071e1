"""Tool keys: generated on first start, JWKS published, rotation publishes the next key before it signs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select, update

from lti_tool.db import session_scope
from lti_tool.lti import keys
from lti_tool.models import ToolKey, utcnow


def jwks(client: FlaskClient) -> list[dict[str, Any]]:
    resp = client.get("/.well-known/jwks.json")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    published: list[dict[str, Any]] = resp.get_json()["keys"]
    return published


def test_fresh_database_gets_a_current_and_a_next_key(tmp_path: Path) -> None:
    from lti_tool import create_app

    from ..conftest import CONTENT_DIR

    app = create_app(
        {"TESTING": True, "SECRET_KEY": "k", "INSTANCE_PATH": str(tmp_path / "i"), "CONTENT_DIR": CONTENT_DIR}
    )
    try:
        assert (tmp_path / "i" / "nama-lti.db").exists()  # SQLite schema created on first start
        with session_scope(app) as s:
            states = sorted(k.state for k in s.scalars(select(ToolKey)))
        assert states == ["current", "next"]
        published = jwks(app.test_client())
        assert len(published) == 2
        assert all(
            k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" and "d" not in k
            for k in published
        )
    finally:
        app.extensions["nama_db"].dispose()


def test_signing_key_matches_a_published_key(app: Flask, client: FlaskClient) -> None:
    with session_scope(app) as s:
        signing = keys.signing_key(s, app)
    token = jwt.encode({"x": 1}, signing.private_pem, algorithm="RS256", headers={"kid": signing.kid})
    [jwk] = [k for k in jwks(client) if k["kid"] == signing.kid]
    public = RSAAlgorithm.from_jwk(jwk)
    assert isinstance(public, rsa.RSAPublicKey)
    assert jwt.decode(token, public, algorithms=["RS256"]) == {"x": 1}


def test_rotation_promotes_the_published_next_key(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    with session_scope(app) as s:
        before_current = keys.signing_key(s, app).kid
        before_next = s.scalars(select(ToolKey.kid).where(ToolKey.state == "next")).one()
    # On PostgreSQL the tests keep the tool_key table: keys retired by earlier tests (or runs) may still be
    # published in their grace period, so compare with what was published before the rotation.
    published_before = {k["kid"] for k in jwks(client)}
    assert {before_current, before_next} <= published_before
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    with session_scope(app) as s:
        assert keys.signing_key(s, app).kid == before_next  # the key platforms already knew
        new_next = s.scalars(select(ToolKey.kid).where(ToolKey.state == "next")).one()
    published = {k["kid"] for k in jwks(client)}
    # the new next key added; the old current key still published in its grace period
    assert published == published_before | {new_next}


def test_retired_key_leaves_the_jwks_after_the_grace_period(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    with session_scope(app) as s:
        old = keys.signing_key(s, app).kid
    runner.invoke(args=["keys", "rotate"])
    with session_scope(app) as s:
        s.execute(
            update(ToolKey).where(ToolKey.kid == old).values(retired_at=utcnow() - dt.timedelta(days=2))
        )
    assert old not in {k["kid"] for k in jwks(client)}
    result = runner.invoke(args=["keys", "wipe-retired"])
    assert "1 retired key(s) wiped" in result.output
    with session_scope(app) as s:
        assert s.scalars(select(ToolKey.private_key_sealed).where(ToolKey.kid == old)).one() == ""
    assert "private key destroyed" in runner.invoke(args=["keys", "list"]).output

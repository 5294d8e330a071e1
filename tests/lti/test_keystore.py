"""Tool private keys at rest: encrypted under the operator's secret, rotatable, migrated from plain PEM; the
SQLite file and the instance folder readable by the tool's user only."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
from alembic import command
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import create_engine, select, text

from lti_tool import create_app
from lti_tool.db import alembic_config, session_scope, upgrade
from lti_tool.lti import keys
from lti_tool.lti.keystore import KeyBox, KeyLocked
from lti_tool.models import ToolKey

from ..conftest import CONTENT_DIR, TEST_KEY_SECRET


def _published(app: Flask, kid: str) -> rsa.RSAPublicKey:
    [jwk] = [k for k in app.test_client().get("/.well-known/jwks.json").get_json()["keys"] if k["kid"] == kid]
    public = RSAAlgorithm.from_jwk(jwk)
    assert isinstance(public, rsa.RSAPublicKey)
    return public


def test_private_keys_are_stored_encrypted(app: Flask) -> None:
    with session_scope(app) as s:
        stored = s.scalars(select(ToolKey).where(ToolKey.private_key_sealed != "")).all()
        signing = keys.signing_key(s, app)
    assert stored and all("PRIVATE KEY" not in k.private_key_sealed for k in stored)
    assert all(KeyBox([TEST_KEY_SECRET]).open(k.private_key_sealed).startswith("-----BEGIN") for k in stored)
    with pytest.raises(KeyLocked):
        KeyBox(["another secret"]).open(stored[0].private_key_sealed)
    token = jwt.encode({"x": 1}, signing.private_pem, algorithm="RS256", headers={"kid": signing.kid})
    assert jwt.decode(token, _published(app, signing.kid), algorithms=["RS256"])


def test_a_wrong_secret_stops_the_start(test_config: dict[str, Any]) -> None:
    with pytest.raises(KeyLocked, match="LTI_TOOL_KEY_SECRETS"):
        create_app({**test_config, "KEY_SECRETS": ["not the secret"]})


def _reencrypt(test_config: dict[str, Any], secrets: list[str]) -> str:
    made = create_app({**test_config, "KEY_SECRETS": secrets})
    try:
        result = made.test_cli_runner().invoke(args=["keys", "reencrypt"])
        assert result.exit_code == 0, result.output
        return str(result.output)
    finally:
        made.extensions["nama_db"].dispose()


def test_rotating_the_key_secret(app: Flask, test_config: dict[str, Any]) -> None:
    with session_scope(app) as s:
        kid = keys.signing_key(s, app).kid
    try:
        assert "private key(s) encrypted" in _reencrypt(test_config, ["the new secret", TEST_KEY_SECRET])
        only_new = create_app({**test_config, "KEY_SECRETS": "the new secret"})  # a plain string works too
        try:
            with session_scope(only_new) as s:
                assert keys.signing_key(s, only_new).kid == kid
        finally:
            only_new.extensions["nama_db"].dispose()
        with pytest.raises(KeyLocked):
            create_app({**test_config, "KEY_SECRETS": [TEST_KEY_SECRET]})
    finally:
        # PostgreSQL keeps the tool keys between tests: give them back to the tests' secret.
        _reencrypt(test_config, [TEST_KEY_SECRET, "the new secret"])


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_the_migration_encrypts_plain_keys_of_the_previous_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0005")
    current, retired = _pem(), _pem()
    engine = create_engine(url)
    now = dt.datetime(2026, 12, 1, 12, 0)
    with engine.begin() as conn:
        for kid, pem, state in (
            ("k-current", current, "current"),
            ("k-retired", retired, "retired"),
            ("k-wiped", "", "retired"),
        ):
            conn.execute(
                text(
                    "INSERT INTO tool_key (kid, private_pem, public_jwk, state, created_at) "
                    "VALUES (:kid, :pem, '{}', :state, :now)"
                ),
                {"kid": kid, "pem": pem, "state": state, "now": now},
            )
    with pytest.raises(RuntimeError, match="key secret"):
        upgrade(url, key_secrets=())  # keys exist: the secret is needed
    upgrade(url, key_secrets=[TEST_KEY_SECRET])
    with engine.connect() as conn:
        rows: dict[str, str] = dict(conn.execute(text("SELECT kid, private_key_sealed FROM tool_key")).all())
    box = KeyBox([TEST_KEY_SECRET])
    assert box.open(rows["k-current"]) == current and box.open(rows["k-retired"]) == retired
    assert rows["k-wiped"] == "" and "PRIVATE KEY" not in "".join(rows.values())
    command.downgrade(alembic_config(url, [TEST_KEY_SECRET]), "0005")
    with engine.connect() as conn:
        back: dict[str, str] = dict(conn.execute(text("SELECT kid, private_pem FROM tool_key")).all())
    assert back == {"k-current": current, "k-retired": retired, "k-wiped": ""}
    engine.dispose()


def test_the_instance_folder_and_database_are_private(tmp_path: Path) -> None:
    instance = tmp_path / "fresh-instance"
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "CONTENT_DIR": CONTENT_DIR})
    try:

        def mode(p: Path) -> int:
            return stat.S_IMODE(p.stat().st_mode)

        assert mode(instance) == 0o700
        assert mode(instance / "nama-lti.db") == 0o600
        assert mode(instance / "secret_key") == 0o600
        with session_scope(app) as s:
            assert keys.signing_key(s, app).kid  # encrypted with the generated secret
    finally:
        app.extensions["nama_db"].dispose()

"""The tool's RSA keys and its public JWKS.

There is always a *current* key (signs client assertions and deep-linking responses) and a *next* key that is
already published, so platforms that cache our JWKS know it before it signs anything. `rotate()` promotes next
to current, retires the old current (still published for KEY_RETIRE_GRACE_SECONDS) and makes a new next.
Private keys are stored encrypted (keystore.py); `signing_key` decrypts the current one when it is needed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from jwcrypto.jwk import JWK
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db import advisory_lock, get_db, schema_is_current, session_scope
from ..models import ToolKey, utcnow
from .keystore import KeyBox, keybox

NEXT, CURRENT, RETIRED = "next", "current", "retired"


def _box(app: Flask) -> KeyBox:
    return keybox(app)


def _new_key(state: str, box: KeyBox) -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk = JWK.from_pem(public_pem)
    kid = jwk.thumbprint()
    public = json.loads(jwk.export_public())
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    now = utcnow()
    return ToolKey(
        kid=kid,
        private_key_sealed=box.seal(pem),
        public_jwk=public,
        state=state,
        created_at=now,
        activated_at=now if state == CURRENT else None,
    )


def ensure_keys(s: Session, app: Flask) -> None:
    """Make sure a current and a next key exist (first start); safe when several processes start at once.

    Also checks that the current key can be decrypted with the configured secret (KeyLocked if not), so a
    wrong secret stops the start instead of failing the first grade."""
    box = _box(app)
    advisory_lock(s, "tool_keys")
    states = set(s.scalars(select(ToolKey.state).where(ToolKey.state.in_([CURRENT, NEXT]))))
    if CURRENT not in states:
        s.add(_new_key(CURRENT, box))
    if NEXT not in states:
        s.add(_new_key(NEXT, box))
    s.flush()
    signing_key(s, app)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: str


def signing_key(s: Session, app: Flask) -> SigningKey:
    """The current key, decrypted with `app`'s key secrets."""
    key = s.scalars(select(ToolKey).where(ToolKey.state == CURRENT).order_by(ToolKey.id.desc())).first()
    if key is None:
        raise RuntimeError("no current tool key: run `scripts/flask keys ensure` or start the app once")
    return SigningKey(key.kid, _box(app).open(key.private_key_sealed))


def reencrypt(s: Session, app: Flask) -> int:
    """Encrypt every stored private key with the first configured secret (after a secret rotation)."""
    box = _box(app)
    advisory_lock(s, "tool_keys")
    count = 0
    for key in s.scalars(select(ToolKey).where(ToolKey.private_key_sealed != "")):
        key.private_key_sealed = box.reseal(key.private_key_sealed)
        count += 1
    s.flush()
    return count


def public_jwks(s: Session, grace_seconds: int) -> dict[str, Any]:
    cutoff = utcnow() - dt.timedelta(seconds=grace_seconds)
    keys = s.scalars(
        select(ToolKey)
        .where(
            (ToolKey.state.in_([CURRENT, NEXT]))
            | ((ToolKey.state == RETIRED) & (ToolKey.retired_at > cutoff))
        )
        .order_by(ToolKey.id)
    ).all()
    return {"keys": [k.public_jwk for k in keys]}


@dataclass(frozen=True)
class Rotation:
    current_kid: str
    next_kid: str
    retired_kid: str | None


def rotate(s: Session, app: Flask) -> Rotation:
    """Promote next -> current, current -> retired, create a new next."""
    ensure_keys(s, app)
    now = utcnow()
    current = s.scalars(select(ToolKey).where(ToolKey.state == CURRENT)).one()
    nxt = s.scalars(select(ToolKey).where(ToolKey.state == NEXT)).one()
    current.state, current.retired_at = RETIRED, now
    nxt.state, nxt.activated_at = CURRENT, now
    new_next = _new_key(NEXT, _box(app))
    s.add(new_next)
    s.flush()
    return Rotation(current_kid=nxt.kid, next_kid=new_next.kid, retired_kid=current.kid)


def wipe_expired_retired(s: Session, grace_seconds: int) -> int:
    """Destroy private material of keys retired longer than the grace period (they are no longer published)."""
    cutoff = utcnow() - dt.timedelta(seconds=grace_seconds)
    result = s.execute(
        update(ToolKey)
        .where(ToolKey.state == RETIRED, ToolKey.retired_at <= cutoff, ToolKey.private_key_sealed != "")
        .values(private_key_sealed="")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    """First start: generate the keys (once the schema exists; on PostgreSQL after `scripts/flask db upgrade`)."""
    database = get_db(app)
    if schema_is_current(database.engine):
        try:
            with session_scope(app) as s:
                ensure_keys(s, app)
        except Exception:
            database.dispose()  # the app is not made: leave no pooled connection behind
            raise

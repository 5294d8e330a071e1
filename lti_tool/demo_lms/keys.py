"""The platform's own RSA key (generated on first start, like Moodle's mod_lti private key) and the tools'
public keys, fetched over HTTP from their registered JWKS URLs.

Moodle: mod/lti/classes/local/ltiopenid/jwks_helper.php keeps one RSA 2048 key with a random kid;
oauth_helper::verify_with_keyset (4.4+, earlier locallib lti_verify_with_keyset) verifies a tool's JWT
against the cached key set and fetches it again once when verification fails.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session

from .storage import PlatformKey

log = logging.getLogger(__name__)


def generate_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def ensure_platform_key(session: Session, pem: str = "") -> PlatformKey:
    """The active key; created on first start (from `pem` when given, e.g. to keep tests fast)."""
    key = session.scalars(
        select(PlatformKey).where(PlatformKey.active).order_by(PlatformKey.id.desc())
    ).first()
    if key is None:
        key = PlatformKey(kid=secrets.token_hex(10), private_pem=pem or generate_private_pem(), active=True)
        session.add(key)
        session.flush()
    return key


class PlatformKeys:
    """The loaded platform key: signs id_tokens and registration tokens, publishes the JWKS."""

    def __init__(self, kid: str, private_pem: str) -> None:
        # Our own key from our own database: skip the slow consistency checks (~50 ms per start).
        loaded = serialization.load_pem_private_key(
            private_pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise TypeError("the platform key must be an RSA key")
        self.kid = kid
        self._private = loaded
        self._public = loaded.public_key()

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self._public, as_dict=True)
        jwk.update(kid=self.kid, alg="RS256", use="sig")
        return {"keys": [jwk]}

    def sign(self, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self._private, algorithm="RS256", headers={"kid": self.kid})

    def verify(self, token: str, **kwargs: Any) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(token, self._public, algorithms=["RS256"], **kwargs)
        return claims


class ToolKeyError(Exception):
    """A tool's JWT cannot be checked: key set unreachable, no matching key, wrong algorithm."""


class ToolKeyCache:
    """Tool JWKS by URL, cached; fetched again once when a token names a kid the cache does not know."""

    def __init__(
        self,
        timeout: tuple[float, float],
        ttl: float,
        on_fetch: Callable[[str], None] | None = None,
    ) -> None:
        self._timeout = timeout
        self._ttl = ttl
        self._on_fetch = on_fetch
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def key_for(self, jwks_url: str, token: str) -> Any:
        """The public key that should have signed `token` (RS256 only)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise ToolKeyError(f"JWT header unreadable: {exc}") from exc
        if header.get("alg") != "RS256":
            raise ToolKeyError(f"alg must be RS256, got {header.get('alg')!r}")
        kid = header.get("kid")
        with self._lock:
            cached = self._cache.get(jwks_url)
        if cached is not None and time.time() - cached[0] < self._ttl:
            key = _find_key(cached[1], kid)
            if key is not None:
                return key
        key = _find_key(self._fetch(jwks_url), kid)
        if key is None:
            raise ToolKeyError(f"no key with kid {kid!r} in the tool's JWKS at {jwks_url}")
        return key

    def _fetch(self, jwks_url: str) -> list[dict[str, Any]]:
        if self._on_fetch is not None:
            self._on_fetch(jwks_url)
        try:
            response = requests.get(jwks_url, timeout=self._timeout, headers={"Accept": "application/json"})
            response.raise_for_status()
            keys = response.json().get("keys")
        except (requests.RequestException, ValueError, AttributeError) as exc:
            raise ToolKeyError(f"tool JWKS at {jwks_url} unavailable: {exc}") from exc
        if not isinstance(keys, list):
            raise ToolKeyError(f"tool JWKS at {jwks_url} has no 'keys' list")
        with self._lock:
            self._cache[jwks_url] = (time.time(), keys)
        return keys

    def forget(self, jwks_url: str) -> None:
        with self._lock:
            self._cache.pop(jwks_url, None)


def _find_key(keys: list[dict[str, Any]], kid: str | None) -> Any:
    candidates = [k for k in keys if isinstance(k, dict) and k.get("kty") == "RSA"]
    if kid is not None:
        candidates = [k for k in candidates if k.get("kid") == kid]
    elif len(candidates) != 1:
        return None  # no kid and several keys: ambiguous
    for jwk in candidates:
        try:
            return jwt.PyJWK(jwk, algorithm="RS256").key
        except jwt.PyJWKError:
            continue
    return None

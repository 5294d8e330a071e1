"""The platform's keys and the id_token's signature: which key signed it, and whether the signature and times hold.

pylti1p3 leaves three gaps here that the tool closes (docs/launch.md, "What pylti1p3 leaves open"):
- Key sets are kept (this process's copy in `JwksCache`, shared between processes in the launch store for
  PLATFORM_JWKS_TTL_SECONDS), and fetched again once on an unknown `kid` (a platform's key rotation), at most
  once per JWKS_REFETCH_MIN_INTERVAL_SECONDS per key set. pylti1p3 never refreshes its copy.
- The fetch goes through the tool's guarded client (timeouts, only the platform's registered origins).
- `verify_signature` checks aud, iss, exp and iat with at most 60 s leeway for clocks that drift (pylti1p3: no
  audience check, no leeway).
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from jwt.algorithms import RSAAlgorithm
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode, base64url_encode

from ..cache import LaunchStore
from ..errors import LaunchError
from ..http import Allowed, GuardedClient, platform_json
from ..i18n import lazy_gettext as _l
from ..localcache import LocalCache
from .claims import ASK_ADMIN

ALLOWED_ALGS = ("RS256", "RS384", "RS512")


class JwksCache:
    """Per-process copy of platform key sets in front of the shared launch store (saves a query per launch),
    with one fetch lock per key-set URL so concurrent first launches make one request, not one each."""

    def __init__(self, ttl: float = 60.0) -> None:
        self._data: LocalCache[str, dict[str, Any]] = LocalCache(ttl, maxsize=256)
        self._lock = threading.Lock()
        self._fetch_locks: dict[str, threading.Lock] = {}

    def fetch_lock(self, url: str) -> threading.Lock:
        with self._lock:
            return self._fetch_locks.setdefault(url, threading.Lock())

    def get(self, url: str) -> dict[str, Any] | None:
        return self._data.get(url)

    def put(self, url: str, jwks: dict[str, Any]) -> None:
        self._data.set(url, jwks)


def jwks_cache(app: Any) -> JwksCache:
    cache = app.extensions.get("nama_jwks_cache")
    if cache is None:
        cache = app.extensions.setdefault("nama_jwks_cache", JwksCache())
    assert isinstance(cache, JwksCache)
    return cache


def _key_for(jwks: Mapping[str, Any] | None, kid: str) -> dict[str, Any] | None:
    for key in (jwks or {}).get("keys", []):
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None


@functools.lru_cache(maxsize=64)
def _public_key(jwk: str) -> Any:
    """The RSA public key of a JWK (parsed once per process: every launch of a platform uses the same few)."""
    return RSAAlgorithm.from_jwk(jwk)


def _store_key(url: str) -> str:
    return "jwks:" + hashlib.sha256(url.encode()).hexdigest()


class PlatformKeys:
    """The key set of one platform (`url`), as a launch needs it."""

    def __init__(
        self,
        url: str,
        *,
        allowed: Allowed,
        http: GuardedClient,
        store: LaunchStore,
        jwks: JwksCache,
        config: Mapping[str, Any],
    ) -> None:
        self.url = url
        self._allowed = allowed
        self._http = http
        self._store = store
        self._jwks = jwks
        self._config = config

    def key_for(self, header: Mapping[str, Any]) -> tuple[Any, str]:
        """The public key and algorithm the token's header names (`kid`, `alg`); refused when unknown."""
        kid, alg = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or not kid:
            raise LaunchError(
                _l("The id_token names no signing key (kid)."), hint=ASK_ADMIN, code="kid_missing"
            )
        if alg not in ALLOWED_ALGS:
            raise LaunchError(
                _l("The id_token is signed with an algorithm the tool does not accept."),
                hint=ASK_ADMIN,
                code="alg_refused",
                detail=f"alg={alg!r}",
            )
        url = self.url
        jwks = self._jwks.get(url) or self._store.get(_store_key(url))
        key = _key_for(jwks, kid)
        if key is None:
            with self._jwks.fetch_lock(url):
                # Another thread or process may have refreshed meanwhile; else re-fetch once (rate-limited per
                # key set), which is how a platform's key rotation reaches us.
                shared = self._jwks.get(url) if jwks is None else self._store.get(_store_key(url))
                key = _key_for(shared, kid)
                if key is not None:
                    self._jwks.put(url, shared)  # type: ignore[arg-type]
                elif shared is None or self._store.add(
                    "jwks-refetch:" + hashlib.sha256(url.encode()).hexdigest(),
                    1,
                    int(self._config["JWKS_REFETCH_MIN_INTERVAL_SECONDS"]),
                ):
                    key = _key_for(self._fetch(), kid)
        if key is None:
            raise LaunchError(
                _l("The id_token was signed with a key the learning platform does not publish."),
                hint=ASK_ADMIN,
                code="kid_unknown",
                detail=f"kid {kid!r} not in {url}",
            )
        key_alg = key.get("alg", alg)
        if key_alg != alg or key.get("kty") != "RSA":
            raise LaunchError(
                _l("The id_token's algorithm does not match the platform's key."),
                hint=ASK_ADMIN,
                code="alg_mismatch",
            )
        try:
            public_key = _public_key(json.dumps(key, sort_keys=True))
        except (ValueError, KeyError, TypeError) as exc:
            raise LaunchError(
                _l("The learning platform's public key set is malformed."),
                hint=ASK_ADMIN,
                code="platform_keys_malformed",
                status=502,
            ) from exc
        return public_key, alg

    def _fetch(self) -> dict[str, Any]:
        url = self.url
        try:
            resp = self._http.get(url, headers={"Accept": "application/json"}, allowed=self._allowed)
            resp.raise_for_status()
            jwks = platform_json(resp)
        except (requests.RequestException, ValueError) as exc:
            raise LaunchError(
                _l("The tool could not fetch the learning platform's public keys."),
                hint=ASK_ADMIN,
                code="platform_keys_unavailable",
                status=502,
                detail=f"JWKS {url}: {exc}",
            ) from exc
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise LaunchError(
                _l("The learning platform's public key set is malformed."),
                hint=ASK_ADMIN,
                code="platform_keys_malformed",
                status=502,
            )
        self._store.set(_store_key(url), jwks, int(self._config["PLATFORM_JWKS_TTL_SECONDS"]))
        self._jwks.put(url, jwks)
        return jwks


_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")


class _JWS(PyJWS):
    """PyJWT's JWS parsing, its check of each segment's characters done by one regular expression: PyJWT 2.15
    tests them one by one in a Python generator (~1,800 function calls and ~65 us per launch token, a third of
    the launch POST's Python calls). The same rules: at most two trailing "=", padding only on a whole number of
    quads, nothing outside the base64url alphabet, and the segment in its canonical form
    (tests/lti/test_keysets.py compares it with PyJWT's on good and bad segments)."""

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if (
            padding > 2
            or (padding and len(segment) % 4 != 0)
            or len(stripped) % 4 == 1
            or not _BASE64URL.fullmatch(stripped)
        ):
            raise DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(stripped)
        except (TypeError, binascii.Error) as err:
            raise DecodeError(f"Invalid {name} padding") from err
        if base64url_encode(decoded) != stripped:
            raise DecodeError(f"Invalid {name} padding")
        return decoded


_JWT = jwt.PyJWT()
_JWT._jws = _JWS()  # as PyJWT sets up its own module-level decoder (jwt/api_jwt.py)
_CLAIM_OPTIONS = _JWT._merge_options({"require": ["exp", "iat", "iss", "aud", "nonce"], "verify_aud": True})


@dataclass(frozen=True)
class IdToken:
    """An id_token parsed once: the format check at the start of a launch and the signature check later read the
    same parts (they were parsed twice, by pylti1p3 and again by PyJWT's `decode`)."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_id_token(token: str) -> IdToken:
    """PyJWT's parsing of a JWS (jwt.PyJWS `_load`, `_decode_payload`): three base64url segments, the header and
    the payload JSON objects. Raises jwt.DecodeError."""
    payload, signing_input, header, signature = _JWT._jws._load(token)
    claims = _JWT._decode_payload({"payload": payload})
    return IdToken(header, claims, signing_input, signature)


def verify_signature(token: IdToken, key: Any, alg: str, *, audience: str, issuer: str, leeway: int) -> None:
    """What PyJWT's `decode` checks after parsing, in its order (`decode_complete`: the header, the signature with
    `alg` the only algorithm allowed, then the claims), on the parts `parse_id_token` gave: the signature, `aud`,
    `iss`, `exp`, `iat` (and that `nonce` is there), with at most 60 s leeway; each failure refused with its own
    code. tests/lti/test_keysets.py compares it with `jwt.decode`. A token with a detached payload (header
    `b64: false`) has no payload to parse and is refused by `parse_id_token`."""
    try:
        jws = _JWT._jws
        jws._validate_headers(token.header)
        jws._verify_signature(
            token.signing_input,
            token.header,
            token.signature,
            key,
            [alg],
            options={"verify_signature": True, "enforce_minimum_key_length": False},
        )
        _JWT._validate_claims(
            token.claims, _CLAIM_OPTIONS, audience=audience, issuer=issuer, leeway=min(leeway, 60)
        )
    except jwt.ExpiredSignatureError as exc:
        raise _refuse_time(
            _l("The launch has expired (the id_token is too old)."), "token_expired", exc
        ) from exc
    except jwt.ImmatureSignatureError as exc:
        raise _refuse_time(
            _l("The id_token was issued in the future (the platform's clock is ahead)."),
            "token_not_yet_valid",
            exc,
        ) from exc
    except jwt.InvalidAudienceError as exc:
        raise LaunchError(
            _l("The id_token is not meant for this tool (audience)."),
            hint=ASK_ADMIN,
            code="aud_mismatch",
            detail=str(exc),
        ) from exc
    except jwt.InvalidIssuerError as exc:
        raise LaunchError(
            _l("The id_token's issuer is wrong."), hint=ASK_ADMIN, code="iss_mismatch", detail=str(exc)
        ) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise LaunchError(
            _l("The id_token lacks the required claim %(claim)s.", claim=exc.claim),
            hint=ASK_ADMIN,
            code="claim_missing",
            detail=str(exc),
        ) from exc
    except jwt.InvalidSignatureError as exc:
        raise LaunchError(
            _l("The id_token's signature is not valid."),
            hint=ASK_ADMIN,
            code="bad_signature",
            detail=str(exc),
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise LaunchError(
            _l("The id_token is not valid."),
            hint=ASK_ADMIN,
            code="token_invalid",
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc


def _refuse_time(message: Any, code: str, exc: Exception) -> LaunchError:
    return LaunchError(
        message,
        hint=_l(
            "Start the activity again. If this keeps happening, the clocks of the platform or the tool server may be wrong."
        ),
        code=code,
        detail=str(exc),
    )

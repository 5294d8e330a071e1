"""OAuth 2 access tokens for LTI services: client_credentials with a signed JWT client assertion (RFC 7523).

Tokens are cached per platform and sorted scope set where every process sees them (the launch store,
`lti_tool/cache.py`: its table, or Redis when LTI_TOOL_REDIS_URL is set), reused until
GRADE_TOKEN_MARGIN_SECONDS before they expire, and so survive restarts. One process fetches while the others wait (`single_flight`). A 401 from a service
drops the token (only if it is still the cached one) and the caller fetches a fresh one once.

A token request that fails (an error status, a time-out, no connection, an answer without a usable token) rests
the platform's token endpoint, in the same store, for every process: no token request goes to that platform
before GRADE_TOKEN_BACKOFF_BASE_SECONDS · 2^(n-1) have passed after the n-th failure in a row (at most
GRADE_TOKEN_BACKOFF_CAP_SECONDS, but as long as its Retry-After asks, up to GRADE_RETRY_AFTER_MAX_SECONDS);
asking meanwhile raises `TokenEndpointResting` without a request. The first token it gives ends the rest
(`EndpointTrouble`, shown by `grades status` and the operator's grade outbox page).

Not pylti1p3's ServiceConnector: its get_access_token() checks the cache and fetches with nothing in
between, so a lock with a re-check after taking it would mean rewriting the method anyway.
Tokens and assertions are never logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import re
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from flask import Flask

from .. import metrics
from ..cache import LaunchStore, get_store
from ..db import session_scope
from ..http import Allowed, GuardedClient, platform_allowed, platform_json, short_reason
from ..localcache import LocalCache
from ..lti.keys import signing_key
from ..models import Platform, utcnow
from .backoff import parse_retry_after
from .singleflight import Busy, single_flight

log = logging.getLogger(__name__)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; RFC 7523 asks for a short-lived assertion
DEFAULT_EXPIRES_IN = 300  # when the platform does not say (RFC 6749 only recommends expires_in)
MAX_EXPIRES_IN = 86400.0  # a longer lifetime is taken as a day (1e308 overflowed the expiry's date)
# RFC 6750 §2.1 b64token, at a length any header and the token store take: nothing else goes into a header.
USABLE_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    """What the token client needs from a Platform row (kept, so a worker need not query it per score)."""

    id: int
    issuer: str
    client_id: str
    token_url: str
    audience: str
    allowed: Allowed  # where requests for this platform may go (lti_tool/http.py)

    @classmethod
    def of(cls, platform: Platform) -> PlatformInfo:
        return cls(
            platform.id,
            platform.issuer,
            platform.client_id,
            platform.auth_token_url,
            platform.auth_audience or platform.auth_token_url,
            platform_allowed(
                issuer=platform.issuer,
                auth_login_url=platform.auth_login_url,
                auth_token_url=platform.auth_token_url,
                jwks_url=platform.jwks_url,
            ),
        )


class TokenError(Exception):
    """The token endpoint did not give us a token. Always worth retrying later (it may be a set-up problem
    the LMS admin fixes, such as a tool not yet activated): the reason says what the platform answered."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.rest_until: dt.datetime | None = None  # no token request to this platform before then

    @property
    def temporary(self) -> bool:
        """The endpoint was unreachable, down or busy (no answer, 5xx, 408, 429), not refusing this tool: a
        person is told to try again later rather than to have the set-up checked."""
        return self.status is None or self.status >= 500 or self.status in (408, 429)


@dataclass(frozen=True, slots=True)
class EndpointTrouble:
    """A platform's token endpoint failing: since when, how many requests in a row, the last one's reason, and
    when the next token request may go out."""

    since: dt.datetime
    failures: int
    rest_until: dt.datetime
    reason: str
    status: int | None = None  # the last failed request's HTTP status (None: no answer)

    def describe(self) -> str:
        return (
            f"token endpoint failing since {self.since:%Y-%m-%d %H:%M:%S} UTC ({self.failures} request(s) in "
            f"a row, the last: {self.reason}); next request not before {self.rest_until:%H:%M:%S} UTC"
        )


class TokenEndpointResting(TokenError):
    """No token request was made: the platform's token endpoint failed lately and rests (`EndpointTrouble`)."""

    def __init__(self, trouble: EndpointTrouble) -> None:
        super().__init__(trouble.describe(), status=trouble.status)
        self.trouble = trouble
        self.rest_until = trouble.rest_until


def token_backoff_seconds(failures: int, *, base: float, cap: float) -> float:
    """The rest after the `failures`-th failed token request in a row: base, 2·base, 4·base, … up to cap."""
    return min(cap, base * 2.0 ** min(max(failures, 1) - 1, 60))


def _trouble_key(platform_id: int) -> str:
    return f"token-endpoint-trouble:{platform_id}"


def endpoint_trouble(store: LaunchStore, platform_id: int) -> EndpointTrouble | None:
    """The token endpoint trouble of a platform, if its last token request failed."""
    raw = store.get(_trouble_key(platform_id))
    if not isinstance(raw, dict):
        return None
    return EndpointTrouble(
        since=dt.datetime.fromtimestamp(float(raw["since"]), dt.UTC),
        failures=int(raw["failures"]),
        rest_until=dt.datetime.fromtimestamp(float(raw["rest_until"]), dt.UTC),
        reason=str(raw["reason"]),
        status=int(raw["status"]) if isinstance(raw.get("status"), int) else None,  # absent before 2026-12-07
    )


def scope_key(scopes: Collection[str]) -> str:
    return hashlib.sha256(" ".join(sorted(set(scopes))).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedToken:
    token: str
    use_until: dt.datetime


class TokenCache:
    """Tokens in the launch store, shared by every process; an entry expires when the token is no longer used."""

    def __init__(self, store: LaunchStore) -> None:
        self.store = store

    @staticmethod
    def _key(platform_id: int, key: str) -> str:
        return f"access-token:{platform_id}:{key}"

    def get(self, platform_id: int, key: str) -> CachedToken | None:
        raw = self.store.get(self._key(platform_id, key))
        if not isinstance(raw, dict):
            return None
        use_until = dt.datetime.fromtimestamp(float(raw["use_until"]), dt.UTC)
        return CachedToken(str(raw["token"]), use_until) if use_until > utcnow() else None

    def put(self, platform_id: int, key: str, token: CachedToken) -> None:
        ttl = math.ceil((token.use_until - utcnow()).total_seconds())  # get() checks use_until itself
        if ttl > 0:
            value = {"token": token.token, "use_until": token.use_until.timestamp()}
            self.store.set(self._key(platform_id, key), value, ttl)

    def drop(self, platform_id: int, key: str, token: str) -> None:
        """Forget `token` if it is still the cached one (a fresher one stays)."""
        current = self.get(platform_id, key)
        if current is not None and current.token == token:
            self.store.delete(self._key(platform_id, key))


def token_cache(app: Flask) -> TokenCache:
    return TokenCache(get_store(app))


class AccessTokens:
    """Access tokens for one app, shared with every other process of the installation."""

    def __init__(self, app: Flask, cache: TokenCache | None = None) -> None:
        self.app = app
        self.cache = cache or token_cache(app)
        self.store = get_store(app)
        self.margin = float(app.config["GRADE_TOKEN_MARGIN_SECONDS"])
        self.backoff_base = float(app.config["GRADE_TOKEN_BACKOFF_BASE_SECONDS"])
        self.backoff_cap = float(app.config["GRADE_TOKEN_BACKOFF_CAP_SECONDS"])
        self.retry_after_max = float(app.config["GRADE_RETRY_AFTER_MAX_SECONDS"])
        timeouts = float(app.config["HTTP_CONNECT_TIMEOUT"]) + float(app.config["HTTP_READ_TIMEOUT"])
        self.lock_ttl = int(timeouts) + 5
        # In front of the shared cache, this process's copy: no database or Redis round trip per score. Each
        # token is kept until its own end of use (no default ttl).
        self._local: LocalCache[tuple[int, str], CachedToken] = LocalCache(ttl=0, maxsize=256)

    def get(self, platform: PlatformInfo, scopes: Collection[str], http: GuardedClient) -> str:
        key = scope_key(scopes)
        mine = self._local.get((platform.id, key))
        if mine is not None:
            return mine.token

        def cached() -> CachedToken | None:
            return self.cache.get(platform.id, key)

        def fetch() -> CachedToken:
            trouble = endpoint_trouble(self.store, platform.id)
            if trouble is not None and trouble.rest_until > utcnow():
                raise TokenEndpointResting(trouble)
            try:
                token, expires_in = self._request(platform, sorted(set(scopes)), http)
            except TokenError as exc:
                metrics.token_request(ok=False)
                exc.rest_until = self._failed(platform, trouble, exc).rest_until
                raise
            metrics.token_request(ok=True)
            if trouble is not None:
                self.store.delete(_trouble_key(platform.id))
                log.warning(
                    "token endpoint of platform %s (%s) works again, after %d failed request(s) since %s",
                    platform.id,
                    platform.issuer,
                    trouble.failures,
                    f"{trouble.since:%Y-%m-%d %H:%M:%S} UTC",
                )
            margin = min(self.margin, expires_in / 2)
            fresh = CachedToken(token, utcnow() + dt.timedelta(seconds=expires_in - margin))
            self.cache.put(platform.id, key, fresh)
            return fresh

        try:
            found = single_flight(
                self.store, f"access-token:{platform.id}:{key}", ttl=self.lock_ttl, cached=cached, fetch=fetch
            )
        except Busy:  # another worker's request failed: it rested the endpoint for everyone
            trouble = endpoint_trouble(self.store, platform.id)
            if trouble is not None and trouble.rest_until > utcnow():
                raise TokenEndpointResting(trouble) from None
            raise
        self._local.set((platform.id, key), found, ttl=(found.use_until - utcnow()).total_seconds())
        return found.token

    def _failed(
        self, platform: PlatformInfo, before: EndpointTrouble | None, exc: TokenError
    ) -> EndpointTrouble:
        """Rest the token endpoint after a failed request (one more failure in a row than `before`)."""
        now = utcnow()
        failures = (before.failures if before else 0) + 1
        rest = token_backoff_seconds(failures, base=self.backoff_base, cap=self.backoff_cap)
        wanted = parse_retry_after(exc.retry_after, now)
        if wanted is not None:
            rest = max(rest, min(wanted, self.retry_after_max))
        trouble = EndpointTrouble(
            since=before.since if before else now,
            failures=failures,
            rest_until=now + dt.timedelta(seconds=rest),
            reason=str(exc)[:300],
            status=exc.status,
        )
        value = {
            "since": trouble.since.timestamp(),
            "failures": failures,
            "rest_until": trouble.rest_until.timestamp(),
            "reason": trouble.reason,
            "status": trouble.status,
        }
        # Kept past the rest (the next failure then rests longer) until a token request succeeds.
        self.store.set(_trouble_key(platform.id), value, math.ceil(rest + self.backoff_cap) + 60)
        log.warning("platform %s (%s): %s", platform.id, platform.issuer, trouble.describe())
        return trouble

    def drop(self, platform: PlatformInfo, scopes: Collection[str], token: str) -> None:
        """The platform refused `token` (401): forget it here and in the shared cache (if still there)."""
        key = scope_key(scopes)
        self._local.discard((platform.id, key), when=lambda mine: mine.token == token)
        self.cache.drop(platform.id, key, token)

    def assertion(self, platform: PlatformInfo) -> str:
        with session_scope(self.app) as s:
            key = signing_key(s, self.app)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": platform.client_id,
            "sub": platform.client_id,
            "aud": platform.audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})

    def _request(self, platform: PlatformInfo, scopes: list[str], http: GuardedClient) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": self.assertion(platform),
            "scope": " ".join(scopes),
        }
        started = time.monotonic()
        try:
            response = http.post(
                platform.token_url,
                data=form,
                headers={"Accept": "application/json"},
                allowed=platform.allowed,
            )
        except requests.RequestException as exc:
            raise TokenError(f"token endpoint not reachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise TokenError(
                f"token endpoint answered {short_reason(response)}",
                status=response.status_code,
                retry_after=response.headers.get("Retry-After"),
            )
        try:
            body = platform_json(response)
        except ValueError as exc:
            why = "not JSON" if isinstance(exc, requests.JSONDecodeError) else str(exc)
            raise TokenError(f"token endpoint answered no usable access token ({why})", status=200) from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise TokenError("token endpoint answered without an access_token", status=200)
        if len(token) > MAX_TOKEN_LENGTH or not USABLE_TOKEN.fullmatch(token):
            raise TokenError(
                "token endpoint answered an access_token no Authorization header can carry", status=200
            )
        try:
            expires_in = float(body.get("expires_in") or DEFAULT_EXPIRES_IN)
        except (TypeError, ValueError):
            expires_in = DEFAULT_EXPIRES_IN
        if not math.isfinite(expires_in):  # "inf" as a string
            expires_in = DEFAULT_EXPIRES_IN
        expires_in = min(expires_in, MAX_EXPIRES_IN)
        log.info(
            "access token for platform %s (%s), %d scope(s), valid %ds, fetched in %.0f ms",
            platform.id,
            platform.issuer,
            len(scopes),
            expires_in,
            (time.monotonic() - started) * 1000,
        )
        return token, max(expires_in, 1.0)

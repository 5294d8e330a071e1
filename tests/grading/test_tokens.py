"""Access tokens against the demo LMS's token endpoint: one request, shared, reused across restarts,
no stampede, renewed before expiry, RFC 7523 assertions, never logged."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

import jwt
import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool import create_app
from lti_tool.cache import get_store
from lti_tool.db import session_scope
from lti_tool.grading.tokens import (
    AccessTokens,
    PlatformInfo,
    TokenEndpointResting,
    TokenError,
    endpoint_trouble,
    scope_key,
    token_cache,
)
from lti_tool.http import http_session
from lti_tool.lti.keys import signing_key
from lti_tool.models import Platform, utcnow

from .conftest import ALL_SCOPES, CLIENT_ID, Classroom, Lms

SCORE = [s for s in ALL_SCOPES if s.endswith("/score")]


@pytest.fixture
def platform(app: Flask, lms: Lms) -> PlatformInfo:
    classroom = Classroom(app, lms)
    with session_scope(app) as s:
        return PlatformInfo.of(s.get(Platform, classroom.platform_id))  # type: ignore[arg-type]


def test_one_token_request_reused_and_surviving_a_restart(
    app: Flask, lms: Lms, platform: PlatformInfo, test_config: dict[str, Any]
) -> None:
    tokens = AccessTokens(app)
    http = http_session(app)
    first = tokens.get(platform, SCORE, http)
    for _ in range(20):
        assert tokens.get(platform, SCORE, http) == first
    assert lms.token_requests() == 1
    # another scope set is another token
    assert tokens.get(platform, ALL_SCOPES, http) != first
    assert lms.token_requests() == 2

    restarted = create_app(test_config)  # a new process: only the shared cache is left
    try:
        assert AccessTokens(restarted).get(platform, SCORE, http_session(restarted)) == first
    finally:
        restarted.extensions["nama_db"].dispose()
    assert lms.token_requests() == 2


def test_concurrent_workers_make_one_token_request(app: Flask, lms: Lms, platform: PlatformInfo) -> None:
    start = threading.Barrier(8)
    got: list[str] = []

    def worker() -> None:
        tokens, http = AccessTokens(app), http_session(app)  # as separate processes would have
        start.wait()
        got.append(tokens.get(platform, SCORE, http))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(got) == 8 and len(set(got)) == 1
    assert lms.token_requests() == 1


def test_renewed_shortly_before_expiry(app: Flask, tool: Any, lms_key_pem: str, test_config: Any) -> None:
    short = Lms(tool.url, lms_key_pem, TOKEN_TTL=4)
    try:
        classroom = Classroom(app, short)
        with session_scope(app) as s:
            info = PlatformInfo.of(s.get(Platform, classroom.platform_id))  # type: ignore[arg-type]
        tokens, http = AccessTokens(app), http_session(app)
        before = utcnow()
        first = tokens.get(info, SCORE, http)
        after = utcnow()
        cached = token_cache(app).get(info.id, scope_key(SCORE))
        assert cached is not None
        # expires_in 4 s: the margin (60 s by default) is cut to half the lifetime, so it is used for 2 s
        assert before + dt.timedelta(seconds=2) <= cached.use_until <= after + dt.timedelta(seconds=2)
        if utcnow() < cached.use_until:
            assert tokens.get(info, SCORE, http) == first
        time.sleep(max(0.0, (cached.use_until - utcnow()).total_seconds()) + 0.1)
        assert tokens.get(info, SCORE, http) != first
        assert short.token_requests() == 2
    finally:
        short.close()


def test_client_assertion_is_rfc_7523(app: Flask, platform: PlatformInfo) -> None:
    tokens = AccessTokens(app)
    a, b = tokens.assertion(platform), tokens.assertion(platform)
    with session_scope(app) as s:
        kid = signing_key(s, app).kid
    header = jwt.get_unverified_header(a)
    assert header["kid"] == kid and header["alg"] == "RS256"
    claims = jwt.decode(a, options={"verify_signature": False})
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == platform.token_url
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert claims["jti"] != jwt.decode(b, options={"verify_signature": False})["jti"]


def test_auth_audience_when_the_platform_names_one(app: Flask, platform: PlatformInfo, lms: Lms) -> None:
    with session_scope(app, write=True) as s:
        row = s.scalars(select(Platform)).one()
        row.auth_audience = lms.url
        info = PlatformInfo.of(row)
    claims = jwt.decode(AccessTokens(app).assertion(info), options={"verify_signature": False})
    assert claims["aud"] == lms.url
    AccessTokens(app).get(info, SCORE, http_session(app))  # the demo LMS accepts its issuer as aud
    assert lms.token_requests() == 1


def end_rest(app: Flask, platform: PlatformInfo) -> None:
    """As if the token endpoint's rest were over (the trouble itself is kept)."""
    store = get_store(app)
    key = f"token-endpoint-trouble:{platform.id}"
    trouble = store.get(key)
    assert isinstance(trouble, dict)
    store.set(key, {**trouble, "rest_until": time.time() - 1}, 600)


def test_token_endpoint_failure_is_an_error_to_retry(app: Flask, lms: Lms, platform: PlatformInfo) -> None:
    lms.faults({"token": {"status": 503, "retry_after": 7, "count": 1}})
    with pytest.raises(TokenError) as failed:
        AccessTokens(app).get(platform, SCORE, http_session(app))
    assert failed.value.status == 503 and failed.value.retry_after == "7"
    # The endpoint rests as long as its Retry-After asks (longer than the first rest of 5 s), for every client.
    assert failed.value.rest_until is not None
    assert 6.5 < (failed.value.rest_until - utcnow()).total_seconds() <= 7
    with pytest.raises(TokenEndpointResting) as resting:
        AccessTokens(app).get(platform, SCORE, http_session(app))
    assert "token endpoint failing since" in str(resting.value) and "503 Service Unavailable" in str(
        resting.value
    )
    assert lms.stats()["by_status"]["token_requests"] == {"503": 1}  # no request while it rests

    store = get_store(app)
    end_rest(app, platform)  # 7 s later
    AccessTokens(app).get(platform, SCORE, http_session(app))
    assert lms.stats()["by_status"]["token_requests"] == {"503": 1, "200": 1}
    assert endpoint_trouble(store, platform.id) is None  # a token ends the trouble


def test_the_rest_grows_with_each_failure_in_a_row_up_to_the_cap(
    app: Flask, lms: Lms, platform: PlatformInfo
) -> None:
    app.config.update(GRADE_TOKEN_BACKOFF_BASE_SECONDS=5.0, GRADE_TOKEN_BACKOFF_CAP_SECONDS=300)
    lms.faults({"token": {"status": 500}})
    store = get_store(app)
    rests = []
    for _ in range(8):
        with pytest.raises(TokenError) as failed:
            AccessTokens(app).get(platform, SCORE, http_session(app))
        assert failed.value.rest_until is not None
        rests.append(round((failed.value.rest_until - utcnow()).total_seconds()))
        end_rest(app, platform)
    assert rests == [5, 10, 20, 40, 80, 160, 300, 300]
    trouble = endpoint_trouble(store, platform.id)
    assert trouble is not None and trouble.failures == 8
    assert lms.stats()["by_status"]["token_requests"] == {"500": 8}


def test_tokens_and_assertions_never_reach_the_log(
    app: Flask, lms: Lms, platform: PlatformInfo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = AccessTokens(app)
    token = tokens.get(platform, SCORE, http_session(app))
    assertion = tokens.assertion(platform)
    assert "access token for platform" in caplog.text
    assert token not in caplog.text and assertion not in caplog.text

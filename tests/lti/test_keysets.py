"""The launch's JWS parsing (lti/keysets.py `_JWS`) judges every segment as PyJWT's own does, and a token parsed
once (`parse_id_token`) is verified as `jwt.decode` verifies it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError

from lti_tool.errors import LaunchError
from lti_tool.lti.keysets import _JWS, parse_id_token, verify_signature

_BODY = base64.urlsafe_b64encode(b'{"iss":"https://lms.example","nonce":"n\xc3\xa4"}').rstrip(b"=")
SEGMENTS = [
    _BODY,
    _BODY + b"=" * (-len(_BODY) % 4),  # padded to whole quads (AWS ALB does)
    b"",
    b"QQ",
    b"QQ==",
    b"QQ=",  # padding on a part quad
    b"QQ===",  # too much padding
    b"QUJD",
    b"QUJD=",
    b"Q",  # one character left over
    b"QR",  # not canonical: the last character has bits that are not part of the value
    b"!!!!",
    b"QU+D",  # base64, not base64url
    b"QU/D",
    b"QU D",
    b"QUJD\n",
    "QUJ\u00e4".encode(),
    _BODY[:-1] + b"*",
]


@pytest.mark.parametrize("segment", SEGMENTS)
def test_segments_judged_as_pyjwt_does(segment: bytes) -> None:
    def judge(decode: object) -> bytes | str:
        try:
            return decode(segment, "payload")  # type: ignore[operator, no-any-return]
        except DecodeError as exc:
            return f"refused: {exc}"

    assert judge(_JWS._decode_base64url_segment) == judge(PyJWS._decode_base64url_segment)


def test_the_segments_include_refusals_and_values() -> None:
    results = [isinstance(_try(segment), bytes) for segment in SEGMENTS]
    assert any(results) and not all(results)


def _try(segment: bytes) -> bytes | None:
    try:
        return _JWS._decode_base64url_segment(segment, "payload")
    except DecodeError:
        return None


# --- parsed once, verified as `jwt.decode` verifies (lti/keysets.py `parse_id_token`, `verify_signature`) ----------

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_CODES = {  # the refusal codes verify_signature gives PyJWT's exceptions
    jwt.ExpiredSignatureError: "token_expired",
    jwt.ImmatureSignatureError: "token_not_yet_valid",
    jwt.InvalidAudienceError: "aud_mismatch",
    jwt.InvalidIssuerError: "iss_mismatch",
    jwt.MissingRequiredClaimError: "claim_missing",
    jwt.InvalidSignatureError: "bad_signature",
}


def _claims(now: int) -> dict[str, Any]:
    return {
        "iss": "https://lms.example",
        "aud": "tool",
        "sub": "u",
        "iat": now,
        "exp": now + 60,
        "nonce": "n",
    }


def _token(now: int, key: Any = _KEY, headers: dict[str, Any] | None = None, **claims: Any) -> str:
    body = {k: v for k, v in {**_claims(now), **claims}.items() if v is not None}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1", **(headers or {})})


def _segments(token: str, *, header: Any = None, body: bytes | None = None) -> str:
    parts = token.split(".")
    if header is not None:
        parts[0] = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    if body is not None:
        parts[1] = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
    return ".".join(parts)


def _tokens() -> dict[str, str]:
    """The tokens, signed now: built when a test runs, not when the file is collected (a full run reaches these
    tests minutes later, when tokens valid for 60 s from collection would have expired)."""
    now = int(time.time())
    return {
        "valid": _token(now),
        "expired": _token(now, exp=now - 120),
        "issued in the future": _token(now, iat=now + 600),
        "not yet valid (nbf)": _token(now, nbf=now + 600),
        "other audience": _token(now, aud="someone-else"),
        "one of several audiences": _token(now, aud=["tool", "other"]),
        "other issuer": _token(now, iss="https://evil.example"),
        "no nonce": _token(now, nonce=None),
        "no exp": _token(now, exp=None),
        "iat not a number": _token(now, iat="yesterday"),
        "signed by another key": _token(now, _OTHER_KEY),
        "body changed": _segments(_token(now), body=json.dumps({**_claims(now), "sub": "admin"}).encode()),
        "kid not a string": _segments(_token(now), header={"alg": "RS256", "kid": 7}),
        "alg none in the header": _segments(_token(now), header={"alg": "none", "kid": "k1"}),
        "unknown crit": _segments(_token(now), header={"alg": "RS256", "crit": ["exp"]}),
        "body not an object": _segments(_token(now), body=b"[1]"),
        "body not JSON": _segments(_token(now), body=b"{"),
        "detached payload": _segments(_token(now), header={"alg": "RS256", "b64": False, "crit": ["b64"]}),
        "two segments": ".".join(_token(now).split(".")[:2]),
    }


TOKEN_NAMES = list(_tokens())


def _ours(token: str) -> str:
    try:
        parsed = parse_id_token(token)
    except jwt.InvalidTokenError:
        return "malformed"
    try:
        verify_signature(
            parsed, _KEY.public_key(), "RS256", audience="tool", issuer="https://lms.example", leeway=5
        )
    except LaunchError as exc:
        return exc.code
    return "ok"


def _pyjwt(token: str) -> str:
    try:
        jwt.decode(
            token,
            _KEY.public_key(),
            algorithms=["RS256"],
            audience="tool",
            issuer="https://lms.example",
            leeway=5,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"], "verify_aud": True},
        )
    except jwt.InvalidTokenError as exc:
        return _CODES.get(type(exc), "token_invalid")
    return "ok"


@pytest.mark.parametrize("name", TOKEN_NAMES)
def test_parsed_once_and_verified_as_jwt_decode_does(name: str) -> None:
    token = _tokens()[name]
    ours, pyjwt = _ours(token), _pyjwt(token)
    if ours == "malformed":  # refused before the signature check (token_malformed); PyJWT refuses it as well
        assert pyjwt != "ok", name
    else:
        assert ours == pyjwt, name


def test_the_tokens_include_each_outcome() -> None:
    outcomes = {_ours(token) for token in _tokens().values()}
    assert {"ok", "malformed", "token_invalid", "bad_signature", *_CODES.values()} <= outcomes, outcomes

"""The launch's JWS parsing (lti/keysets.py `_JWS`) judges every segment as PyJWT's own does."""

from __future__ import annotations

import base64

import pytest
from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError

from lti_tool.lti.keysets import _JWS

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

"""Origins of URLs from outside: kept once worked out, the same as worked out afresh."""

from __future__ import annotations

import pytest

from lti_tool.urls import MAX_URL_LENGTH, Origin, _origin_of, http_url, origin_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://LMS.example.org/mod/lti/auth.php", Origin("https", "lms.example.org", 443)),
        ("http://127.0.0.1:8080/x?y#z", Origin("http", "127.0.0.1", 8080)),
        ("https://[::1]/", Origin("https", "::1", 443)),
        ("https://lms.example.org:443", Origin("https", "lms.example.org", 443)),
        ("javascript:alert(1)", None),
        ("/relative", None),
        ("http://[::1", None),
        ("http://h:99999/", None),
        ("http://user@h/", None),
        ("https://lms.example.org/a b", None),
        ("", None),
        (None, None),
        (42, None),
        (["https://lms.example.org/"], None),
        ("https://lms.example.org/" + "a" * MAX_URL_LENGTH, None),
    ],
)
def test_origin_of(value: object, expected: Origin | None) -> None:
    assert origin_of(value) == expected
    assert origin_of(value) == expected  # kept or not, the same answer
    if isinstance(value, str) and len(value) <= MAX_URL_LENGTH:
        parts = http_url(value)
        assert (parts is None) is (expected is None)


def test_an_origin_is_worked_out_once_per_url() -> None:
    _origin_of.cache_clear()
    first = origin_of("https://lms.example.org/mod/lti/auth.php")
    assert origin_of("https://lms.example.org/mod/lti/auth.php") is first
    assert _origin_of.cache_info().hits == 1
    origin_of("https://lms.example.org/" + "a" * MAX_URL_LENGTH)  # too long: never kept
    assert _origin_of.cache_info().currsize == 1

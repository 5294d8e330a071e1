"""Fault injection: errors, rate limits, slowness and outages on service endpoints only."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from .conftest import SCOPES, Lms


def set_faults(lms: Lms, rules: dict[str, Any]) -> Any:
    response = lms.http.post(f"{lms.url}/api/faults", json=rules, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_seeded_500_rate(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    url = lms.lineitem_url()
    set_faults(lms, {"scores": {"status": 500, "rate": 0.3, "seed": 7}})
    statuses = [
        lms.post_score(url, token, userId="4", timestamp=f"2030-01-01T00:00:{i:02d}Z").status_code
        for i in range(40)
    ]
    failures = statuses.count(500)
    assert 4 <= failures <= 20
    assert set(statuses) <= {200, 500}
    by_status = lms.stats()["by_status"]["score_posts"]
    assert by_status["500"] == failures
    assert lms.stats()["faults_injected"]["scores"] == failures

    # Same seed, same sequence.
    other = lms.http.post(
        f"{lms.url}/api/faults", json={"scores": {"status": 500, "rate": 0.3, "seed": 7}}, timeout=5
    )
    assert other.status_code == 200
    again = [
        lms.post_score(url, token, userId="5", timestamp=f"2030-01-01T00:00:{i:02d}Z").status_code
        for i in range(40)
    ]
    assert again.count(500) == failures


def test_429_with_retry_after_for_the_next_n_requests(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    url = lms.lineitem_url()
    set_faults(lms, {"scores": {"status": 429, "retry_after": 1.5, "count": 3}})
    limited = [lms.post_score(url, token) for _ in range(3)]
    assert [r.status_code for r in limited] == [429, 429, 429]
    assert limited[0].headers["Retry-After"] == "2"
    assert limited[0].json()["error"] == "temporarily_unavailable"
    assert lms.post_score(url, token).status_code == 200
    assert lms.http.get(f"{lms.url}/api/faults", timeout=5).json()["rules"] == {}


def test_token_errors(lms: Lms) -> None:
    set_faults(lms, {"token": {"status": 500, "count": 2}})
    assertion_url = f"{lms.url}/token"
    for expected in (500, 500, 200):
        response = lms.http.post(
            assertion_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": lms.tool.assertion(assertion_url),
                "scope": SCOPES["score"],
            },
            timeout=5,
        )
        assert response.status_code == expected
    assert lms.stats()["by_status"]["token_requests"] == {"500": 2, "200": 1}


def test_delay_makes_the_client_time_out(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    url = lms.lineitem_url()
    set_faults(lms, {"scores": {"delay": 1.0, "count": 1}})
    base, _, query = url.partition("?")
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        lms.http.post(f"{base}/scores?{query}", json={}, timeout=(3, 0.5),
                      headers={"Authorization": f"Bearer {token}",
                               "Content-Type": "application/vnd.ims.lis.v1.score+json"})  # fmt: skip
    assert lms.post_score(url, token).status_code == 200
    time.sleep(max(0.0, 1.2 - (time.monotonic() - started)))  # let the delayed request finish before teardown


def test_down_makes_every_service_503_but_not_the_ui_or_api(lms: Lms) -> None:
    token = lms.token(SCOPES["score"], SCOPES["nrps"])
    url = lms.lineitem_url()
    set_faults(lms, {"down": True})
    assert lms.post_score(url, token).status_code == 503
    assert lms.http.get(f"{lms.url}/jwks", timeout=5).status_code == 503
    assert lms.http.post(f"{lms.url}/token", data={}, timeout=5).status_code == 503
    memberships = f"{lms.url}/mod/lti/services.php/CourseSection/demo-course-1/bindings/1/memberships"
    assert (
        lms.http.get(memberships, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 503
    )
    assert lms.http.get(f"{lms.url}/", timeout=5).status_code == 200
    assert lms.http.get(f"{lms.url}/api/scores", timeout=5).status_code == 200
    assert lms.http.delete(f"{lms.url}/api/faults", timeout=5).json() == {"down": False, "rules": {}}
    assert lms.post_score(url, token).status_code == 200


def test_bad_rules_are_400(lms: Lms) -> None:
    bad: list[Any] = [
        {"nope": {"status": 500}},
        {"scores": {"status": 200}},
        {"scores": {"rate": 2, "status": 500}},
        {"scores": {}},
        {"down": "yes"},
        ["scores"],
    ]
    for rules in bad:
        response = lms.http.post(f"{lms.url}/api/faults", json=rules, timeout=5)
        assert response.status_code == 400, rules
        assert response.json()["detail"]

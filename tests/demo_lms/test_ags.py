"""Assignment and Grade Services: scores with Moodle's semantics, line items, results."""

from __future__ import annotations

from typing import Any

from .conftest import SCOPES, Lms, iso_now

LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"


def scores(lms: Lms) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = lms.http.get(f"{lms.url}/api/scores", timeout=5).json()
    return rows


def create_item(lms: Lms, token: str, **body: Any) -> Any:
    return lms.http.post(
        f"{lms.url}/mod/lti/services.php/demo-course-1/lineitems?type_id=1",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": LINEITEM_TYPE},
        timeout=5,
    )


def test_score_is_stored(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    response = lms.post_score(lms.lineitem_url(), token, comment="Gut gemacht")
    assert response.status_code == 200
    assert response.content == b""  # Moodle answers 200 with an empty body
    [row] = scores(lms)
    assert row["user_id"] == "4"
    assert row["scoreGiven"] == 80
    assert row["scoreMaximum"] == 100
    assert row["activityProgress"] == "Completed"
    assert row["gradingProgress"] == "FullyGraded"
    assert row["comment"] == "Gut gemacht"
    assert row["label"] == "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement"
    assert row["line_item_url"] == lms.lineitem_url()
    assert row["history_count"] == 1
    assert lms.stats()["by_status"]["score_posts"] == {"200": 1}


def test_scores_page_shows_the_timestamp_in_german_time(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    assert (
        lms.post_score(lms.lineitem_url(), token, timestamp="2026-12-06T13:05:03.250+00:00").status_code
        == 200
    )
    assert lms.post_score(lms.lineitem_url(), token, timestamp="2026-07-01T08:00:00Z").status_code == 409
    page = lms.http.get(f"{lms.url}/scores", timeout=5).text
    assert '<time datetime="2026-12-06T13:05:03.250+00:00">06.12.2026, 14:05:03 MEZ</time>' in page


def test_same_or_older_timestamp_is_409(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    url = lms.lineitem_url()
    stamp = iso_now(-30)
    assert lms.post_score(url, token, timestamp=stamp).status_code == 200
    same = lms.post_score(url, token, timestamp=stamp)
    assert same.status_code == 409
    assert "earlier timestamp" in same.json()["reason"]
    older = lms.post_score(url, token, timestamp=iso_now(-60), scoreGiven=90)
    assert older.status_code == 409
    assert lms.post_score(url, token, timestamp=iso_now(5), scoreGiven=95).status_code == 200
    history = lms.http.get(f"{lms.url}/api/score-history", timeout=5).json()
    assert [h["scoreGiven"] for h in history] == [80, 95]
    assert lms.stats()["by_status"]["score_posts"] == {"200": 2, "409": 2}


def test_moodle_compares_whole_seconds_with_the_servers_save_time(lms: Lms) -> None:
    """Coupled item: a changed grade is stamped with the LMS clock, so a score stamped before that is 409."""
    token = lms.token(SCOPES["score"])
    url = lms.lineitem_url()
    assert lms.post_score(url, token, timestamp=iso_now(-120)).status_code == 200
    # Newer than the first score, but older than the moment the LMS stored it:
    assert lms.post_score(url, token, timestamp=iso_now(-60), scoreGiven=90).status_code == 409


def test_spec_mode_compares_with_the_last_timestamp(make_lms: Any) -> None:
    lms: Lms = make_lms(SCORE_TIMESTAMPS="spec")
    token = lms.token(SCOPES["score"])
    url = lms.lineitem_url()
    assert lms.post_score(url, token, timestamp=iso_now(-120)).status_code == 200
    assert lms.post_score(url, token, timestamp=iso_now(-60), scoreGiven=90).status_code == 200


def test_score_without_grade_leaves_no_timestamp_to_beat(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    url = lms.lineitem_url()
    started = lms.post_score(url, token, timestamp=iso_now(-10), activityProgress="Started",
                             gradingProgress="NotReady", scoreGiven=None)  # fmt: skip
    assert started.status_code == 200
    assert lms.post_score(url, token, timestamp=iso_now(-20)).status_code == 200


def test_instructor_score_is_400_incorrect_score_received(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    response = lms.post_score(lms.lineitem_url(), token, userId="3")
    assert response.status_code == 400
    assert "Incorrect score received" in response.text
    assert response.reason == "Incorrect score received"
    assert response.headers["Content-Type"].startswith("application/json")
    assert lms.post_score(lms.lineitem_url(), token, userId="999").status_code == 400
    assert lms.post_score(lms.lineitem_url(), token, userId="2").status_code == 400  # admin, not enrolled
    assert scores(lms) == []


def test_missing_fields_are_400(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    for missing in ("userId", "timestamp", "activityProgress", "gradingProgress"):
        response = lms.post_score(lms.lineitem_url(), token, **{missing: None})
        assert response.status_code == 400, missing
        assert missing in response.json()["detail"]
    assert lms.post_score(lms.lineitem_url(), token, timestamp="yesterday").status_code == 400
    assert lms.post_score(lms.lineitem_url(), token, scoreGiven="80").status_code == 400


def test_score_given_only_counts_when_fully_graded(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    response = lms.post_score(
        lms.lineitem_url(), token, gradingProgress="Pending", activityProgress="Submitted"
    )
    assert response.status_code == 200
    [row] = scores(lms)
    assert row["scoreGiven"] is None
    assert row["gradingProgress"] == "Pending"
    history = lms.http.get(f"{lms.url}/api/score-history", timeout=5).json()
    assert history[0]["scoreGivenSent"] == 80
    assert history[0]["scoreGiven"] is None


def test_score_above_maximum_is_accepted(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    assert lms.post_score(lms.lineitem_url(), token, scoreGiven=12, scoreMaximum=10).status_code == 200
    assert scores(lms)[0]["resultScore"] == 120  # rescaled to the item's 100 points


def test_score_needs_a_token_with_the_score_scope(lms: Lms) -> None:
    url = lms.lineitem_url()
    no_token = lms.post_score(url, None)
    assert no_token.status_code == 401
    assert no_token.headers["WWW-Authenticate"].startswith("Bearer")
    assert lms.post_score(url, "not-a-token").status_code == 401
    read_only = lms.post_score(url, lms.token(SCOPES["result"]))
    assert read_only.status_code == 401
    assert read_only.json()["error"] == "insufficient_scope"


def test_score_content_type_and_type_id(lms: Lms) -> None:
    token = lms.token(SCOPES["score"])
    url = lms.lineitem_url()
    base = url.partition("?")[0]
    auth = {"Authorization": f"Bearer {token}"}
    wrong_type = lms.http.post(
        f"{base}/scores?type_id=1", json={}, headers={**auth, "Content-Type": "application/json"}, timeout=5
    )
    assert wrong_type.status_code == 400
    other_tool = lms.post_score(url.replace("type_id=1", "type_id=2"), token)
    assert other_tool.status_code == 401
    # The classic bug: "/scores" appended after the query string lands on the line item, not on scores.
    score_type = {"Content-Type": "application/vnd.ims.lis.v1.score+json"}
    buggy = lms.http.post(f"{url}/scores", json={}, headers={**auth, **score_type}, timeout=5)
    assert buggy.status_code in (401, 405)
    missing = lms.post_score(url.replace("/lineitems/1/", "/lineitems/99/"), token)
    assert missing.status_code == 404


def test_lineitems_create_and_filter(lms: Lms) -> None:
    token = lms.token(SCOPES["lineitem"])
    created = create_item(lms, token, label="Modul 2: Agenda 2030", scoreMaximum=10, resourceId="agenda-2030",
                          tag="quiz", resourceLinkId="1")  # fmt: skip
    assert created.status_code == 201
    item = created.json()
    assert item["id"].startswith(f"{lms.url}/mod/lti/services.php/demo-course-1/lineitems/")
    assert item["id"].endswith("/lineitem?type_id=1")
    assert item["resourceLinkId"] == "1"
    create_item(lms, token, label="Modul 3", scoreMaximum=10, resourceId="governance", tag="quiz")

    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.ims.lis.v2.lineitemcontainer+json",
    }
    container = f"{lms.url}/mod/lti/services.php/demo-course-1/lineitems"
    everything = lms.http.get(container, params={"type_id": "1"}, headers=headers, timeout=5)
    assert everything.headers["Content-Type"].startswith("application/vnd.ims.lis.v2.lineitemcontainer+json")
    assert len(everything.json()) == 3  # the activity's own item + 2 created
    by_resource = lms.http.get(
        container, params={"type_id": "1", "resource_id": "agenda-2030"}, headers=headers, timeout=5
    )
    assert [i["label"] for i in by_resource.json()] == ["Modul 2: Agenda 2030"]
    by_tag = lms.http.get(container, params={"type_id": "1", "tag": "quiz"}, headers=headers, timeout=5)
    assert len(by_tag.json()) == 2
    by_link = lms.http.get(
        container, params={"type_id": "1", "resource_link_id": "1"}, headers=headers, timeout=5
    )
    assert len(by_link.json()) == 2

    # Paging with Link rel="next" until exhausted.
    seen: list[str] = []
    url: str | None = f"{container}?type_id=1&limit=2"
    while url:
        page = lms.http.get(url, headers=headers, timeout=5)
        seen += [i["id"] for i in page.json()]
        url = page.links.get("next", {}).get("url")
    assert len(seen) == 3 and len(set(seen)) == 3


def test_lineitem_create_validation(lms: Lms) -> None:
    token = lms.token(SCOPES["lineitem"])
    assert create_item(lms, token, scoreMaximum=10).status_code == 400
    assert create_item(lms, token, label="x").status_code == 400
    assert create_item(lms, token, label="x", scoreMaximum="zehn").status_code == 400
    assert create_item(lms, token, label="x", scoreMaximum=10, resourceLinkId="99").status_code == 403
    read_only = lms.token(SCOPES["lineitem.readonly"])
    assert create_item(lms, read_only, label="x", scoreMaximum=10).status_code == 401


def test_lineitem_get_put_delete(lms: Lms) -> None:
    token = lms.token(SCOPES["lineitem"])
    item_url = create_item(lms, token, label="Modul 4", scoreMaximum=10, resourceId="m4").json()["id"]
    headers = {"Authorization": f"Bearer {token}"}
    assert lms.http.get(item_url, headers=headers, timeout=5).json()["label"] == "Modul 4"
    put = lms.http.put(item_url, json={"label": "Modul 4 (neu)", "scoreMaximum": 20, "resourceId": "m4"},
                       headers={**headers, "Content-Type": LINEITEM_TYPE}, timeout=5)  # fmt: skip
    assert put.status_code == 200
    assert put.json()["scoreMaximum"] == 20
    assert lms.http.delete(item_url, headers=headers, timeout=5).status_code == 204
    assert lms.http.get(item_url, headers=headers, timeout=5).status_code == 404
    # The activity's own grade item cannot be deleted (Moodle: 403).
    assert lms.http.delete(lms.lineitem_url(), headers=headers, timeout=5).status_code == 403


def test_results(lms: Lms) -> None:
    score_token = lms.token(SCOPES["score"])
    url = lms.lineitem_url()
    lms.post_score(url, score_token, userId="4", scoreGiven=70, comment="ok")
    lms.post_score(url, score_token, userId="5", scoreGiven=5, scoreMaximum=10)
    token = lms.token(SCOPES["result"])
    base, _, query = url.partition("?")
    response = lms.http.get(
        f"{base}/results?{query}", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.ims.lis.v2.resultcontainer+json")
    results = {r["userId"]: r for r in response.json()}
    assert results["4"]["resultScore"] == 70
    assert results["4"]["resultMaximum"] == 100
    assert results["4"]["comment"] == "ok"
    assert results["4"]["scoreOf"] == url
    assert results["5"]["resultScore"] == 50
    one = lms.http.get(
        f"{base}/results?{query}&user_id=5", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert [r["userId"] for r in one.json()] == ["5"]
    assert lms.http.get(f"{base}/results?{query}", timeout=5).status_code == 401

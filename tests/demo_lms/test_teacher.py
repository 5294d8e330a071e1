"""What a Moodle teacher does in the course, as the demo LMS mirrors it (test-only API): add an activity (with or
without "Accept grades from the tool"), delete a grade item; and what a tool then sees in launches and AGS."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import AGS, Lms


def add(lms: Lms, body: Any) -> Any:
    return lms.http.post(f"{lms.url}/api/activities", json=body, timeout=5)


def test_an_activity_added_with_grades_launches_with_its_own_line_item(lms: Lms) -> None:
    made = add(
        lms, {"title": "Gruppe B", "custom": {"course": "grundlagenkurs", "module_grade_items": "true"}}
    )
    assert made.status_code == 201, made.text
    activity = str(made.json()["id"])
    _, claims, _ = lms.launch(activity=activity, user="4")
    ags = claims[f"{AGS}/claim/endpoint"]
    [item] = [
        i for i in lms.http.get(f"{lms.url}/api/lineitems", timeout=5).json() if i["label"] == "Gruppe B"
    ]
    assert ags["lineitem"] == item["url"] and item["resource_link_id"] == activity and item["coupled"]
    assert claims["https://purl.imsglobal.org/spec/lti/claim/custom"]["module_grade_items"] == "true"


def test_grades_off_launches_without_lineitem_but_with_the_container_and_the_scopes(lms: Lms) -> None:
    made = add(lms, {"title": "Ohne Bewertung", "accept_grades": False})
    assert made.status_code == 201, made.text
    _, claims, _ = lms.launch(activity=str(made.json()["id"]), user="4")
    ags = claims[f"{AGS}/claim/endpoint"]
    assert "lineitem" not in ags
    assert ags["lineitems"].startswith(f"{lms.url}/mod/lti/services.php/demo-course-1/lineitems")
    assert f"{AGS}/scope/score" in ags["scope"] and f"{AGS}/scope/lineitem" in ags["scope"]
    assert [i["label"] for i in lms.http.get(f"{lms.url}/api/lineitems", timeout=5).json()] == [
        "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement"
    ]


def test_a_deleted_grade_item_answers_scores_with_404_and_stays_gone(lms: Lms) -> None:
    token = lms.token(f"{AGS}/scope/score", f"{AGS}/scope/lineitem")
    created = lms.http.post(
        f"{lms.url}/mod/lti/services.php/demo-course-1/lineitems?type_id=1",
        json={"label": "1. Modul a", "scoreMaximum": 100, "resourceId": "modul-a"},
        headers={
            "Content-Type": "application/vnd.ims.lis.v2.lineitem+json",
            "Authorization": f"Bearer {token}",
        },
        timeout=5,
    )
    assert created.status_code == 201, created.text
    url = created.json()["id"]
    assert lms.post_score(url, token).status_code == 200
    item_id = int(url.split("/lineitems/")[1].split("/")[0])
    assert lms.http.delete(f"{lms.url}/api/lineitems/{item_id}", timeout=5).status_code == 204
    refused = lms.post_score(url, token)
    assert refused.status_code == 404 and f"Grade item {item_id} doesn't exist" in refused.text
    assert [i["label"] for i in lms.http.get(f"{lms.url}/api/lineitems", timeout=5).json()] == [
        "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement"
    ]
    assert not [
        r for r in lms.http.get(f"{lms.url}/api/scores", timeout=5).json() if r["line_item_id"] == item_id
    ]
    assert lms.http.delete(f"{lms.url}/api/lineitems/{item_id}", timeout=5).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"title": ""},
        {"title": "   "},
        {"title": 5},
        {"title": "A", "custom": "course=x"},
        {"title": "A", "accept_grades": "no"},
    ],
)
def test_adding_an_activity_refuses_bad_input(lms: Lms, body: Any) -> None:
    response = add(lms, body)
    assert response.status_code == 400, response.text
    assert len(lms.http.get(f"{lms.url}/api/activities", timeout=5).json()) == 1


def test_teacher_actions_exist_only_with_faults_enabled(make_lms: Any) -> None:
    lms = make_lms(FAULTS_ENABLED=False)
    assert add(lms, {"title": "Gruppe B"}).status_code == 404
    assert lms.http.delete(f"{lms.url}/api/lineitems/1", timeout=5).status_code == 404
    assert len(lms.http.get(f"{lms.url}/api/lineitems", timeout=5).json()) == 1  # reading stays open

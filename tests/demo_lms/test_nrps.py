"""Names and Role Provisioning Services: the roster, with paging."""

from __future__ import annotations

from typing import Any

from .conftest import SCOPES, Lms

MEMBERSHIPS = "/mod/lti/services.php/CourseSection/demo-course-1/bindings/1/memberships"
CONTAINER_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


def get(lms: Lms, url: str, token: str | None) -> Any:
    headers = {"Accept": CONTAINER_TYPE}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return lms.http.get(url, headers=headers, timeout=5)


def test_paging_until_exhausted_includes_the_learner_who_never_launched(lms: Lms) -> None:
    token = lms.token(SCOPES["nrps"])
    members: list[dict[str, Any]] = []
    url: str | None = f"{lms.url}{MEMBERSHIPS}?limit=2"
    pages = 0
    while url:
        response = get(lms, url, token)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith(CONTAINER_TYPE)
        body = response.json()
        assert body["context"] == {"id": "demo-course-1", "label": "NaMa-Demo", "title": "Demo-Kurs NaMa NRW"}
        assert body["id"] == f"{lms.url}{MEMBERSHIPS}"
        members += body["members"]
        pages += 1
        url = response.links.get("next", {}).get("url")
    assert pages == 3
    by_id = {m["user_id"]: m for m in members}
    assert set(by_id) == {"3", "4", "5", "6", "7"}  # the admin is not enrolled
    murat = by_id["7"]
    assert murat == {
        "status": "Active",
        "roles": ["Learner"],  # Moodle's NRPS sends short role names
        "user_id": "7",
        "name": "Murat Yilmaz",
        "given_name": "Murat",
        "family_name": "Yilmaz",
        "email": "murat.yilmaz@example.org",
    }
    assert by_id["3"]["roles"] == ["Instructor"]
    assert lms.stats()["nrps_requests"] == 3


def test_without_paging_everyone_at_once(lms: Lms) -> None:
    response = get(lms, f"{lms.url}{MEMBERSHIPS}", lms.token(SCOPES["nrps"]))
    assert len(response.json()["members"]) == 5
    assert "next" not in response.links


def test_role_filter_and_uri_roles(make_lms: Any) -> None:
    lms: Lms = make_lms(NRPS_ROLE_FORMAT="uri")
    response = get(lms, f"{lms.url}{MEMBERSHIPS}?role=Instructor", lms.token(SCOPES["nrps"]))
    [teacher] = response.json()["members"]
    assert teacher["roles"] == ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]


def test_needs_the_membership_scope(lms: Lms) -> None:
    assert get(lms, f"{lms.url}{MEMBERSHIPS}", None).status_code == 401
    assert get(lms, f"{lms.url}{MEMBERSHIPS}", lms.token(SCOPES["score"])).status_code == 401
    other_binding = MEMBERSHIPS.replace("/bindings/1/", "/bindings/2/")
    assert get(lms, f"{lms.url}{other_binding}", lms.token(SCOPES["nrps"])).status_code == 401

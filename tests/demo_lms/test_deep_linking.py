"""Deep Linking: the tool's signed response creates activities with their own line items."""

from __future__ import annotations

import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from .conftest import AGS, DL, LTI, Lms

ITEMS: list[dict[str, Any]] = [
    {
        "type": "ltiResourceLink",
        "title": "Modul 2: Agenda 2030",
        "text": "Die 17 Ziele für nachhaltige Entwicklung in der Kommune",
        "url": "TOOL/lti/launch",
        "custom": {"course": "grundlagenkurs", "module": "agenda-2030"},
        "lineItem": {
            "scoreMaximum": 10,
            "label": "Modul 2: Agenda 2030",
            "resourceId": "agenda-2030",
            "tag": "quiz",
        },
        "iframe": {},
    },
    {"type": "link", "url": "https://example.org", "title": "ignored"},
]


def dl_response(lms: Lms, data: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    items = [dict(ITEMS[0], url=f"{lms.tool.base}/lti/launch"), ITEMS[1]]
    claims: dict[str, Any] = {
        "iss": lms.tool.client_id,
        "aud": lms.url,
        "iat": now,
        "exp": now + 300,
        "nonce": uuid.uuid4().hex,
        f"{LTI}/claim/message_type": "LtiDeepLinkingResponse",
        f"{LTI}/claim/version": "1.3.0",
        f"{LTI}/claim/deployment_id": "1",
        f"{DL}/data": data,
        f"{DL}/content_items": items,
        f"{DL}/msg": "1 Modul übernommen",
        f"{DL}/log": "agenda-2030 placed",
    }
    claims.update(overrides)
    return claims


def request_data(lms: Lms) -> str:
    _, claims, _ = lms.launch(tool="1", user="3", deep_linking="1")
    data: str = claims[f"{DL}/deep_linking_settings"]["data"]
    return data


def post(lms: Lms, token: str) -> Any:
    return lms.http.post(f"{lms.url}/deep-linking/return", data={"JWT": token}, timeout=5)


def test_response_creates_activity_and_line_item(lms: Lms) -> None:
    response = post(lms, lms.tool.sign(dl_response(lms, request_data(lms))))
    assert response.status_code == 200
    assert "1 Modul übernommen" in response.text
    assert "agenda-2030 placed" in response.text
    assert "Modul 2: Agenda 2030" in response.text
    activities = lms.http.get(f"{lms.url}/api/activities", timeout=5).json()
    assert len(activities) == 2
    new = activities[1]
    assert new["title"] == "Modul 2: Agenda 2030"
    assert new["custom"] == {"course": "grundlagenkurs", "module": "agenda-2030"}
    assert new["source"] == "deep_linking"
    [item] = new["line_items"]
    assert (item["scoreMaximum"], item["resourceId"], item["tag"]) == (10, "agenda-2030", "quiz")

    # The new activity launches like any other and carries its own line item.
    _, claims, _ = lms.launch(activity=str(new["id"]), user="4")
    assert claims[f"{LTI}/claim/resource_link"]["id"] == str(new["id"])
    assert claims[f"{LTI}/claim/custom"] == {"course": "grundlagenkurs", "module": "agenda-2030"}
    assert claims[f"{AGS}/claim/endpoint"]["lineitem"] == item["url"]

    course = lms.http.get(f"{lms.url}/", params={"hinzugefuegt": str(new["id"])}, timeout=5)
    assert "Modul 2: Agenda 2030" in course.text
    assert lms.stats()["deep_linking_returns"] == 1


def test_bad_signature_is_refused(lms: Lms, other_key: rsa.RSAPrivateKey) -> None:
    response = post(lms, lms.tool.sign(dl_response(lms, request_data(lms)), key=other_key))
    assert response.status_code == 400
    assert len(lms.http.get(f"{lms.url}/api/activities", timeout=5).json()) == 1


def test_wrong_data_is_refused(lms: Lms) -> None:
    request_data(lms)
    response = post(lms, lms.tool.sign(dl_response(lms, "not-what-we-sent")))
    assert response.status_code == 400
    assert "data" in response.text


def test_other_claim_errors(lms: Lms) -> None:
    data = request_data(lms)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"aud": "https://other.example"}, "aud"),
        ({f"{LTI}/claim/message_type": "LtiResourceLinkRequest"}, "message_type"),
        ({f"{LTI}/claim/deployment_id": "99"}, "deployment_id"),
        ({f"{LTI}/claim/version": "1.1"}, "version"),
        ({"exp": int(time.time()) - 120}, "expired"),
    ]
    for overrides, fragment in cases:
        response = post(lms, lms.tool.sign(dl_response(lms, data, **overrides)))
        assert response.status_code == 400, overrides
        assert fragment in response.text, overrides


def test_replay_is_refused(lms: Lms) -> None:
    token = lms.tool.sign(dl_response(lms, request_data(lms)))
    assert post(lms, token).status_code == 200
    assert post(lms, token).status_code == 400

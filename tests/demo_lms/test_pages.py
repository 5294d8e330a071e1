"""The German pages, the JSON views, persistence across restarts and the threaded server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from lti_tool.demo_lms import close_demo_lms, create_demo_lms, serve_in_thread

from ..forms import parse
from .conftest import SCOPES, FakeTool, Lms


def test_course_page(lms: Lms) -> None:
    page = lms.http.get(f"{lms.url}/", timeout=5)
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    assert "Demo-Kurs NaMa NRW" in page.text
    assert "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement" in page.text
    assert "Als Lea Schneider (Lernende/r) starten" in page.text
    assert "Als Dr. Ingrid Lehmann (Lehrende/r) starten" in page.text
    assert "Inhalte auswählen (Deep Linking)" in page.text
    assert 'href="/launch/1?user=4"' in page.text
    assert "Murat Yilmaz" in page.text and 'href="/launch/1?user=7"' not in page.text
    assert 'href="/scores"' in page.text and 'href="/admin/tools"' in page.text
    assert "<script" not in page.text and "http://cdn" not in page.text.lower()


def test_deep_linking_page(lms: Lms) -> None:
    page = lms.http.get(f"{lms.url}/deep-linking", params={"tool": "1", "user": "3"}, timeout=5)
    assert page.status_code == 200
    assert parse(page.text).iframes[0].startswith(f"{lms.tool.base}/lti/login?")
    assert (
        lms.http.get(f"{lms.url}/deep-linking", params={"tool": "1", "user": "4"}, timeout=5).status_code
        == 403
    )


def test_scores_page_and_api(lms: Lms) -> None:
    assert "Noch keine Bewertungen" in lms.http.get(f"{lms.url}/scores", timeout=5).text
    lms.post_score(lms.lineitem_url(), lms.token(SCOPES["score"]), scoreGiven=42, comment="Weiter so")
    page = lms.http.get(f"{lms.url}/scores", timeout=5)
    assert "Lea Schneider" in page.text and "42 / 100" in page.text and "Weiter so" in page.text
    [row] = lms.http.get(f"{lms.url}/api/scores", timeout=5).json()
    assert set(row) >= {"label", "resourceId", "line_item_url", "user_id", "scoreGiven", "scoreMaximum",
                        "activityProgress", "gradingProgress", "timestamp", "comment"}  # fmt: skip
    [event] = lms.http.get(f"{lms.url}/api/score-history", params={"user_id": "4"}, timeout=5).json()
    assert event["scoreGiven"] == 42


def test_unknown_pages(lms: Lms) -> None:
    page = lms.http.get(f"{lms.url}/launch/99", params={"user": "4"}, timeout=5)
    assert page.status_code == 404
    assert "Unbekannte Aktivität" in page.text
    api = lms.http.get(f"{lms.url}/api/nothing", timeout=5)
    assert api.status_code == 404
    assert api.json()["status"] == 404


def test_launch_return_page(lms: Lms) -> None:
    page = lms.http.get(f"{lms.url}/launch/return", params={"lti_errormsg": "Kaputt"}, timeout=5)
    assert "Kaputt" in page.text


def test_state_survives_a_restart(tmp_path: Path, tool: FakeTool) -> None:
    db = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    first = create_demo_lms({"STATE_DB": db, "TOOLS": [tool.config()]})
    with serve_in_thread(first) as server:
        jwks = requests.get(f"{server.url}/jwks", timeout=5).json()
    close_demo_lms(first)
    second = create_demo_lms({"STATE_DB": db, "TOOLS": [tool.config()]})
    try:
        with serve_in_thread(second) as server:
            assert requests.get(f"{server.url}/jwks", timeout=5).json() == jwks
            assert len(requests.get(f"{server.url}/api/activities", timeout=5).json()) == 1
            assert len(requests.get(f"{server.url}/api/tools", timeout=5).json()) == 1
    finally:
        close_demo_lms(second)


def test_configured_issuer_is_used(make_lms: Any) -> None:
    lms: Lms = make_lms(ISSUER="http://lms.example:5001/")
    config = lms.http.get(f"{lms.url}/mod/lti/openid-configuration.php", timeout=5).json()
    assert config["issuer"] == "http://lms.example:5001"
    assert lms.login_params(activity="1", user="4")["iss"] == "http://lms.example:5001"


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="LOGIN_METHOD"):
        create_demo_lms({"LOGIN_METHOD": "carrier-pigeon"})
    with pytest.raises(ValueError, match="unknown"):
        create_demo_lms({"TOOOLS": []})


def test_no_tools_yet(make_lms: Any) -> None:
    lms: Lms = make_lms(TOOLS=[])
    page = lms.http.get(f"{lms.url}/", timeout=5)
    assert "Noch kein Tool registriert" in page.text


def test_server_runs_requests_concurrently(lms: Lms) -> None:
    """The JWKS fetch during /token goes to another server while the LMS answers other requests."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: requests.get(f"{lms.url}/jwks", timeout=5).status_code, range(16)))
    assert statuses == [200] * 16

"""Service addresses a launch names (AGS lineitem/lineitems, NRPS, deep-linking return) must lie on the
platform's registered origins: otherwise the launch is refused (clear page, nothing written), so the tool never
sends a bearer token, a score or a signed response anywhere else. Malformed ones are a 400, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from ..peer import INSTRUCTOR, LTI, Launcher
from .test_launch_refusals import assert_refused

AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def ags(lineitems: str, lineitem: str | None = None) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
        "lineitems": lineitems,
    }
    if lineitem:
        claim["lineitem"] = lineitem
    return {AGS: claim}


@pytest.mark.parametrize(
    "claims",
    [
        ags("http://127.0.0.2:8080/internal/lineitems"),
        ags("PEER/mod/lti/services.php/2/lineitems", lineitem="http://169.254.169.254/latest/meta-data"),
        {NRPS: {"context_memberships_url": "http://localhost:6379/", "service_versions": ["2.0"]}},
    ],
)
def test_services_on_another_origin_refuse_the_launch(
    app: Flask, launcher: Launcher, claims: dict[str, Any]
) -> None:
    claims = {k: _peer(v, launcher) for k, v in claims.items()}
    resp = launcher.launch(**claims)
    assert_refused(app, resp, "service_url_foreign")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:99999/lineitems", "http://127.0.0.1:abc/lineitems", "http://[::1", "javascript:x"],
)
def test_malformed_service_urls_are_a_clear_400(app: Flask, launcher: Launcher, url: str) -> None:
    assert_refused(app, launcher.launch(**ags(url)), "service_url_malformed")


def test_deep_linking_return_url_on_another_origin(app: Flask, launcher: Launcher) -> None:
    deep_linking: dict[str, Any] = {
        LTI + "message_type": "LtiDeepLinkingRequest",
        LTI + "roles": INSTRUCTOR,
        LTI + "resource_link": None,
        DL + "deep_linking_settings": {
            "deep_link_return_url": "https://evil.example/collect",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
        },
    }
    assert_refused(app, launcher.launch(**deep_linking), "service_url_foreign")


def test_services_on_the_platforms_origin_are_kept(launcher: Launcher) -> None:
    base = launcher.peer.issuer
    page = launcher.launch_and_follow(
        **ags(
            base + "/mod/lti/services.php/2/lineitems", base + "/mod/lti/services.php/2/lineitems/7/lineitem"
        ),
        **{
            NRPS: {
                "context_memberships_url": base
                + "/mod/lti/services.php/CourseSection/2/bindings/1/memberships"
            }
        },
    )
    assert page.status_code == 200


def _peer(value: Any, launcher: Launcher) -> Any:
    if isinstance(value, dict):
        return {k: _peer(v, launcher) for k, v in value.items()}
    if isinstance(value, str):
        return value.replace("PEER", launcher.peer.issuer)
    return value


@pytest.mark.parametrize("which", ["lineitems", "lineitem", "nrps"])
def test_service_urls_longer_than_the_tool_keeps_refuse_the_launch(
    app: Flask, launcher: Launcher, which: str
) -> None:
    """The tool keeps these addresses in 1,024 characters: a longer one was cut short and stored, so scores (or
    the member list) went to an address the platform never named, answered 404 and were given up as removed."""
    base = launcher.peer.issuer + "/mod/lti/services.php/2/lineitems"
    long = base + "/7/lineitem?" + "x" * 1100
    claims = {
        "lineitems": ags(long),
        "lineitem": ags(base, lineitem=long),
        "nrps": {NRPS: {"context_memberships_url": long, "service_versions": ["2.0"]}},
    }[which]
    assert_refused(app, launcher.launch(**claims), "service_url_malformed")

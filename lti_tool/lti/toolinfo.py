"""The values an LMS needs to know about the tool: shown at /lti/config and sent in dynamic registration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

TOOL_NAME = "NaMa NRW – Grundlagenkurs Kommunales Nachhaltigkeitsmanagement"
TOOL_DESCRIPTION = (
    "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement der LAG 21 NRW: Lernfortschritt und Bewertungen "
    "werden an das Moodle-Bewertungsbuch übertragen."
)
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email")


def tool_info(url: Callable[..., str]) -> dict[str, Any]:
    """`url(endpoint)` builds an absolute URL on the tool's public base."""
    launch = url("lti.launch")
    parts = urlsplit(launch)
    return {
        "name": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "lti_version": "1.3.0",
        "domain": parts.netloc,
        "base_url": f"{parts.scheme}://{parts.netloc}",
        "login_url": url("lti.login"),
        "launch_url": launch,
        "redirect_uris": [launch],
        "target_link_uri": launch,
        "deep_linking_url": launch,
        "jwks_url": url("lti.jwks"),
        "registration_url_info": url("lti.config"),
        "scopes": list(SCOPES),
        "claims": list(CLAIMS),
        "messages": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"],
        "custom_parameters": {"course": "grundlagenkurs", "module": "(optional) module id"},
    }

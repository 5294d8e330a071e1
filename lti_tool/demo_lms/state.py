"""What one demo LMS instance holds (store, keys, fault rules) and the URLs it hands out.

Endpoint paths follow Moodle where a tool sees them: the services live under /mod/lti/services.php with
Moodle's resource templates and its `?type_id=` query (gradebookservices lineitems.php/lineitem.php/
scores.php/results.php, memberships contextmemberships.php), so a tool that appends `/scores` after the
query string fails here as it would against Moodle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from itsdangerous import URLSafeTimedSerializer

from .faults import Faults
from .keys import PlatformKeys, ToolKeyCache
from .storage import Store

SERVICES = "/mod/lti/services.php"
EXTENSION = "nama_demo_lms"


@dataclass
class DemoLms:
    store: Store
    keys: PlatformKeys
    tool_keys: ToolKeyCache
    faults: Faults
    signer: URLSafeTimedSerializer

    def close(self) -> None:
        """Release the database connections (tests call this when they are done with an app)."""
        self.store.close()


def lms() -> DemoLms:
    state: DemoLms = current_app.extensions[EXTENSION]
    return state


def config(name: str) -> Any:
    return current_app.config[name]


def issuer() -> str:
    """The platform's base URL: ISSUER when configured, else the URL this request came to."""
    configured: str = current_app.config["ISSUER"]
    return (configured or request.host_url).rstrip("/")


def url(path: str) -> str:
    return issuer() + path


def lineitems_url(course_id: str, tool_id: int) -> str:
    return url(f"{SERVICES}/{course_id}/lineitems?type_id={tool_id}")


def lineitem_base(course_id: str, item_id: int) -> str:
    return url(f"{SERVICES}/{course_id}/lineitems/{item_id}/lineitem")


def lineitem_url(course_id: str, item_id: int, tool_id: int) -> str:
    return f"{lineitem_base(course_id, item_id)}?type_id={tool_id}"


def memberships_url(course_id: str, tool_id: int) -> str:
    return url(f"{SERVICES}/CourseSection/{course_id}/bindings/{tool_id}/memberships")


def token_endpoint() -> str:
    return url("/token")


def token_audiences() -> set[str]:
    """What a client assertion's aud may name: the token endpoint (either path) or the issuer."""
    return {url("/token"), url("/mod/lti/token.php"), issuer(), issuer() + "/"}

"""A small but real LTI 1.3 platform for trying the tool out and for end-to-end tests (HTTP only).

It behaves like Moodle's mod/lti where a tool can tell (see each module's docstring for the Moodle
source it follows), signs with its own key, fetches the tools' keys over HTTP, and never imports the
rest of `lti_tool`: to the tool it is just another LMS.

    app = create_demo_lms({"ISSUER": "http://localhost:5001", "TOOLS": [...]})
    with serve_in_thread(app, port=5001) as server: ...

Layout: storage (tables), demo_data (course, people, tools from config), keys (platform key, tool JWKS),
launch (login initiation, /auth, id_token), oauth (/token, bearer checks), ags, nrps, deep_linking,
registration (dynamic registration), jwks, pages (German UI), api (JSON for tests), faults, server.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
import time
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from . import state
from .errors import PageError, ServiceError, page_error_response, service_error_response
from .faults import Faults
from .keys import PlatformKeys, ToolKeyCache, ensure_platform_key
from .server import RunningServer, serve_in_thread
from .storage import Store, bump, get_setting, set_setting

BERLIN = ZoneInfo("Europe/Berlin")

__all__ = ["DEFAULTS", "RunningServer", "close_demo_lms", "create_demo_lms", "serve_in_thread"]

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    # Base URL of this platform (issuer). Empty: the URL each request came to.
    "ISSUER": "",
    # SQLAlchemy URL of the LMS's own storage. Default: in memory (gone when the process ends).
    "STATE_DB": "sqlite://",
    # Pre-registered tools: dicts with client_id, deployment_id, name, login_url, redirect_uris,
    # target_link_uri, deep_link_url, jwks_url, scopes (optional: custom, status).
    "TOOLS": [],
    # Test-only endpoints (/api/faults, /api/registration-token, DELETE /api/stats) and fault injection.
    "FAULTS_ENABLED": False,
    # Lifetime of access tokens from /token, seconds (Moodle: LTI_ACCESS_TOKEN_LIFE = 3600).
    "TOKEN_TTL": 3600,
    # launch_presentation.locale.
    "LOCALE": "de-DE",
    # Dynamically registered tools are pending until an admin activates them (Moodle); True skips that.
    "AUTO_ACTIVATE_DYNAMIC": False,
    # Third-party initiated login: "get" (redirect with a query) or "post" (auto-submitting form, as Moodle).
    "LOGIN_METHOD": "get",
    # Dynamic registration: also check grant_types and that all URLs are on the tool's domain (spec).
    "REGISTRATION_STRICT": True,
    # NRPS member roles: "moodle" (short names "Learner", as Moodle sends) or "uri" (full LIS URIs).
    "NRPS_ROLE_FORMAT": "moodle",
    # What a score timestamp is compared with for 409: "moodle" (see ags.py) or "spec" (the last timestamp).
    "SCORE_TIMESTAMPS": "moodle",
    "PLATFORM_NAME": "NaMa Demo-LMS",
    "PRODUCT_FAMILY_CODE": "moodle",
    # PEM of the platform key to use on first start (tests pass one to skip RSA key generation).
    "PLATFORM_KEY_PEM": "",
    # Outbound HTTP (tool JWKS): (connect, read) timeouts in seconds, and how long a fetched JWKS is trusted.
    "HTTP_TIMEOUT": (3.05, 10.0),
    "TOOL_JWKS_CACHE_SECONDS": 300,
}

_CHOICES = {
    "LOGIN_METHOD": ("get", "post"),
    "NRPS_ROLE_FORMAT": ("moodle", "uri"),
    "SCORE_TIMESTAMPS": ("moodle", "spec"),
}


def berlin_time(iso: str | None) -> str:
    """An AGS timestamp as people in NRW read it ("06.12.2026, 14:05:03 MEZ"); unreadable values as they came."""
    if not iso:
        return ""
    try:
        moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return format_datetime(moment, "dd.MM.yyyy, HH:mm:ss zzz", tzinfo=BERLIN, locale="de_DE")


def create_demo_lms(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a demo LMS app. Its state lives in STATE_DB; call close_demo_lms(app) when done with it."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    if config:
        unknown = set(config) - set(DEFAULTS) - {"SECRET_KEY", "TESTING", "DEBUG"}
        if unknown:
            raise ValueError(f"unknown demo LMS config keys: {sorted(unknown)}")
        app.config.update(config)
    for key, choices in _CHOICES.items():
        if app.config[key] not in choices:
            raise ValueError(f"{key} must be one of {choices}")
    app.config["ISSUER"] = str(app.config["ISSUER"]).rstrip("/")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.jinja_env.filters["berlin_time"] = berlin_time

    store = Store(app.config["STATE_DB"])
    with store.tx() as session:
        from .demo_data import seed

        platform_key = ensure_platform_key(session, app.config["PLATFORM_KEY_PEM"])
        kid, pem = platform_key.kid, platform_key.private_pem
        secret = get_setting(session, "secret")
        if secret is None:
            secret = secrets.token_urlsafe(32)
            set_setting(session, "secret", secret)
        if get_setting(session, "platform_guid") is None:
            set_setting(session, "platform_guid", secrets.token_hex(16))
        seed(session, app.config["TOOLS"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret

    def on_tool_jwks_fetch(_url: str) -> None:
        with store.tx() as session:
            bump(session, "tool_jwks_fetches")

    app.extensions[state.EXTENSION] = state.DemoLms(
        store=store,
        keys=PlatformKeys(kid, pem),
        tool_keys=ToolKeyCache(
            timeout=(float(app.config["HTTP_TIMEOUT"][0]), float(app.config["HTTP_TIMEOUT"][1])),
            ttl=float(app.config["TOOL_JWKS_CACHE_SECONDS"]),
            on_fetch=on_tool_jwks_fetch,
        ),
        faults=Faults(),
        signer=URLSafeTimedSerializer(secret),
    )

    from . import ags, api, deep_linking, jwks, launch, nrps, oauth, pages, registration

    for blueprint in (
        pages.bp,
        launch.bp,
        oauth.bp,
        jwks.bp,
        ags.bp,
        nrps.bp,
        deep_linking.bp,
        registration.bp,
    ):
        app.register_blueprint(blueprint)
    api.init_app(app)
    app.before_request(_inject_faults)
    app.register_error_handler(PageError, page_error_response)
    app.register_error_handler(ServiceError, service_error_response)
    app.register_error_handler(HTTPException, _http_error)
    return app


def close_demo_lms(app: Flask) -> None:
    """Release the app's database connections."""
    lms: state.DemoLms = app.extensions[state.EXTENSION]
    lms.close()


def _inject_faults() -> ResponseReturnValue | None:
    if not current_app.config["FAULTS_ENABLED"] or request.endpoint is None:
        return None
    view = current_app.view_functions.get(request.endpoint)
    group = getattr(view, "_fault_group", None)
    if group is None:
        return None
    decision = state.lms().faults.decide(group)
    if decision is None:
        return None
    with state.lms().store.tx() as session:
        bump(session, f"faults_injected:{group}")
    if decision.delay:
        time.sleep(decision.delay)
    if decision.status is None:
        return None
    response = jsonify(
        {
            "error": "temporarily_unavailable" if decision.status in (429, 503) else "server_error",
            "error_description": f"fault injected by the demo LMS ({group})",
            "status": decision.status,
            "reason": "Injected fault",
        }
    )
    response.status_code = decision.status
    if decision.retry_after is not None:
        response.headers["Retry-After"] = str(math.ceil(decision.retry_after))  # delay-seconds: an integer
    return response


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    """404/405/413 and friends: JSON for services and /api, a German page elsewhere."""
    path = request.path
    if path.startswith(("/api/", state.SERVICES, "/token", "/mod/lti/")):
        body = {"status": exc.code, "reason": exc.name, "error": "invalid_request"}
        return jsonify(body), exc.code or 500
    return page_error_response(PageError(f"{exc.code} {exc.name}: {exc.description}", status=exc.code or 500))

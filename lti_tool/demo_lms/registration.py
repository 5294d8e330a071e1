"""LTI Dynamic Registration 1.0, the way Moodle >= 4.1 does it.

Moodle facts relied on (moodle/moodle mod/lti):
- startltiadvregistration.php: the admin's "Tool URL" is opened with `openid_configuration` and
  `registration_token`; the token is a JWT signed with the platform key: {sub: a new 15-character client
  id, scope: "reg", iat, exp: iat + 1 hour}.
- openid-configuration.php: public, no token needed; issuer = $CFG->wwwroot; token, jwks, auth and
  registration endpoints; scopes_supported = the service scopes + openid; response_types ["id_token"];
  subject_types ["public", "pairwise"]; RS256; claims_supported; the lti-platform-configuration claim
  with product_family_code "moodle", version, messages_supported as plain strings (not the objects
  the spec shows), placements ["AddContentMenu"], variables = lti_get_capabilities() keys.
- openid-registration.php + classes/local/ltiopenid/registration_helper.php: `Authorization: Bearer`
  required (401 missing_registration_token); the token's client id already registered -> 401
  token_already_used; missing or empty response_types, initiate_login_uri, redirect_uris, client_name,
  jwks_uri, token_endpoint_auth_method or tool configuration claim -> 400 "missing required attribute X";
  domain required; target_link_uri defaults to https://domain and must have the same domain (scheme and
  leading www. stripped, port kept: LTI_URL_DOMAIN_REGEX); response_types must contain id_token;
  redirect_uris must be a list; token_endpoint_auth_method private_key_jwt; application_type, if given,
  web. `messages` with LtiDeepLinkingRequest turns content selection on (its target_link_uri is the
  deep linking URL); `scope` maps to services (any AGS scope: lineitem.readonly + result.readonly +
  score, `lineitem` adds full line item access; NRPS scope: memberships); `claims` decide whether name
  and e-mail are sent. The tool is stored pending; the answer echoes the registration with client_id
  and the tool configuration claim with deployment_id = strval(type id).
Not in Moodle: an expired or forged token is 401 here (Moodle lets the JWT exception escape), and with
REGISTRATION_STRICT (default) grant_types must contain implicit and client_credentials and every
redirect URI, the login URL and the deep linking URL must be on the tool's domain, as the spec asks.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import state
from .demo_data import AGS_SCOPES, NRPS_SCOPE, SERVICE_SCOPES, ensure_default_activity
from .faults import fault_group
from .storage import RegistrationToken, Tool, bump

bp = Blueprint("registration", __name__)

TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOKEN_TTL = 3600
MOODLE_RELEASE = "4.5 (Build: 20241007) - NaMa Demo-LMS"
DOMAIN_REGEX = re.compile(r"(?:https?://)?(?:www\.)?([^/]+)(?:/|$)", re.IGNORECASE)

# lti_get_capabilities() keys: the substitution variables Moodle offers.
VARIABLES = [
    "basic-lti-launch-request", "ContentItemSelectionRequest", "ToolProxyRegistrationRequest", "Context.id",
    "Context.title", "Context.label", "Context.id.history", "Context.sourcedId", "Context.longDescription",
    "Context.timeFrame.begin", "CourseSection.title", "CourseSection.label", "CourseSection.sourcedId",
    "CourseSection.longDescription", "CourseSection.timeFrame.begin", "ResourceLink.id", "ResourceLink.title",
    "ResourceLink.description", "User.id", "User.username", "Person.name.full", "Person.name.given",
    "Person.name.family", "Person.email.primary", "Person.sourcedId", "Person.name.middle",
    "Person.address.street1", "Person.address.locality", "Person.address.country", "Person.address.timezone",
    "Person.phone.primary", "Person.phone.mobile", "Person.webaddress", "Membership.role", "Result.sourcedId",
    "Result.autocreate", "BasicOutcome.sourcedId", "BasicOutcome.url", "Moodle.Person.userGroupIds",
]  # fmt: skip


class RegistrationError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def new_client_id() -> str:
    """registration_helper::new_clientid(): random_string(15)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(15))


def issue_registration_token(session: Session) -> tuple[str, str, float]:
    """(token, client_id, expires_at) for a new registration, recorded for the admin page."""
    client_id = new_client_id()
    now = int(time.time())
    token = state.lms().keys.sign({"sub": client_id, "scope": "reg", "iat": now, "exp": now + TOKEN_TTL})
    session.add(RegistrationToken(client_id=client_id, issued_at=now, expires_at=now + TOKEN_TTL))
    return token, client_id, float(now + TOKEN_TTL)


def registration_start_url(tool_url: str, token: str) -> str:
    params = {
        "openid_configuration": state.url("/mod/lti/openid-configuration.php"),
        "registration_token": token,
    }
    return tool_url + ("&" if "?" in tool_url else "?") + urlencode(params)


@bp.get("/mod/lti/openid-configuration.php")
@bp.get("/.well-known/openid-configuration", endpoint="openid_configuration_well_known")
@fault_group("registration")
def openid_configuration() -> Response:
    response = jsonify(
        {
            "issuer": state.issuer(),
            "token_endpoint": state.url("/token"),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": state.url("/jwks"),
            "authorization_endpoint": state.url("/auth"),
            "registration_endpoint": state.url("/mod/lti/openid-registration.php"),
            "scopes_supported": [*SERVICE_SCOPES, "openid"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIG: {
                "product_family_code": state.config("PRODUCT_FAMILY_CODE"),
                "version": MOODLE_RELEASE,
                "messages_supported": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"],
                "placements": ["AddContentMenu"],
                "variables": VARIABLES,
            },
        }
    )
    return response


@bp.post("/mod/lti/openid-registration.php")
@fault_group("registration")
def register() -> tuple[Response, int]:
    try:
        body, status = _register()
    except RegistrationError as exc:
        body = {
            "error": "invalid_client_metadata" if exc.status == 400 else "invalid_token",
            "error_description": exc.message,
        }
        status = exc.status
    return jsonify(body), status


def _register() -> tuple[dict[str, Any], int]:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise RegistrationError(401, "missing_registration_token")
    lms = state.lms()
    try:
        token = lms.keys.verify(header[7:].strip(), options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise RegistrationError(401, "registration token expired") from exc
    except jwt.PyJWTError as exc:
        raise RegistrationError(401, f"invalid registration token: {exc}") from exc
    if token.get("scope") != "reg":
        raise RegistrationError(403, "Incorrect scope")
    client_id = str(token["sub"])
    payload = request.get_json(force=True, silent=True)
    if not isinstance(payload, dict):
        raise RegistrationError(400, "the registration must be a JSON object")

    with lms.store.tx() as session:
        issued = session.get(RegistrationToken, client_id)
        if session.scalars(select(Tool).where(Tool.client_id == client_id)).first() or (
            issued and issued.used_at
        ):
            raise RegistrationError(401, "token_already_used")
        config = _registration_to_config(payload)
        auto = bool(state.config("AUTO_ACTIVATE_DYNAMIC"))
        tool = Tool(
            client_id=client_id,
            deployment_id="",
            origin="dynamic",
            status="active" if auto else "pending",
            registration=payload,
            **config,
        )
        session.add(tool)
        session.flush()
        tool.deployment_id = str(tool.id)
        if issued is not None:
            issued.used_at = time.time()
        bump(session, "registrations")
        if auto:
            ensure_default_activity(session)
        return _config_to_registration(tool), 200


def _param(payload: dict[str, Any], key: str) -> Any:
    value = payload.get(key)
    if value is None or value == "" or value == [] or value == {}:
        raise RegistrationError(400, f"missing required attribute {key}")
    return value


def moodle_domain(url: str) -> str:
    """lti_get_domain_from_url(): scheme and a leading www. stripped, port kept."""
    match = DOMAIN_REGEX.search(url)
    return match.group(1) if match else ""


def _registration_to_config(payload: dict[str, Any]) -> dict[str, Any]:
    response_types = _param(payload, "response_types")
    login_url = _param(payload, "initiate_login_uri")
    redirect_uris = _param(payload, "redirect_uris")
    client_name = _param(payload, "client_name")
    jwks_uri = _param(payload, "jwks_uri")
    auth_method = _param(payload, "token_endpoint_auth_method")
    tool_config = _param(payload, TOOL_CONFIG)
    if not isinstance(tool_config, dict):
        raise RegistrationError(400, f"{TOOL_CONFIG} must be an object")
    domain = tool_config.get("domain")
    if not domain or not isinstance(domain, str):
        raise RegistrationError(400, "missing_domain")
    target_link_uri = tool_config.get("target_link_uri") or f"https://{domain}"
    if not isinstance(target_link_uri, str):
        raise RegistrationError(400, "target_link_uri must be a string")
    domain = moodle_domain(domain)
    if domain != moodle_domain(target_link_uri):
        raise RegistrationError(400, "domain_targetlinkuri_mismatch")
    if not isinstance(response_types, list) or "id_token" not in response_types:
        raise RegistrationError(400, "invalid_response_types")
    if not isinstance(redirect_uris, list) or not all(isinstance(u, str) and u for u in redirect_uris):
        raise RegistrationError(400, "invalid_redirect_uris")
    if auth_method != "private_key_jwt":
        raise RegistrationError(400, "invalid_token_endpoint_auth_method")
    application_type = payload.get("application_type")
    if application_type and application_type != "web":
        raise RegistrationError(400, "invalid_application_type")
    for name, value in (
        ("initiate_login_uri", login_url),
        ("jwks_uri", jwks_uri),
        ("client_name", client_name),
    ):
        if not isinstance(value, str):
            raise RegistrationError(400, f"{name} must be a string")

    deep_link_url = ""
    messages = tool_config.get("messages") or []
    if not isinstance(messages, list):
        raise RegistrationError(400, "messages must be a list")
    for message in messages:
        if isinstance(message, dict) and message.get("type") == "LtiDeepLinkingRequest":
            deep_link_url = str(message.get("target_link_uri") or target_link_uri)

    if state.config("REGISTRATION_STRICT"):
        grant_types = payload.get("grant_types")
        if not isinstance(grant_types, list) or not {"implicit", "client_credentials"} <= set(grant_types):
            raise RegistrationError(
                400, "invalid_grant_types: grant_types must contain implicit and client_credentials"
            )
        for name, url in [
            ("initiate_login_uri", login_url),
            *(("redirect_uris", u) for u in redirect_uris),
        ] + ([("LtiDeepLinkingRequest target_link_uri", deep_link_url)] if deep_link_url else []):
            if not _on_domain(url, domain):
                raise RegistrationError(
                    400, f"invalid_redirect_uris: {name} {url} is not on the tool's domain {domain}"
                )

    scopes_requested = str(payload.get("scope") or "").split()
    granted: list[str] = []
    if any(s in AGS_SCOPES for s in scopes_requested):
        granted += [AGS_SCOPES[1], AGS_SCOPES[2], AGS_SCOPES[3]]  # lineitem.readonly, result.readonly, score
        if AGS_SCOPES[0] in scopes_requested:
            granted.append(AGS_SCOPES[0])
    if NRPS_SCOPE in scopes_requested:
        granted.append(NRPS_SCOPE)
    claims = tool_config.get("claims") or []
    if not isinstance(claims, list):
        raise RegistrationError(400, "claims must be a list")
    custom = tool_config.get("custom_parameters") or {}
    if not isinstance(custom, dict):
        raise RegistrationError(400, "custom_parameters must be an object")

    return {
        "name": client_name,
        "login_url": login_url,
        "redirect_uris": list(redirect_uris),
        "target_link_uri": target_link_uri,
        "deep_link_url": deep_link_url,
        "jwks_url": jwks_uri,
        "scopes": granted,
        "domain": domain,
        "custom": {str(k): str(v) for k, v in custom.items()},
        "send_name": any(c in claims for c in ("name", "given_name", "family_name")),
        "send_email": "email" in claims,
    }


def _on_domain(url: str, domain: str) -> bool:
    """The URL's host[:port] is the domain or a subdomain of it (the port must match when given)."""
    netloc = urlsplit(url).netloc.lower()
    domain = domain.lower()
    if ":" not in domain:
        netloc = netloc.split(":")[0]
    return netloc == domain or netloc.endswith("." + domain) or netloc == "www." + domain


def _config_to_registration(tool: Tool) -> dict[str, Any]:
    """registration_helper::config_to_registration()."""
    registration = tool.registration or {}
    tool_config = registration.get(TOOL_CONFIG, {}) if isinstance(registration, dict) else {}
    config: dict[str, Any] = {
        "version": "1.3.0",
        "deployment_id": tool.deployment_id,
        "target_link_uri": tool.target_link_uri,
        "domain": tool.domain,
        "description": str(tool_config.get("description") or ""),
        "claims": ["sub", "iss"]
        + (["name", "family_name", "given_name"] if tool.send_name else [])
        + (["email"] if tool.send_email else []),
    }
    if tool.deep_link_url:
        config["messages"] = [{"type": "LtiDeepLinkingRequest", "target_link_uri": tool.deep_link_url}]
    if tool.custom:
        config["custom_parameters"] = dict(tool.custom)
    return {
        "client_id": tool.client_id,
        "response_types": ["id_token"],
        "jwks_uri": tool.jwks_url,
        "initiate_login_uri": tool.login_url,
        "grant_types": ["client_credentials", "implicit"],
        "redirect_uris": list(tool.redirect_uris),
        "application_type": "web",
        "token_endpoint_auth_method": "private_key_jwt",
        "client_name": tool.name,
        "logo_uri": str(registration.get("logo_uri") or "") if isinstance(registration, dict) else "",
        "scope": " ".join(tool.scopes),
        TOOL_CONFIG: config,
    }

"""OAuth 2 client credentials with a JWT client assertion (RFC 6749 §4.4, RFC 7523), and bearer checks.

Moodle's token.php (and core_ltix oauth_helper in 4.4+) requires a POST with
application/x-www-form-urlencoded, non-empty client_assertion, client_assertion_type, grant_type and
scope; answers `unsupported_grant_type` unless client_credentials + jwt-bearer; finds the tool by the
assertion's `sub`; verifies the signature (RS256, with exp/iat/nbf via firebase JWT::decode) against the
tool's key set; grants the intersection of requested and permitted scopes (`invalid_scope` when empty);
answers {access_token, token_type "Bearer", expires_in, scope}. Moodle answers every error with 400 and
does not check iss, aud or jti. This peer is stricter, as the Security Framework asks: iss == sub ==
client_id, aud names the token endpoint (or the issuer), jti single-use, and 401 for invalid_client.

Services: Moodle's service_base::check_tool looks the bearer token up (optionally with the `type_id` of
the URL) and requires one of the resource's scopes; anything else is 401.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable

import jwt
from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from . import state
from .errors import ServiceError, oauth_error
from .faults import fault_group
from .keys import ToolKeyError
from .storage import AccessToken, Tool, purge_expired, use_once

bp = Blueprint("oauth", __name__)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LEEWAY = 60  # seconds of clock skew accepted on exp / iat / nbf


@bp.post("/token")
@bp.post("/mod/lti/token.php", endpoint="token_moodle_path")
@fault_group("token")
def token() -> Response:
    if request.mimetype != "application/x-www-form-urlencoded":
        return oauth_error(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
    form = request.form
    missing = [
        n for n in ("grant_type", "client_assertion_type", "client_assertion", "scope") if not form.get(n)
    ]
    if missing:
        return oauth_error(400, "invalid_request", f"missing: {', '.join(missing)}")
    if form["grant_type"] != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    if form["client_assertion_type"] != JWT_BEARER:
        return oauth_error(400, "invalid_request", f"client_assertion_type must be {JWT_BEARER}")
    assertion = form["client_assertion"]
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return oauth_error(400, "invalid_request", "client_assertion is not a JWT")
    client_id = unverified.get("sub")
    if not isinstance(client_id, str) or not client_id:
        return oauth_error(400, "invalid_request", "client_assertion has no sub")

    lms = state.lms()
    with lms.store.tx() as session:
        tool = session.scalars(select(Tool).where(Tool.client_id == client_id)).first()
        if tool is None:
            return oauth_error(401, "invalid_client", f"unknown client {client_id!r}")
        if tool.status != "active":
            return oauth_error(401, "invalid_client", "the tool is registered but not activated yet")
        tool_id, jwks_url, scopes = tool.id, tool.jwks_url, list(tool.scopes)

    # Verify outside the transaction: this may fetch the tool's JWKS over HTTP.
    try:
        key = lms.tool_keys.key_for(jwks_url, assertion)
        claims = jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            audience=list(state.token_audiences()),
            leeway=LEEWAY,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
        )
    except ToolKeyError as exc:
        return oauth_error(401, "invalid_client", str(exc))
    except jwt.InvalidAudienceError:
        return oauth_error(
            401, "invalid_client", f"aud must name the token endpoint {state.token_endpoint()}"
        )
    except jwt.PyJWTError as exc:
        return oauth_error(401, "invalid_client", f"client_assertion rejected: {exc}")
    if claims["iss"] != client_id:
        return oauth_error(
            401, "invalid_client", "iss and sub of the client_assertion must both be the client_id"
        )
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        return oauth_error(401, "invalid_client", "jti must be a non-empty string")

    requested = form["scope"].split()
    granted = [s for s in requested if s in scopes]
    ttl = int(state.config("TOKEN_TTL"))
    with lms.store.tx() as session:
        if not use_once(session, f"jti:{client_id}:{claims['jti']}", float(claims["exp"]) + LEEWAY):
            return oauth_error(401, "invalid_client", "jti already used (replayed client_assertion)")
        if not granted:
            return oauth_error(
                400, "invalid_scope", f"none of the requested scopes is granted to {client_id}"
            )
        access_token = secrets.token_hex(16)
        session.add(
            AccessToken(token=access_token, tool_id=tool_id, scopes=granted, expires_at=time.time() + ttl)
        )
        purge_expired(session)
    response = jsonify(
        {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": " ".join(granted)}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def require_token(any_of: Iterable[str], tool_id: int | None = None) -> int:
    """The tool id of a valid bearer token carrying one of `any_of`; ServiceError 401 otherwise.

    `tool_id` (from the URL: Moodle's `type_id` or the memberships binding) must match the token's tool.
    """
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ServiceError(
            401,
            "Unauthorized: bearer token required",
            error="invalid_token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    value = header[7:].strip()
    wanted = set(any_of)
    with state.lms().store.tx() as session:
        token_row = session.get(AccessToken, value)
        if token_row is None or token_row.expires_at <= time.time():
            raise ServiceError(
                401,
                "Unauthorized: unknown or expired access token",
                error="invalid_token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if tool_id is not None and token_row.tool_id != tool_id:
            raise ServiceError(
                401,
                "Unauthorized: the access token belongs to another tool (type_id)",
                error="invalid_token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if not wanted & set(token_row.scopes):
            needed = " ".join(sorted(wanted))
            raise ServiceError(
                401,
                f"Unauthorized: the access token lacks the scope ({' or '.join(sorted(wanted))})",
                error="insufficient_scope",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
            )
        return token_row.tool_id

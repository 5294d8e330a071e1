"""A platform endpoint for LTI Dynamic Registration that behaves like Moodle's (mod/lti, 4.x).

Modelled on moodle/moodle mod/lti/openid-configuration.php (public, issuer = wwwroot), startltiadvregistration.php
(registration token = RS256 JWT with sub = future client id, scope "reg", exp +1 h) and
classes/local/ltiopenid/registration_helper.php (registration_to_config / config_to_registration: required
attributes, id_token response type, private_key_jwt, application_type web, token single-use, tool pending).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt
from flask import Flask, jsonify, request

from ..peer import ServerThread, SigningKey

PLATFORM_CONF = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONF = "https://purl.imsglobal.org/spec/lti-tool-configuration"


class MoodleRegistrar:
    def __init__(
        self, *, issuer_override: str | None = None, path: str = "", endpoint_override: str | None = None
    ) -> None:
        self.key = SigningKey.generate()
        self.endpoint_override = endpoint_override  # a registration_endpoint elsewhere (a hostile platform)
        self.registrations = 0
        self.tools: list[dict[str, Any]] = []
        self.issuer_override = issuer_override
        self.path = path  # Moodle in a sub-directory, e.g. "/moodle"
        self.config_requests = 0
        app = Flask("moodle-registrar")
        p = path

        @app.get(p + "/mod/lti/openid-configuration.php")
        def openid_configuration() -> Any:
            self.config_requests += 1
            base = self.wwwroot
            return jsonify(
                {
                    "issuer": self.issuer_override or base,
                    "token_endpoint": base + "/mod/lti/token.php",
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
                    "jwks_uri": base + "/mod/lti/certs.php",
                    "authorization_endpoint": base + "/mod/lti/auth.php",
                    "registration_endpoint": self.endpoint_override
                    or base + "/mod/lti/openid-registration.php",
                    "scopes_supported": [
                        "openid",
                        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                    ],
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public", "pairwise"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
                    PLATFORM_CONF: {
                        "product_family_code": "moodle",
                        "version": "4.5",
                        "messages_supported": [
                            {"type": "LtiResourceLinkRequest"},
                            {"type": "LtiDeepLinkingRequest"},
                        ],
                        "variables": ["basic-lti-launch-request"],
                    },
                }
            )

        @app.post(p + "/mod/lti/openid-registration.php")
        def register() -> Any:
            self.registrations += 1
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                return "missing registration token", 401
            try:
                token = jwt.decode(auth[7:], self.key.private.public_key(), algorithms=["RS256"])
            except jwt.InvalidTokenError:
                return "invalid registration token", 401
            client_id = token["sub"]
            if any(t["client_id"] == client_id for t in self.tools):
                return "token_already_used", 401
            payload = request.get_json(silent=True)
            if not isinstance(payload, dict):
                return "invalid payload", 400
            for key in (
                "response_types",
                "initiate_login_uri",
                "redirect_uris",
                "client_name",
                "jwks_uri",
                "token_endpoint_auth_method",
                TOOL_CONF,
            ):
                if not payload.get(key):
                    return f"missing required attribute {key}", 400
            conf = payload[TOOL_CONF]
            for key in ("domain", "target_link_uri"):
                if not conf.get(key):
                    return f"missing required attribute {key}", 400
            if "id_token" not in payload["response_types"]:
                return "invalid_response_types", 400
            if not isinstance(payload["redirect_uris"], list):
                return "invalid_redirect_uris", 400
            if payload["token_endpoint_auth_method"] != "private_key_jwt":
                return "invalid_token_endpoint_auth_method", 400
            if payload.get("application_type") not in (None, "", "web"):
                return "invalid_application_type", 400
            type_id = len(self.tools) + 1
            tool = {"client_id": client_id, "type_id": type_id, "payload": payload, "state": "pending"}
            self.tools.append(tool)
            deep_linking = [m for m in conf.get("messages", []) if m.get("type") == "LtiDeepLinkingRequest"]
            return jsonify(
                {
                    "client_id": client_id,
                    "response_types": ["id_token"],
                    "jwks_uri": payload["jwks_uri"],
                    "initiate_login_uri": payload["initiate_login_uri"],
                    "grant_types": ["client_credentials", "implicit"],
                    "redirect_uris": payload["redirect_uris"],
                    "application_type": ["web"],
                    "token_endpoint_auth_method": "private_key_jwt",
                    "client_name": payload["client_name"],
                    "scope": payload.get("scope", ""),
                    TOOL_CONF: {
                        "deployment_id": str(type_id),
                        "target_link_uri": conf["target_link_uri"],
                        "domain": conf["domain"],
                        "messages": deep_linking,
                        "claims": ["sub", "iss", "name", "family_name", "email"],
                    },
                }
            )

        self.server = ServerThread(app)

    @property
    def wwwroot(self) -> str:
        return self.server.url + self.path

    @property
    def openid_configuration(self) -> str:
        return self.wwwroot + "/mod/lti/openid-configuration.php"

    def registration_token(self, *, expired: bool = False) -> str:
        now = int(time.time())
        claims = {
            "sub": secrets.token_hex(8),
            "scope": "reg",
            "iat": now,
            "exp": now + (-10 if expired else 3600),
        }
        return jwt.encode(claims, self.key.private, algorithm="RS256", headers={"kid": self.key.kid})

    def stop(self) -> None:
        self.server.stop()

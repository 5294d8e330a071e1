"""LTI Dynamic Registration 1.0, started from a one-time link the operator issued.

Moodle (≥ 4.1): the admin pastes our link into "Tool URL"; Moodle opens it with `openid_configuration` and
`registration_token`. We fetch the platform's configuration, check its issuer against that URL, POST our client
registration (pylti1p3next's `DynamicRegistration`), store platform + deployment (active: the operator vouched for
it by issuing the link) and answer with a page that posts `org.imsglobal.lti.close` to Moodle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Blueprint, render_template, request
from pylti1p3.dynamic_registration import DynamicRegistration
from pylti1p3.exception import LtiException, LtiServiceException
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import db
from ..db import insert_for
from ..errors import RegistrationError
from ..http import http_session
from ..i18n import lazy_gettext as _l
from ..models import Deployment, Platform, RegistrationLink, utcnow
from .toolinfo import CLAIMS, SCOPES, TOOL_DESCRIPTION, TOOL_NAME, tool_info

log = logging.getLogger(__name__)
bp = Blueprint("registration", __name__)

PLATFORM_CONF = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONF = "https://purl.imsglobal.org/spec/lti-tool-configuration"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(s: Session, ttl_seconds: int, note: str = "") -> tuple[str, RegistrationLink]:
    token = secrets.token_urlsafe(24)
    link = RegistrationLink(
        token_hash=_hash(token), note=note[:255], expires_at=utcnow() + dt.timedelta(seconds=ttl_seconds)
    )
    s.add(link)
    s.flush()
    return token, link


def _claim_link(token: str) -> int:
    """Mark the link used (conditional UPDATE: of two concurrent registrations exactly one proceeds)."""
    with db.session_scope(write=True) as s:
        link_id = s.execute(
            update(RegistrationLink)
            .where(
                RegistrationLink.token_hash == _hash(token),
                RegistrationLink.used_at.is_(None),
                RegistrationLink.expires_at > utcnow(),
            )
            .values(used_at=utcnow())
            .returning(RegistrationLink.id)
        ).scalar_one_or_none()
        if link_id is not None:
            return int(link_id)
        link = s.scalars(
            select(RegistrationLink).where(RegistrationLink.token_hash == _hash(token))
        ).one_or_none()
    if link is None:
        raise RegistrationError(
            _l("This registration link is not valid."),
            hint=_l("Ask the tool operator for a new registration link."),
            code="registration_link_unknown",
            status=404,
        )
    if link.used_at is not None:
        raise RegistrationError(
            _l("This registration link was already used."),
            hint=_l(
                "Each link registers one platform once. Ask the tool operator for a new registration link."
            ),
            code="registration_link_used",
            status=410,
        )
    raise RegistrationError(
        _l("This registration link has expired."),
        hint=_l("Ask the tool operator for a new registration link."),
        code="registration_link_expired",
        status=410,
    )


def _release_link(link_id: int) -> None:
    with db.session_scope(write=True) as s:
        s.execute(update(RegistrationLink).where(RegistrationLink.id == link_id).values(used_at=None))


def check_issuer(config_url: str, platform_config: Mapping[str, Any]) -> str:
    """DR 1.0 §3.5.1: the configuration URL must lie under the issuer it announces (same origin, path prefix)."""
    issuer = platform_config.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise RegistrationError(
            _l("The platform's configuration names no issuer."), code="registration_no_issuer"
        )
    cu, iu = urlsplit(config_url), urlsplit(issuer)
    same_origin = (cu.scheme, cu.hostname, cu.port) == (iu.scheme, iu.hostname, iu.port)
    prefix = iu.path.rstrip("/")
    if (
        not same_origin
        or not (cu.path == prefix or cu.path.startswith(prefix + "/"))
        or iu.scheme not in ("https", "http")
    ):
        raise RegistrationError(
            _l(
                "The platform's issuer (%(issuer)s) does not match the address its configuration came from.",
                issuer=issuer,
            ),
            hint=_l("The LMS administrator should check the site's URL settings (wwwroot)."),
            code="registration_issuer_mismatch",
            detail=f"issuer {issuer!r} vs openid_configuration {config_url!r}",
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"):
        value = platform_config.get(key)
        if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http"):
            raise RegistrationError(
                _l("The platform's configuration lacks %(key)s.", key=key),
                code="registration_config_incomplete",
            )
    if not isinstance(platform_config.get(PLATFORM_CONF), dict):
        raise RegistrationError(
            _l("The address does not describe an LTI platform."), code="registration_not_lti"
        )
    return issuer


class ToolDynamicRegistration(DynamicRegistration):
    client_name = TOOL_NAME
    description = TOOL_DESCRIPTION

    def __init__(
        self, openid_configuration: str, registration_token: str | None, info: dict[str, Any]
    ) -> None:
        self._openid_configuration = openid_configuration
        self._registration_token = registration_token
        self._info = info
        self._http = http_session()
        self.platform_config: dict[str, Any] = {}

    def get_request_session(self) -> requests.Session:
        return self._http

    def get_openid_configuration_endpoint(self) -> str:
        return self._openid_configuration

    def get_registration_token(self) -> str | None:  # type: ignore[override]  # pylti1p3 checks `is not None`
        return self._registration_token

    def get_openid_configuration(self) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self._registration_token:
            headers["Authorization"] = "Bearer " + self._registration_token
        try:
            resp = self._http.get(self._openid_configuration, headers=headers)
            resp.raise_for_status()
            conf = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise RegistrationError(
                _l("The tool could not read the platform's configuration."),
                hint=_l("Check that the learning platform is reachable from the tool server."),
                code="registration_config_unreachable",
                status=502,
                detail=str(exc),
            ) from exc
        if not isinstance(conf, dict):
            raise RegistrationError(
                _l("The address does not describe an LTI platform."), code="registration_not_lti"
            )
        check_issuer(self._openid_configuration, conf)
        self.platform_config = conf
        return conf

    def get_initiate_login_uri(self) -> str:
        return str(self._info["login_url"])

    def get_jwks_uri(self) -> str:
        return str(self._info["jwks_url"])

    def get_redirect_uris(self) -> list[str]:
        return list(self._info["redirect_uris"])

    def get_domain(self) -> str:
        return str(self._info["domain"])

    def get_target_link_uri(self) -> str:
        return str(self._info["target_link_uri"])

    def get_logo_uri(self) -> str:
        return str(self._info["base_url"]) + "/static/logo.svg"

    def get_scopes(self) -> list[str]:
        # Ask for all we use even if scopes_supported omits some: older Moodle versions list fewer scopes there
        # than they grant, and a platform simply leaves out what it does not offer.
        return list(SCOPES)

    def get_claims(self) -> list[str]:
        return list(CLAIMS)

    def get_messages(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "LtiDeepLinkingRequest",
                "target_link_uri": self._info["deep_linking_url"],
                "label": "NaMa-Grundlagenkurs: Modul auswählen",
                "label#en": "NaMa basic course: choose a module",
            },
            {"type": "LtiResourceLinkRequest", "target_link_uri": self._info["launch_url"]},
        ]

    def lti_registration_data(self) -> dict[str, Any]:
        data: dict[str, Any] = super().lti_registration_data()
        data["client_name#en"] = "NaMa NRW – basic course municipal sustainability management"
        data[TOOL_CONF]["custom_parameters"] = {"course": "grundlagenkurs"}
        return data

    def complete_registration(
        self, openid_configuration: dict[str, Any], openid_registration: dict[str, Any]
    ) -> Any:
        return openid_registration


def store_registration(
    s: Session, platform_config: Mapping[str, Any], answer: Mapping[str, Any], via: str = "dynamic"
) -> tuple[Platform, Deployment]:
    client_id = answer.get("client_id")
    tool_conf = answer.get(TOOL_CONF) if isinstance(answer.get(TOOL_CONF), dict) else {}
    deployment_id = tool_conf.get("deployment_id") if isinstance(tool_conf, dict) else None
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationError(
            _l("The platform's answer lacks a client_id."), code="registration_answer_incomplete"
        )
    if not isinstance(deployment_id, str | int) or str(deployment_id) == "":
        raise RegistrationError(
            _l("The platform's answer lacks a deployment_id."), code="registration_answer_incomplete"
        )
    issuer = str(platform_config["issuer"])
    values = {
        "name": str(platform_config.get(PLATFORM_CONF, {}).get("product_family_code", ""))[:100] or issuer,
        "auth_login_url": str(platform_config["authorization_endpoint"]),
        "auth_token_url": str(platform_config["token_endpoint"]),
        "jwks_url": str(platform_config["jwks_uri"]),
        "auth_audience": platform_config.get("authorization_server")
        if isinstance(platform_config.get("authorization_server"), str)
        else None,
        "registered_via": via,
        "platform_config": dict(platform_config),
    }
    ins = insert_for(s)(Platform).values(issuer=issuer, client_id=client_id, **values)
    s.execute(ins.on_conflict_do_update(index_elements=["issuer", "client_id"], set_=values))
    platform = s.scalars(
        select(Platform).where(Platform.issuer == issuer, Platform.client_id == client_id)
    ).one()
    dep_ins = insert_for(s)(Deployment).values(
        platform_id=platform.id, deployment_id=str(deployment_id), active=True, approved_at=utcnow()
    )
    s.execute(
        dep_ins.on_conflict_do_update(
            index_elements=["platform_id", "deployment_id"], set_={"active": True, "approved_at": utcnow()}
        )
    )
    deployment = s.scalars(
        select(Deployment).where(
            Deployment.platform_id == platform.id, Deployment.deployment_id == str(deployment_id)
        )
    ).one()
    return platform, deployment


@bp.get("/lti/register")
def register() -> tuple[str, int] | str:
    from .views import external_url

    token = request.args.get("t", "")
    openid_configuration = request.args.get("openid_configuration", "")
    registration_token = request.args.get("registration_token") or None
    if not token or len(token) > 100:
        raise RegistrationError(
            _l("This address needs a registration link from the tool operator."),
            hint=_l(
                "Ask the tool operator for a registration link (flask --app app platform registration-link)."
            ),
            code="registration_link_missing",
            status=404,
        )
    if not openid_configuration:
        return render_template("lti/register_start.html"), 200
    if urlsplit(openid_configuration).scheme not in ("https", "http") or len(openid_configuration) > 1024:
        raise RegistrationError(
            _l("The openid_configuration parameter is not a URL."), code="registration_bad_request"
        )
    link_id = _claim_link(token)
    flow = ToolDynamicRegistration(openid_configuration, registration_token, tool_info(external_url))
    try:
        answer = flow.register()
    except RegistrationError:
        _release_link(link_id)
        raise
    except (LtiServiceException, LtiException, AssertionError, requests.RequestException, ValueError) as exc:
        _release_link(link_id)
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        raise RegistrationError(
            _l("The learning platform refused the registration."),
            hint=_l(
                "Start the registration again from the learning platform; each attempt needs a fresh registration token."
            ),
            code="registration_refused",
            status=502,
            detail=f"{exc} (platform status {status}: {getattr(response, 'text', '')[:300]})",
        ) from exc
    with db.session_scope(write=True) as s:
        platform, deployment = store_registration(s, flow.platform_config, answer)
        s.execute(
            update(RegistrationLink).where(RegistrationLink.id == link_id).values(platform_id=platform.id)
        )
        names = (platform.issuer, platform.client_id, deployment.deployment_id)
    log.info("dynamic registration: issuer=%s client_id=%s deployment=%s", *names)
    return render_template(
        "lti/register_done.html", issuer=names[0], client_id=names[1], deployment_id=names[2]
    )

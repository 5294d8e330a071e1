"""LTI Dynamic Registration 1.0, started from a one-time link the operator issued.

Moodle (≥ 4.1): the admin pastes our link into "Tool URL"; Moodle opens it with `openid_configuration` and
`registration_token`. We fetch the platform's configuration, check its issuer against that URL, POST our client
registration (pylti1p3next's `DynamicRegistration` builds it; every request goes through lti_tool.http's guarded client), store platform + deployment (active: the operator vouched for
it by issuing the link) and answer with a page that posts `org.imsglobal.lti.close` to Moodle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from flask import Blueprint, current_app, render_template, request
from pylti1p3.dynamic_registration import DynamicRegistration
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import db
from ..db import insert_for
from ..errors import RegistrationError
from ..http import Allowed, GuardedClient, NoHttp, platform_json, shared_session, short_reason
from ..i18n import lazy_gettext as _l
from ..models import Deployment, Platform, RegistrationLink, utcnow
from ..urls import http_url, origin_of
from .toolconf import registrations_changed
from .toolinfo import CLAIMS, SCOPES, TOOL_DESCRIPTION, TOOL_NAME, tool_info

log = logging.getLogger(__name__)
bp = Blueprint("registration", __name__)

PLATFORM_CONF = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONF = "https://purl.imsglobal.org/spec/lti-tool-configuration"
ASK_PLATFORM = _l("Start the registration again from the learning platform.")


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


@dataclass(frozen=True)
class Claim:
    link_id: int
    attempt: int


def _claim_link(token: str, max_attempts: int) -> Claim:
    """Take the link for one attempt (conditional UPDATE: of two concurrent registrations exactly one proceeds).

    The link counts its attempts: a failed one gives it back (`_attempt_failed`) until `max_attempts` were made,
    then it stays used up, so one link cannot be used to probe addresses without end."""
    with db.session_scope(write=True) as s:
        row = s.execute(
            update(RegistrationLink)
            .where(
                RegistrationLink.token_hash == _hash(token),
                RegistrationLink.used_at.is_(None),
                RegistrationLink.expires_at > utcnow(),
                RegistrationLink.attempts < max_attempts,
            )
            .values(used_at=utcnow(), attempts=RegistrationLink.attempts + 1)
            .returning(RegistrationLink.id, RegistrationLink.attempts)
        ).one_or_none()
        if row is not None:
            return Claim(int(row[0]), int(row[1]))
        link = s.scalars(
            select(RegistrationLink).where(RegistrationLink.token_hash == _hash(token))
        ).one_or_none()
    if link is None:
        log.warning("registration link refused: unknown link")
        raise RegistrationError(
            _l("This registration link is not valid."),
            hint=_l("Ask the tool operator for a new registration link."),
            code="registration_link_unknown",
            status=404,
        )
    if link.used_at is not None and link.platform_id is None and link.attempts >= max_attempts:
        log.warning("registration link %s refused: used up by %d failed attempts", link.id, link.attempts)
        raise RegistrationError(
            _l("This registration link was used up by %(count)s failed attempts.", count=link.attempts),
            hint=_l("Ask the tool operator for a new registration link."),
            code="registration_link_used_up",
            status=410,
        )
    if link.used_at is not None:
        log.warning("registration link %s refused: already used", link.id)
        raise RegistrationError(
            _l("This registration link was already used."),
            hint=_l(
                "Each link registers one platform once. Ask the tool operator for a new registration link."
            ),
            code="registration_link_used",
            status=410,
        )
    log.warning("registration link %s refused: expired", link.id)
    raise RegistrationError(
        _l("This registration link has expired."),
        hint=_l("Ask the tool operator for a new registration link."),
        code="registration_link_expired",
        status=410,
    )


def _attempt_failed(claim: Claim, max_attempts: int, code: str) -> None:
    """Give the link back for another try, unless this was its last allowed attempt (then it stays used up)."""
    if claim.attempt < max_attempts:
        with db.session_scope(write=True) as s:
            s.execute(
                update(RegistrationLink).where(RegistrationLink.id == claim.link_id).values(used_at=None)
            )
        log.warning(
            "registration link %s: attempt %d of %d failed (%s); the link can be used again",
            claim.link_id,
            claim.attempt,
            max_attempts,
            code,
        )
    else:
        log.warning(
            "registration link %s: attempt %d of %d failed (%s); the link is used up",
            claim.link_id,
            claim.attempt,
            max_attempts,
            code,
        )


def check_issuer(config_url: str, platform_config: Mapping[str, Any]) -> str:
    """DR 1.0 §3.5.1: the configuration URL must lie under the issuer it announces (same origin, path prefix);
    the endpoints must be web addresses, and the registration endpoint (which the tool POSTs to) on the issuer's
    origin."""
    issuer = platform_config.get("issuer")
    if not isinstance(issuer, str) or not issuer or len(issuer) > 255:
        raise RegistrationError(
            _l("The platform's configuration names no issuer."), code="registration_no_issuer"
        )
    cu, iu = http_url(config_url), http_url(issuer)
    prefix = iu.path.rstrip("/") if iu is not None else ""
    if (
        cu is None
        or iu is None
        or origin_of(config_url) != origin_of(issuer)
        or not (cu.path == prefix or cu.path.startswith(prefix + "/"))
    ):
        raise RegistrationError(
            _l(
                "The platform's issuer (%(issuer)s) does not match the address its configuration came from.",
                issuer=issuer[:300],
            ),
            hint=_l("The LMS administrator should check the site's URL settings (wwwroot)."),
            code="registration_issuer_mismatch",
            detail=f"issuer {issuer[:300]!r} vs openid_configuration {config_url!r}",
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint"):
        value = platform_config.get(key)
        if http_url(value) is None or len(str(value)) > 1024:
            raise RegistrationError(
                _l("The platform's configuration lacks %(key)s.", key=key),
                code="registration_config_incomplete",
                detail=f"{key} {str(value)[:300]!r}",
            )
    if origin_of(platform_config["registration_endpoint"]) != origin_of(issuer):
        raise RegistrationError(
            _l("The platform's registration endpoint is not on the platform's own address."),
            hint=_l("The LMS administrator should check the site's URL settings (wwwroot)."),
            code="registration_endpoint_foreign",
            detail=f"registration_endpoint {str(platform_config['registration_endpoint'])[:300]!r} vs issuer {issuer!r}",
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
        self,
        openid_configuration: str,
        registration_token: str | None,
        info: dict[str, Any],
        *,
        client: GuardedClient,
    ) -> None:
        self._openid_configuration = openid_configuration
        self._registration_token = registration_token
        self._info = info
        self._client = client
        # Both requests (configuration and registration) share one deadline: Moodle's admin waits for the page.
        self._deadline = time.monotonic() + client.total_timeout
        self.platform_config: dict[str, Any] = {}

    def get_request_session(self) -> requests.Session:
        return NoHttp()

    def get_openid_configuration_endpoint(self) -> str:
        return self._openid_configuration

    def get_registration_token(self) -> str | None:  # type: ignore[override]  # pylti1p3 checks `is not None`
        return self._registration_token

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._registration_token:
            headers["Authorization"] = "Bearer " + self._registration_token
        return headers

    def get_openid_configuration(self) -> dict[str, Any]:
        allowed = Allowed.of([self._openid_configuration])
        try:
            resp = self._client.get(
                self._openid_configuration, headers=self._headers(), allowed=allowed, deadline=self._deadline
            )
            resp.raise_for_status()
            conf = platform_json(resp)
        except (requests.RequestException, ValueError) as exc:
            raise RegistrationError(
                _l("The tool could not read the platform's configuration."),
                hint=_l("Check that the learning platform is reachable from the tool server."),
                code="registration_config_unreachable",
                status=502,
                detail=f"{type(exc).__name__}: {exc}"[:300],
            ) from exc
        if not isinstance(conf, dict):
            raise RegistrationError(
                _l("The address does not describe an LTI platform."), code="registration_not_lti"
            )
        check_issuer(self._openid_configuration, conf)
        self.platform_config = conf
        return conf

    def register(self) -> dict[str, Any]:
        """GET the configuration, then POST our registration to its registration endpoint (on the issuer's
        origin, no redirect followed, answer size and total time limited)."""
        conf = self.get_openid_configuration()
        endpoint = str(conf["registration_endpoint"])
        allowed = Allowed.of([str(conf["issuer"])])
        try:
            response = self._client.post(
                endpoint,
                json=self.lti_registration_data(),
                headers=self._headers(),
                allowed=allowed,
                deadline=self._deadline,
            )
        except requests.RequestException as exc:
            raise RegistrationError(
                _l("The learning platform did not answer the registration."),
                hint=_l("Start the registration again from the learning platform."),
                code="registration_unreachable",
                status=502,
                detail=f"{type(exc).__name__}: {exc}"[:300],
            ) from exc
        if not response.ok:
            raise RegistrationError(
                _l("The learning platform refused the registration."),
                hint=_l(
                    "Start the registration again from the learning platform; each attempt needs a fresh registration token."
                ),
                code="registration_refused",
                status=502,
                detail=f"platform answered {short_reason(response)}",
            )
        try:
            answer = platform_json(response)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get(TOOL_CONF), dict):
            raise RegistrationError(
                _l("The learning platform's answer to the registration is not an LTI tool configuration."),
                hint=ASK_PLATFORM,
                code="registration_answer_invalid",
                status=502,
            )
        return answer

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


def store_registration(
    s: Session, platform_config: Mapping[str, Any], answer: Mapping[str, Any], via: str = "dynamic"
) -> tuple[Platform, Deployment]:
    client_id = answer.get("client_id")
    tool_conf = answer.get(TOOL_CONF) if isinstance(answer.get(TOOL_CONF), dict) else {}
    deployment_id = tool_conf.get("deployment_id") if isinstance(tool_conf, dict) else None
    if not isinstance(client_id, str) or not client_id or len(client_id) > 255:
        raise RegistrationError(
            _l("The platform's answer lacks a client_id."), code="registration_answer_incomplete"
        )
    # A string (Moodle: strval of its tool type id) or an integer; JSON true is neither (bool is an int in Python).
    if (
        isinstance(deployment_id, bool)
        or not isinstance(deployment_id, str | int)
        or str(deployment_id) == ""
        or len(str(deployment_id)) > 255
    ):
        raise RegistrationError(
            _l("The platform's answer lacks a deployment_id."), code="registration_answer_incomplete"
        )
    issuer = str(platform_config["issuer"])
    values = {
        "name": str(platform_config.get(PLATFORM_CONF, {}).get("product_family_code", ""))[:100] or issuer,
        "auth_login_url": str(platform_config["authorization_endpoint"]),
        "auth_token_url": str(platform_config["token_endpoint"]),
        "jwks_url": str(platform_config["jwks_uri"]),
        "auth_audience": str(platform_config.get("authorization_server"))[:1024]
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
                "Ask the tool operator for a registration link (scripts/flask platform registration-link)."
            ),
            code="registration_link_missing",
            status=404,
        )
    if not openid_configuration:
        return render_template("lti/register_start.html"), 200
    if http_url(openid_configuration) is None or len(openid_configuration) > 1024:
        log.warning("registration link: openid_configuration is not a web address; link untouched")
        raise RegistrationError(
            _l("The openid_configuration parameter is not a URL."), code="registration_bad_request"
        )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    max_attempts = max(1, int(app.config["REGISTRATION_LINK_MAX_ATTEMPTS"]))
    claim = _claim_link(token, max_attempts)
    log.info(
        "registration link %s: attempt %d of %d for %s",
        claim.link_id,
        claim.attempt,
        max_attempts,
        openid_configuration.split("?", 1)[0][:200],
    )
    flow = ToolDynamicRegistration(
        openid_configuration,
        registration_token,
        tool_info(external_url),
        client=shared_session(app),
    )
    try:
        answer = flow.register()
        with db.session_scope(write=True) as s:
            platform, deployment = store_registration(s, flow.platform_config, answer)
            s.execute(
                update(RegistrationLink)
                .where(RegistrationLink.id == claim.link_id)
                .values(platform_id=platform.id)
            )
            names = (platform.issuer, platform.client_id, deployment.deployment_id)
    except RegistrationError as exc:
        _attempt_failed(claim, max_attempts, exc.code)
        raise
    except Exception:
        _attempt_failed(claim, max_attempts, "internal_error")
        raise
    registrations_changed(app)
    log.info("registration link %s: registered issuer=%s client_id=%s deployment=%s", claim.link_id, *names)
    return render_template(
        "lti/register_done.html", issuer=names[0], client_id=names[1], deployment_id=names[2]
    )

"""A second, independent platform peer built on the PyPI package lti1p3platform (0.1.8), with a small Flask adapter.

Unlike tests/peer.py (hand-written claims), the id_tokens here are built and signed by lti1p3platform:
`OIDCLoginAbstract.prepare_preflight_url` starts the third-party login, `LTIAdvantageMessageLaunchAbstract`
validates the tool's authentication request and renders the auto-submitting launch form (set_ags / set_nrps / set_dl
add the LTI Advantage claims), and `LTI1P3PlatformConfAbstract.validate_deeplinking_resp` checks the tool's
LtiDeepLinkingResponse against the tool's JWKS.

The platform side of lti1p3platform 0.1.8 has gaps; each is closed here and marked "GAP":
1. `validate_preflight_response` checks only that nonce, state and redirect_uri are present and client_id matches. It
   does not check redirect_uri against the tool's registered launch URL (so the id_token could be posted anywhere),
   nor login_hint / lti_message_hint against what the platform started, nor response_type, scope, response_mode,
   prompt, nor that the user is signed in to the platform. -> `FlaskMessageLaunch.prepare_launch` checks them all, and
   lti_message_hint names a pending launch that is used once.
2. It keeps no state between "start launch" and the authentication request (what is launched, for whom, in which
   deployment). -> `LtiPlatformPeer.pending`, keyed by the opaque lti_message_hint.
3. `set_launch_presentation_claim` has no `locale`; `set_user_data` has no given_name / family_name.
   -> locale added to the claim it built; the names go in through `set_extra_claims`.
4. `tool_validate_and_decode` (used by validate_deeplinking_resp) decodes with verify_aud False and checks neither
   iss (must be the client_id) nor that exp, iat, nonce are present. -> `PeerPlatformConf.tool_validate_and_decode`
   verifies audience = platform issuer, issuer = client_id, requires those claims, 60 s leeway.
5. `validate_deeplinking_resp` checks neither deployment_id nor that the response answers a deep linking request the
   platform made (the `data` claim). -> `LtiPlatformPeer._deep_link_return` checks both; `data` is single-use.
   lti1p3platform types `data` as a dict; the spec says an opaque string, so the peer passes a string.
6. The packaged launch-form renderer (lti1p3platform.framework.templates) imports pkg_resources (deprecated, gone
   from recent setuptools) and renders without HTML autoescaping. -> the same launch.html is rendered from the
   package with an autoescaping Jinja environment.
7. A deep linking launch goes out as LtiDeepLinkingRequest only when the Registration has a deep link launch URL;
   without one, set_dl is silently dropped and a resource link launch goes out. -> the registration always has it.
8. The tool's key set is fetched without a refresh on an unknown kid (no key rotation); one fetch per registration.
   Not hit here (one registration per request, and the tool keeps its key during a test).
9. `get_jwks` (and the tool key set lookup) assert on a registration that only `get_registration()` sets, lazily.
   -> `PeerPlatformConf` fetches it when created.

Not served: the token endpoint (/token, registered with the tool as auth_token_url). lti1p3platform's
get_access_token could back it, but no launch calls it; AGS / NRPS URLs in the claims are likewise not served.
lti1p3platform imports typing_extensions without declaring it (jwcrypto brings it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, abort, jsonify, redirect, session
from flask import request as flask_request
from jinja2 import Environment, PackageLoader
from lti1p3platform.exceptions import (
    LtiDeepLinkingResponseException,
    LtiException,
    PreflightRequestValidationException,
)
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from werkzeug.wrappers import Response

from ..peer import ServerThread

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
LEARNER_ROLES = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
INSTRUCTOR_ROLES = [
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty",
]
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"
LEEWAY = 60

# GAP 6: lti1p3platform's own launch.html, rendered with autoescaping (and without importing pkg_resources).
_TEMPLATES = Environment(loader=PackageLoader("lti1p3platform.framework", "templates"), autoescape=True)


def generate_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


# --- the Flask adapter (lti1p3platform ships Django and FastAPI ones) ---------------------------------------


class FlaskRequest(Request):
    def build_metadata(self, request: Any) -> TRequest:
        return {
            "method": request.method,
            "form_data": request.form.to_dict(),
            "get_data": request.args.to_dict(),
            "headers": request.headers,
            "content_type": request.content_type,
            "path": request.path,
            "json": request.get_json(silent=True),
        }


class FlaskOIDCLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> Response:
        return redirect(url, code=302)


class PeerRegistration(Registration):
    """Registration.get_kid parses the private PEM on every signature (tens of ms each); the kid is fixed."""

    def __init__(self, kid: str) -> None:
        super().__init__()
        self._kid = kid

    def get_kid(self) -> str:
        return self._kid


class PeerPlatformConf(LTI1P3PlatformConfAbstract):
    """One registration (one deployment) per instance, as lti1p3platform caches the first it is given."""

    def init_platform_config(self, **kwargs: Any) -> None:
        self._peer_registration: Registration = kwargs["registration"]
        self.decoded_response: dict[str, Any] = {}
        self.set_accepted_deeplinking_types(["ltiResourceLink"])
        self.get_registration()  # GAP 9: get_jwks and get_tool_key_set assert it was fetched before

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._peer_registration

    def tool_validate_and_decode(self, jwt_token_string: str) -> dict[str, Any]:
        # GAP 4: the library decodes with verify_aud False and no issuer or required claims.
        self.validate_jwt_format(jwt_token_string)
        registration = self.get_registration()
        try:
            self.decoded_response = jwt.decode(
                jwt_token_string,
                self.get_tool_public_key(),
                algorithms=["RS256"],
                audience=registration.get_iss(),
                issuer=registration.get_client_id(),
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
            )
        except jwt.InvalidTokenError as exc:
            raise LtiDeepLinkingResponseException(f"{type(exc).__name__}: {exc}") from exc
        return self.decoded_response


@dataclass(frozen=True)
class PeerUser:
    id: str
    name: str
    given_name: str
    family_name: str
    email: str
    roles: list[str]


@dataclass(frozen=True)
class PeerResourceLink:
    id: str
    title: str
    custom: dict[str, str]


@dataclass
class PendingLaunch:
    user: PeerUser
    deployment_id: str
    link: PeerResourceLink | None  # None: deep linking request
    locale: str
    dl_data: str | None = None


class FlaskMessageLaunch(LTIAdvantageMessageLaunchAbstract):
    def __init__(
        self,
        request: FlaskRequest,
        platform_config: PeerPlatformConf,
        *,
        pending: PendingLaunch,
        peer: LtiPlatformPeer,
    ) -> None:
        super().__init__(request, platform_config)
        self.pending = pending
        self.peer = peer

    def prepare_launch(self, preflight_response: dict[str, Any]) -> None:
        # GAP 1: what the library's validate_preflight_response leaves out (OIDC Core 3.1.2.1, LTI Security 5.1.1.2).
        expected = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
        }
        for name, value in expected.items():
            if preflight_response.get(name) != value:
                raise PreflightRequestValidationException(f"{name} must be {value!r}")
        if preflight_response.get("redirect_uri") not in self.peer.tool_redirect_uris:
            raise PreflightRequestValidationException("redirect_uri is not registered for this tool")
        user = self.pending.user
        if preflight_response.get("login_hint") != user.id or session.get("user") != user.id:
            raise PreflightRequestValidationException("login_hint is not the signed-in user")

        peer, pending = self.peer, self.pending
        self.set_user_data(user.id, user.roles, full_name=user.name, email_address=user.email)
        self.set_extra_claims({"given_name": user.given_name, "family_name": user.family_name})  # GAP 3
        self.set_launch_context_claim(
            peer.context_id,
            [COURSE_OFFERING],
            context_title=peer.context_title,
            context_label=peer.context_label,
        )
        self.set_launch_presentation_claim(document_target="iframe", return_url=peer.url + "/course")
        assert self.lti_claim_launch_presentation is not None
        self.lti_claim_launch_presentation[LTI + "launch_presentation"]["locale"] = pending.locale  # GAP 3
        self.set_nrps(peer.url + f"/api/contexts/{peer.context_id}/memberships")
        if pending.link is None:
            self.set_custom_parameters_claim({"course": peer.default_course})
            self.set_ags(lineitems_url=peer.url + f"/api/contexts/{peer.context_id}/lineitems")
            pending.dl_data = secrets.token_urlsafe(16)
            peer.dl_requests[pending.dl_data] = pending
            self.set_dl(
                peer.url + "/deep-link/return",
                title="Inhalte auswählen",
                accept_types={"ltiResourceLink"},
                extra_data=pending.dl_data,  # GAP 5: the spec's data is a string
            )
        else:
            link = pending.link
            self.set_resource_link_claim(link.id, title=link.title)
            self.set_custom_parameters_claim(dict(link.custom))
            self.set_ags(
                lineitems_url=peer.url + f"/api/contexts/{peer.context_id}/lineitems",
                lineitem_url=peer.url + f"/api/contexts/{peer.context_id}/lineitems/{link.id}",
            )

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> Response:
        self.peer.id_tokens.append(launch_data["id_token"])
        return Response(_TEMPLATES.get_template("launch.html").render(launch_data), mimetype="text/html")


# --- the platform ----------------------------------------------------------------------------------------


LEARNER = PeerUser("lms-user-7", "Jonas Weber", "Jonas", "Weber", "jonas.weber@example.net", LEARNER_ROLES)
INSTRUCTOR = PeerUser("lms-user-3", "Anna Berg", "Anna", "Berg", "anna.berg@example.net", INSTRUCTOR_ROLES)


@dataclass
class LtiPlatformPeer:
    """An LMS with one course, one resource link and two users; the tool's endpoints are set with `use_tool`."""

    client_id: str = "lti1p3platform-client"
    deployment_id: str = "lti1p3platform-deployment"
    private_pem: str = field(default_factory=generate_private_pem)
    public_pem: str = ""
    kid: str = ""
    context_id: str = "kurs-42"
    context_title: str = "Nachhaltigkeit im Alltag"
    context_label: str = "NACH-42"
    default_course: str = "grundlagenkurs"
    users: dict[str, PeerUser] = field(default_factory=lambda: {u.id: u for u in (LEARNER, INSTRUCTOR)})
    links: dict[str, PeerResourceLink] = field(
        default_factory=lambda: {
            "link-9": PeerResourceLink(
                "link-9", "Grundlagen der Nachhaltigkeit", {"course": "grundlagenkurs"}
            )
        }
    )
    pending: dict[str, PendingLaunch] = field(default_factory=dict)
    dl_requests: dict[str, PendingLaunch] = field(default_factory=dict)
    id_tokens: list[str] = field(default_factory=list)
    deep_link_items: list[dict[str, Any]] = field(default_factory=list)
    tool_login_url: str = ""
    tool_launch_url: str = ""
    tool_jwks_url: str = ""
    server: ServerThread | None = None

    @property
    def url(self) -> str:
        assert self.server
        return self.server.url

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def tool_redirect_uris(self) -> list[str]:
        return [self.tool_launch_url]

    def use_tool(self, tool_url: str) -> LtiPlatformPeer:
        self.tool_login_url = tool_url + "/lti/login"
        self.tool_launch_url = tool_url + "/lti/launch"
        self.tool_jwks_url = tool_url + "/.well-known/jwks.json"
        return self

    def registration(self, deployment_id: str | None = None) -> Registration:
        return (
            PeerRegistration(self.kid)
            .set_iss(self.issuer)
            .set_client_id(self.client_id)
            .set_deployment_id(deployment_id or self.deployment_id)
            .set_oidc_login_url(self.tool_login_url)
            .set_launch_url(self.tool_launch_url)
            .set_deeplink_launch_url(self.tool_launch_url)  # GAP 7
            .set_tool_key_set_url(self.tool_jwks_url)
            .set_platform_private_key(self.private_pem)
            .set_platform_public_key(self.public_pem)
        )

    def conf(self, deployment_id: str | None = None) -> PeerPlatformConf:
        return PeerPlatformConf(registration=self.registration(deployment_id))

    # URLs a browser signed in to the platform follows to start a launch
    def launch_url(
        self, user: PeerUser, link: str = "link-9", *, deployment: str = "", locale: str = "en-GB"
    ) -> str:
        q = urlencode({"user": user.id, "link": link, "deployment": deployment, "locale": locale})
        return f"{self.url}/launch?{q}"

    def deep_link_url(self, user: PeerUser, *, locale: str = "de-DE") -> str:
        return f"{self.url}/deep-link?user={user.id}&locale={locale}"

    # --- the app -----------------------------------------------------------------------------------------

    def start(self) -> LtiPlatformPeer:
        self.public_pem = public_pem(self.private_pem)
        self.kid = str(
            Registration.get_jwk(self.public_pem)["kid"]
        )  # what get_kid derives: the JWK thumbprint
        app = Flask("lti1p3platform-peer")
        app.secret_key = secrets.token_hex(16)

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(self.conf().get_jwks())

        @app.get("/launch")
        def start_launch() -> Response:
            args = flask_request.args
            link = self.links.get(args.get("link", ""))
            if link is None:
                abort(404)
            return self._initiate(args, link)

        @app.get("/deep-link")
        def start_deep_link() -> Response:
            return self._initiate(flask_request.args, None)

        @app.route("/auth", methods=["GET", "POST"])
        def authorize() -> Response:
            return self._authorize()

        @app.post("/deep-link/return")
        def deep_link_return() -> Response:
            return self._deep_link_return()

        self.server = ServerThread(app)
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop()

    def _initiate(self, args: Any, link: PeerResourceLink | None) -> Response:
        """Sign the user in to the platform and send the browser to the tool's login (third-party initiated)."""
        user = self.users.get(args.get("user", ""))
        if user is None:
            abort(403)
        session["user"] = user.id
        hint = secrets.token_urlsafe(16)
        deployment_id = args.get("deployment") or self.deployment_id
        self.pending[hint] = PendingLaunch(user, deployment_id, link, args.get("locale") or "de-DE")
        login = FlaskOIDCLogin(FlaskRequest(flask_request), self.conf(deployment_id))
        login.set_lti_message_hint(hint=hint)
        if link is None:
            login.set_deeplinking_launch_url()
        return login.initiate_login(user.id)  # type: ignore[no-any-return]

    def _authorize(self) -> Response:
        """The OIDC authorisation endpoint: validate the tool's request, answer with the auto-submitting form."""
        params = flask_request.values
        pending = self.pending.pop(params.get("lti_message_hint", ""), None)  # GAP 2: single use
        if pending is None:
            return Response("unknown or used lti_message_hint", status=400)
        launch = FlaskMessageLaunch(
            FlaskRequest(flask_request), self.conf(pending.deployment_id), pending=pending, peer=self
        )
        try:
            return launch.lti_launch()  # type: ignore[no-any-return]
        except PreflightRequestValidationException as exc:
            return Response(f"authentication request refused: {exc}", status=400)

    def _deep_link_return(self) -> Response:
        form = flask_request.form.to_dict()
        conf = self.conf()
        try:
            items = conf.validate_deeplinking_resp(form)
        except (KeyError, LtiException, LtiDeepLinkingResponseException) as exc:
            return Response(f"deep linking response refused: {exc}", status=400)
        body = conf.decoded_response
        # GAP 5: the response must answer a request this platform made, in the same deployment.
        request_made = self.dl_requests.pop(str(body.get(DL + "data")), None)
        if request_made is None or body.get(LTI + "deployment_id") != request_made.deployment_id:
            return Response("deep linking response answers no request of this platform", status=400)
        self.deep_link_items.extend(items)
        return Response(f"{len(items)} activities added", mimetype="text/plain")

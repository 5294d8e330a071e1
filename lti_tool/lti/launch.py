"""id_token validation: pylti1p3's MessageLaunch with the gaps DESIGN.md lists closed.

Each override below fixes one thing pylti1p3 (2.0.0 and pylti1p3next 2.0.2) does not do, and has a test in
tests/lti/test_launch_refusals.py that fails without it:
- `validate_state`: a state signed by the tool, bound to the nonce, issuer, client and target (pylti1p3 needs a
  third-party cookie).
- `validate_registration`: every `aud` entry considered and `azp` checked (pylti1p3 uses aud[0], ignores azp).
- `validate_jwt_signature`: aud, iss, exp, iat verified with at most 60 s leeway (pylti1p3: verify_aud False, no leeway).
- `get_public_key`: platform JWKS cached and re-fetched once on an unknown kid (pylti1p3 never refreshes).
- `validate_nonce` + `consume_nonce`: the nonce must be the one signed into the state, and is used up in the
  launch's write transaction (pylti1p3 never consumes it).
- `validate_deployment`: unknown deployments are recorded inactive for approval; inactive ones refused.
- `validate_message`: version, target_link_uri (== login's), context and user required for what this tool serves.
Outbound HTTP goes through a session with timeouts (pylti1p3 sets none).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import jwt
import requests
from flask import current_app
from itsdangerous import BadData, SignatureExpired
from jwt.algorithms import RSAAlgorithm
from pylti1p3.cookie import CookieService
from pylti1p3.exception import LtiException
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.message_validators import get_validators
from pylti1p3.request import Request
from pylti1p3.session import SessionService
from sqlalchemy.orm import Session

from ..cache import LaunchStore
from ..db import get_db, insert_for
from ..errors import LaunchError
from ..http import Allowed, GuardedClient, NoHttp, platform_allowed
from ..i18n import lazy_gettext as _l
from ..models import Deployment
from ..urls import http_url
from .keys import signing_key
from .login import hash_browser, state_signer
from .toolconf import ActiveDeployment, DbToolConf, RegisteredPlatform, RegistrationCache, ToolRegistration

log = logging.getLogger(__name__)

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
SUPPORTED_MESSAGES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)
ALLOWED_ALGS = ("RS256", "RS384", "RS512")

ASK_ADMIN = _l(
    "Please tell your LMS administrator; the error id below helps the tool operator find the cause."
)
START_AGAIN = _l("Please start the activity again from your course.")


class FormRequest(Request):
    """pylti1p3's view of the launch POST: its form fields and cookies."""

    def __init__(self, form: Mapping[str, str], cookies: Mapping[str, str], secure: bool) -> None:
        super().__init__()
        self._form = form
        self._cookies = cookies
        self._secure = secure

    def get_param(self, key: str) -> str:
        return self._form.get(key) or ""

    def get_cookie(self, key: str) -> str | None:
        return self._cookies.get(key)

    def is_secure(self) -> bool:
        return self._secure


class _UnusedCookies(CookieService):
    """pylti1p3 requires a cookie service; the launch keeps no state in cookies it sets."""

    def get_cookie(self, name: str) -> str | None:
        return None

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        raise AssertionError("launch validation sets no cookies")


class JwksCache:
    """Per-process copy of platform key sets in front of the shared launch store (saves a query per launch),
    with one fetch lock per key-set URL so concurrent first launches make one request, not one each."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._data: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._fetch_locks: dict[str, threading.Lock] = {}

    def fetch_lock(self, url: str) -> threading.Lock:
        with self._lock:
            return self._fetch_locks.setdefault(url, threading.Lock())

    def get(self, url: str) -> dict[str, Any] | None:
        with self._lock:
            hit = self._data.get(url)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, url: str, jwks: dict[str, Any]) -> None:
        with self._lock:
            self._data[url] = (time.monotonic() + self.ttl, jwks)


def jwks_cache(app: Any) -> JwksCache:
    cache = app.extensions.get("nama_jwks_cache")
    if cache is None:
        cache = app.extensions.setdefault("nama_jwks_cache", JwksCache())
    assert isinstance(cache, JwksCache)
    return cache


def _key_for(jwks: Mapping[str, Any] | None, kid: str) -> dict[str, Any] | None:
    for key in (jwks or {}).get("keys", []):
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None


@functools.lru_cache(maxsize=64)
def _public_key(jwk: str) -> Any:
    """The RSA public key of a JWK (parsed once per process: every launch of a platform uses the same few)."""
    return RSAAlgorithm.from_jwk(jwk)


class ToolMessageLaunch(MessageLaunch[FormRequest, DbToolConf, SessionService, CookieService]):
    def __init__(
        self,
        *,
        form: Mapping[str, str],
        cookies: Mapping[str, str],
        secure: bool,
        s: Session,
        store: LaunchStore,
        http: GuardedClient,
        config: Mapping[str, Any],
        jwks: JwksCache,
        registrations: RegistrationCache | None = None,
        origin: str | None = None,
    ) -> None:
        request = FormRequest(form, cookies, secure)
        super().__init__(
            request,
            DbToolConf(s, registrations),
            session_service=SessionService(request),
            cookie_service=_UnusedCookies(),
            requests_session=NoHttp(),
        )
        self._http = http
        self._s = s
        self._store = store
        self._config = config
        self._jwks = jwks
        self._state_record: dict[str, Any] = {}
        self._origin = origin
        self._browser_bound = False  # the browser-binding cookie was sent and matched the state
        self._client_id: str | None = None
        self.platform: RegisteredPlatform | None = None
        self.deployment: ActiveDeployment | None = None

    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)

    def claims(self) -> dict[str, Any]:
        return dict(self._get_jwt_body())

    # --- the order of checks -----------------------------------------------------------------

    def validate(self) -> ToolMessageLaunch:
        if self._restored:
            raise LaunchError(_l("A stored launch cannot be validated again."), code="restored")
        self._validated = True  # _get_jwt_body() must not re-enter validate()
        try:
            self.validate_state()
            self.validate_jwt_format()
            self.validate_registration()
            self.validate_origin()
            self.validate_jwt_signature()
            self.validate_nonce()
            self.validate_deployment()
            self.validate_message()
        except LaunchError:
            self._validated = False
            raise
        except LtiException as exc:
            self._validated = False
            raise LaunchError(
                _l("The launch message is not valid: %(reason)s", reason=str(exc)),
                hint=ASK_ADMIN,
                detail=str(exc),
            ) from exc
        return self

    # --- state ----------------------------------------------------------------------------------

    def validate_state(self) -> ToolMessageLaunch:
        id_token = self._get_request_param("id_token")
        state = self._get_request_param("state")
        if not id_token or not state:
            raise LaunchError(
                _l("The launch is missing its id_token or state."),
                hint=START_AGAIN,
                code="launch_incomplete",
                detail=f"id_token present={bool(id_token)} state present={bool(state)}",
            )
        if len(state) > 1000:
            raise LaunchError(_l("The launch state is malformed."), hint=START_AGAIN, code="state_malformed")
        try:
            record = state_signer(self._config["SECRET_KEY"]).loads(
                state, max_age=int(self._config["OIDC_STATE_TTL_SECONDS"])
            )
        except SignatureExpired as exc:
            raise LaunchError(
                _l("This launch has expired or was already used."),
                hint=START_AGAIN,
                code="state_expired",
                detail=str(exc),
            ) from exc
        except BadData as exc:
            raise LaunchError(
                _l("This launch has expired or was already used."),
                hint=START_AGAIN,
                code="state_unknown",
                detail="state not issued by this tool",
            ) from exc
        if not isinstance(record, dict):
            raise LaunchError(_l("The launch state is malformed."), hint=START_AGAIN, code="state_malformed")
        browser = self._request.get_cookie("nama_lti_browser")
        if browser and hash_browser(browser) != record.get("browser"):
            raise LaunchError(
                _l("This launch was started in a different browser session."),
                hint=START_AGAIN,
                code="state_browser_mismatch",
            )
        self._browser_bound = bool(browser)
        self._state_record = record
        return self

    def validate_jwt_format(self) -> ToolMessageLaunch:
        try:
            super().validate_jwt_format()
        except LtiException as exc:
            raise LaunchError(
                _l("The id_token is not a valid JSON Web Token."),
                hint=ASK_ADMIN,
                code="token_malformed",
                detail=str(exc),
            ) from exc
        if not isinstance(self._jwt.get("body"), dict) or not isinstance(self._jwt.get("header"), dict):
            raise LaunchError(
                _l("The id_token is not a valid JSON Web Token."), hint=ASK_ADMIN, code="token_malformed"
            )
        return self

    # --- who sent it, for whom ------------------------------------------------------------------

    def get_client_id(self) -> str:
        if self._client_id is None:
            raise LaunchError(_l("The id_token names no audience."), hint=ASK_ADMIN, code="aud_missing")
        return self._client_id

    def validate_registration(self) -> ToolMessageLaunch:
        body = self._jwt["body"]
        iss = body.get("iss")
        aud = body.get("aud")
        azp = body.get("azp")
        if not isinstance(iss, str) or not iss:
            raise LaunchError(_l("The id_token names no issuer."), hint=ASK_ADMIN, code="iss_missing")
        audiences = [aud] if isinstance(aud, str) else aud
        if (
            not isinstance(audiences, list)
            or not audiences
            or not all(isinstance(a, str) and a for a in audiences)
        ):
            raise LaunchError(_l("The id_token names no audience."), hint=ASK_ADMIN, code="aud_missing")
        if azp is not None and not isinstance(azp, str):
            raise LaunchError(
                _l("The id_token's azp claim is malformed."), hint=ASK_ADMIN, code="azp_malformed"
            )
        if len(audiences) > 1 and not azp:
            raise LaunchError(
                _l("The id_token has several audiences but no authorised party (azp)."),
                hint=ASK_ADMIN,
                code="azp_missing",
            )
        client_id = azp or audiences[0]
        if client_id not in audiences:
            raise LaunchError(
                _l("The id_token's authorised party (azp) is not one of its audiences."),
                hint=ASK_ADMIN,
                code="azp_mismatch",
                detail=f"azp={azp!r} aud={audiences!r}",
            )
        record = self._state_record
        if iss != record.get("iss") or client_id != record.get("client_id"):
            raise LaunchError(
                _l("The id_token was issued for a different platform or client than the login."),
                hint=ASK_ADMIN,
                code="aud_mismatch",
                detail=f"token iss={iss!r} client={client_id!r}; login iss={record.get('iss')!r} client={record.get('client_id')!r}",
            )
        conf: DbToolConf = self._tool_config
        platform = conf.registered_platform(
            iss, client_id, detail=f"launch from unknown issuer {iss!r} client_id={client_id!r}"
        )
        self._client_id = client_id
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        self._registration = ToolRegistration(platform, lambda: signing_key(self._s, app))
        self.platform = platform
        return self

    # --- where the POST came from ------------------------------------------------------------------

    def validate_origin(self) -> ToolMessageLaunch:
        """Login CSRF: a state and id_token someone obtained for themselves, posted from another site into a
        browser that sends no cookie, would open their session there. Browsers send `Origin` with every POST;
        the platform's form (Moodle's auth.php answer) comes from the platform's origin. So: an `Origin` that is
        not one of the platform's registered origins is refused. `Origin: null` (a privacy-sensitive context: a
        sandboxed frame, or a platform page with `Referrer-Policy: no-referrer`) is accepted only when the
        browser-binding cookie came with it and matched the state (then the login began in this browser);
        anyone can produce `null`, so it alone proves nothing. No `Origin` at all (no browser does that for a
        POST today) is left to the other checks. SECURITY.md explains the choice."""
        origin = self._origin
        if origin is None:
            return self
        if origin.strip() == "null":
            if self._browser_bound:
                return self
            raise LaunchError(
                _l(
                    "Your browser did not say which site sent this launch, and it did not send the tool's cookie either, so the tool cannot tell that the launch comes from your learning platform."
                ),
                hint=_l(
                    "Open the activity in a new window. If this keeps happening, the LMS administrator should check the site's referrer policy (Moodle: Site administration › General › Security › HTTP security; the default sends the origin)."
                ),
                code="launch_origin_hidden",
                status=403,
            )
        allowed = self.allowed()
        if allowed.permits(origin.strip()):
            return self
        raise LaunchError(
            _l("This launch was sent from a page that does not belong to your learning platform."),
            hint=_l(
                "Start the activity again from your course. If you followed a link from somewhere else, close this page: someone may have tried to sign you in as another person."
            ),
            code="launch_origin_foreign",
            status=403,
            detail=f"Origin {origin[:200]!r} not in {allowed}",
        )

    # --- signature and times --------------------------------------------------------------------

    def _fetch_jwks(self, url: str) -> dict[str, Any]:
        try:
            resp = self._http.get(url, headers={"Accept": "application/json"}, allowed=self.allowed())
            resp.raise_for_status()
            jwks = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise LaunchError(
                _l("The tool could not fetch the learning platform's public keys."),
                hint=ASK_ADMIN,
                code="platform_keys_unavailable",
                status=502,
                detail=f"JWKS {url}: {exc}",
            ) from exc
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise LaunchError(
                _l("The learning platform's public key set is malformed."),
                hint=ASK_ADMIN,
                code="platform_keys_malformed",
                status=502,
            )
        self._store.set(self._jwks_key(url), jwks, int(self._config["PLATFORM_JWKS_TTL_SECONDS"]))
        self._jwks.put(url, jwks)
        return jwks

    def allowed(self) -> Allowed:
        """Where the tool may send requests for this launch's platform: its registered origins."""
        assert self.platform is not None
        p = self.platform
        return platform_allowed(
            issuer=p.issuer,
            auth_login_url=p.auth_login_url,
            auth_token_url=p.auth_token_url,
            jwks_url=p.jwks_url,
        )

    @staticmethod
    def _jwks_key(url: str) -> str:
        return "jwks:" + hashlib.sha256(url.encode()).hexdigest()

    def get_public_key(self) -> tuple[Any, str]:
        registration = self._registration
        assert registration is not None
        url = registration.get_key_set_url() or ""
        header = self._jwt["header"]
        kid, alg = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or not kid:
            raise LaunchError(
                _l("The id_token names no signing key (kid)."), hint=ASK_ADMIN, code="kid_missing"
            )
        if alg not in ALLOWED_ALGS:
            raise LaunchError(
                _l("The id_token is signed with an algorithm the tool does not accept."),
                hint=ASK_ADMIN,
                code="alg_refused",
                detail=f"alg={alg!r}",
            )
        jwks = self._jwks.get(url) or self._store.get(self._jwks_key(url))
        key = _key_for(jwks, kid)
        if key is None:
            with self._jwks.fetch_lock(url):
                # Another thread or process may have refreshed meanwhile; else re-fetch once (rate-limited per
                # key set), which is how a platform's key rotation reaches us.
                shared = self._jwks.get(url) if jwks is None else self._store.get(self._jwks_key(url))
                key = _key_for(shared, kid)
                if key is not None:
                    self._jwks.put(url, shared)  # type: ignore[arg-type]
                elif shared is None or self._store.add(
                    "jwks-refetch:" + hashlib.sha256(url.encode()).hexdigest(),
                    1,
                    int(self._config["JWKS_REFETCH_MIN_INTERVAL_SECONDS"]),
                ):
                    key = _key_for(self._fetch_jwks(url), kid)
        if key is None:
            raise LaunchError(
                _l("The id_token was signed with a key the learning platform does not publish."),
                hint=ASK_ADMIN,
                code="kid_unknown",
                detail=f"kid {kid!r} not in {url}",
            )
        key_alg = key.get("alg", alg)
        if key_alg != alg or key.get("kty") != "RSA":
            raise LaunchError(
                _l("The id_token's algorithm does not match the platform's key."),
                hint=ASK_ADMIN,
                code="alg_mismatch",
            )
        try:
            public_key = _public_key(json.dumps(key, sort_keys=True))
        except (ValueError, KeyError, TypeError) as exc:
            raise LaunchError(
                _l("The learning platform's public key set is malformed."),
                hint=ASK_ADMIN,
                code="platform_keys_malformed",
                status=502,
            ) from exc
        return public_key, alg

    def validate_jwt_signature(self) -> ToolMessageLaunch:
        key, alg = self.get_public_key()
        leeway = int(self._config["LAUNCH_LEEWAY_SECONDS"])
        token = self._get_request_param("id_token")
        try:
            jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.get_client_id(),
                issuer=self._jwt["body"]["iss"],
                leeway=min(leeway, 60),
                options={"require": ["exp", "iat", "iss", "aud", "nonce"], "verify_aud": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise self._refuse_time(
                _l("The launch has expired (the id_token is too old)."), "token_expired", exc
            ) from exc
        except jwt.ImmatureSignatureError as exc:
            raise self._refuse_time(
                _l("The id_token was issued in the future (the platform's clock is ahead)."),
                "token_not_yet_valid",
                exc,
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise LaunchError(
                _l("The id_token is not meant for this tool (audience)."),
                hint=ASK_ADMIN,
                code="aud_mismatch",
                detail=str(exc),
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise LaunchError(
                _l("The id_token's issuer is wrong."), hint=ASK_ADMIN, code="iss_mismatch", detail=str(exc)
            ) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise LaunchError(
                _l("The id_token lacks the required claim %(claim)s.", claim=exc.claim),
                hint=ASK_ADMIN,
                code="claim_missing",
                detail=str(exc),
            ) from exc
        except jwt.InvalidSignatureError as exc:
            raise LaunchError(
                _l("The id_token's signature is not valid."),
                hint=ASK_ADMIN,
                code="bad_signature",
                detail=str(exc),
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise LaunchError(
                _l("The id_token is not valid."),
                hint=ASK_ADMIN,
                code="token_invalid",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        return self

    def _refuse_time(self, message: Any, code: str, exc: Exception) -> LaunchError:
        return LaunchError(
            message,
            hint=_l(
                "Start the activity again. If this keeps happening, the clocks of the platform or the tool server may be wrong."
            ),
            code=code,
            detail=str(exc),
        )

    # --- replay ---------------------------------------------------------------------------------

    def validate_nonce(self) -> ToolMessageLaunch:
        body = self._jwt["body"]
        nonce = body.get("nonce")
        if not isinstance(nonce, str) or nonce != self._state_record.get("nonce"):
            raise LaunchError(
                _l("The launch does not belong to the login that started it (nonce)."),
                hint=START_AGAIN,
                code="nonce_mismatch",
            )
        return self

    def consume_nonce(self, s: Session) -> None:
        """Use the nonce up (so the state and id_token work once): call in the launch's write transaction.

        The marker outlives both the state (OIDC_STATE_TTL_SECONDS) and the token (exp + leeway), so a replay
        is refused for as long as either would still be accepted.
        """
        body = self._jwt["body"]
        exp_claim = body.get("exp")
        exp = exp_claim if isinstance(exp_claim, int) else int(time.time())
        leeway = int(self._config["LAUNCH_LEEWAY_SECONDS"])
        ttl = max(int(self._config["OIDC_STATE_TTL_SECONDS"]), exp - int(time.time()) + leeway) + 60
        marker = "nonce-used:" + hashlib.sha256(f"{body['iss']}\n{body['nonce']}".encode()).hexdigest()
        if not self._store.add(marker, 1, ttl, session=s):
            raise LaunchError(_l("This launch was already used."), hint=START_AGAIN, code="nonce_replayed")

    # --- deployment ------------------------------------------------------------------------------

    def validate_deployment(self) -> ToolMessageLaunch:
        body = self._jwt["body"]
        deployment_id = body.get(LTI + "deployment_id")
        if not isinstance(deployment_id, str) or not deployment_id or len(deployment_id) > 255:
            raise LaunchError(
                _l("The id_token lacks the required claim %(claim)s.", claim="deployment_id"),
                hint=ASK_ADMIN,
                code="claim_missing",
            )
        conf: DbToolConf = self._tool_config
        row = conf.deployment(body["iss"], self.get_client_id(), deployment_id)
        approve = f"scripts/flask platform approve --issuer {body['iss']} --client-id {self.get_client_id()} --deployment-id {deployment_id}"
        if row is None:
            assert self.platform is not None
            self._record_unknown_deployment(self.platform.id, deployment_id)
            raise LaunchError(
                _l(
                    "This deployment of the tool (%(id)s) is new and has not been approved yet.",
                    id=deployment_id,
                ),
                hint=_l(
                    "The tool operator can approve it in the operator area or with: %(cmd)s", cmd=approve
                ),
                code="deployment_unknown",
                status=403,
            )
        if not isinstance(row, ActiveDeployment):
            raise LaunchError(
                _l("This deployment of the tool (%(id)s) is not active.", id=deployment_id),
                hint=_l(
                    "The tool operator can approve it in the operator area or with: %(cmd)s", cmd=approve
                ),
                code="deployment_inactive",
                status=403,
            )
        self.deployment = row
        return self

    def _record_unknown_deployment(self, platform_pk: int, deployment_id: str) -> None:
        """Remember the deployment (inactive) so the operator can approve it; its own small transaction."""
        with get_db().sessionmaker() as s:
            s.connection(execution_options={"sqlite_immediate": True})
            ins = insert_for(s)(Deployment).values(
                platform_id=platform_pk, deployment_id=deployment_id, active=False
            )
            s.execute(ins.on_conflict_do_nothing(index_elements=["platform_id", "deployment_id"]))
            s.commit()
        log.warning(
            "new deployment %r of platform %s recorded inactive, awaiting approval",
            deployment_id,
            platform_pk,
        )

    # --- the message ----------------------------------------------------------------------------

    def validate_message(self) -> ToolMessageLaunch:
        body = self._jwt["body"]
        message_type = body.get(LTI + "message_type")
        if message_type not in SUPPORTED_MESSAGES:
            raise LaunchError(
                _l("The tool does not handle this kind of launch (%(type)s).", type=str(message_type)[:80]),
                hint=_l(
                    "Add the tool as an external tool activity, or use it to select content (deep linking)."
                ),
                code="message_type_unsupported",
            )
        if body.get(LTI + "version") != "1.3.0":
            raise LaunchError(
                _l(
                    "The launch uses LTI version %(version)s; the tool speaks LTI 1.3.0.",
                    version=str(body.get(LTI + "version"))[:20],
                ),
                hint=ASK_ADMIN,
                code="version_unsupported",
            )
        for validator in get_validators():  # type: ignore[no-untyped-call]
            if validator.can_validate(body):
                validator.validate(body)  # raises LtiException naming the missing claim
        target = body.get(LTI + "target_link_uri")
        if not isinstance(target, str) or not target:
            self._missing("target_link_uri")
        if target != self._state_record.get("target_link_uri"):
            raise LaunchError(
                _l("The launch goes to a different address than the login announced (target_link_uri)."),
                hint=ASK_ADMIN,
                code="target_link_uri_mismatch",
            )
        sub = body.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise LaunchError(
                _l("The launch does not say who you are (no user id). The course needs a signed-in user."),
                hint=_l("Sign in to your learning platform and start the activity again."),
                code="anonymous_launch",
            )
        roles = body.get(LTI + "roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            self._missing("roles")
        context = body.get(LTI + "context")
        if not isinstance(context, dict) or not isinstance(context.get("id"), str) or not context["id"]:
            raise LaunchError(
                _l("The launch does not come from a course (no context). Add the tool to a course."),
                hint=_l("Place the tool as an activity inside a course."),
                code="context_missing",
            )
        if message_type == RESOURCE_LINK_REQUEST:
            link = body.get(LTI + "resource_link")
            if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link["id"]:
                self._missing("resource_link.id")
        else:
            settings = body.get(DL + "deep_linking_settings")
            if not isinstance(settings, dict) or not isinstance(settings.get("deep_link_return_url"), str):
                self._missing("deep_linking_settings.deep_link_return_url")
        self.validate_service_urls()
        return self

    def validate_service_urls(self) -> None:
        """The addresses the tool will call (AGS, NRPS) or send the browser to (deep linking return) must lie on
        the platform's registered origins: a launch naming another place is refused, so the tool never sends a
        bearer token, a score or a signed response there (SECURITY.md "Outbound requests")."""
        body = self._jwt["body"]

        def part(name: str) -> dict[str, Any]:
            value = body.get(name)
            return value if isinstance(value, dict) else {}

        ags, nrps, settings = part(AGS_CLAIM), part(NRPS_CLAIM), part(DL + "deep_linking_settings")
        named = [
            ("lineitem", ags.get("lineitem"), _l("the grade service (AGS lineitem)")),
            ("lineitems", ags.get("lineitems"), _l("the grade service (AGS lineitems)")),
            (
                "context_memberships_url",
                nrps.get("context_memberships_url"),
                _l("the course member list (NRPS)"),
            ),
            (
                "deep_link_return_url",
                settings.get("deep_link_return_url"),
                _l("content selection (deep linking)"),
            ),
        ]
        allowed = self.allowed()
        for claim, url, service in named:
            if url is None:
                continue
            if http_url(url) is None:
                raise LaunchError(
                    _l(
                        "The learning platform sent an address for %(service)s that is not a valid web address.",
                        service=service,
                    ),
                    hint=ASK_ADMIN,
                    code="service_url_malformed",
                    detail=f"{claim} {str(url)[:300]!r}",
                )
            if not allowed.permits(url):
                raise LaunchError(
                    _l(
                        "The learning platform named an address for %(service)s that does not belong to the platform's registered address (%(registered)s).",
                        service=service,
                        registered=str(allowed),
                    ),
                    hint=ASK_ADMIN,
                    code="service_url_foreign",
                    detail=f"{claim} {str(url)[:300]!r} not on {allowed}",
                )

    def _missing(self, claim: str) -> None:
        raise LaunchError(
            _l("The id_token lacks the required claim %(claim)s.", claim=claim),
            hint=ASK_ADMIN,
            code="claim_missing",
        )

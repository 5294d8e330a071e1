"""Validating a launch (the id_token a platform posts to /lti/launch): `ToolMessageLaunch.validate()`.

The checks run in this order; each refusal is a `LaunchError` with its own code and page, and nothing is written
before all of them passed (except an unknown deployment, recorded inactive for the operator to approve).
docs/launch.md explains each check, and which of them close a gap pylti1p3 leaves open.

1. state (`check_state`): signed by this tool at login (lti/login.py), not older than OIDC_STATE_TTL_SECONDS,
   from the same browser when its cookie came along;
2. format: PyJWT parses the token (three base64url parts, header and body JSON objects; once: the signature
   check reads the same parts), with no text in any claim that a database cannot take (a NUL, half a UTF-16
   surrogate pair);
3. registration: `iss`, every `aud` entry and `azp`; the same platform and client as the login; registered;
4. origin: the POST comes from the platform's own origin (login CSRF);
5. signature (lti/keysets.py): the platform's key for `kid`, then signature, aud, iss, exp, iat with leeway;
   `iat` not before the login that asked for the token (claims.check_issued_at);
6. nonce: the one signed into the state (used up later, in the launch's write transaction: provision.py, or
   `consume_nonce` with Redis);
7. deployment: known and approved (an unknown one is recorded inactive for the operator);
8. message (lti/claims.py): what this tool needs to serve the launch.

pylti1p3's own `MessageLaunch` is the base (lti/pylti.py, the only module that knows its private attributes);
the tool fetches nothing through it and uses its message validators and token parsing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from flask import current_app
from itsdangerous import BadData, SignatureExpired
from pylti1p3.exception import LtiException
from sqlalchemy.orm import Session

from ..cache import LaunchStore
from ..db import insert_for, session_scope
from ..errors import LaunchError
from ..http import Allowed, GuardedClient, platform_allowed
from ..i18n import lazy_gettext as _l
from ..models import Deployment
from .claims import (
    ASK_ADMIN,
    LTI,
    MAX_ID_LENGTH,
    START_AGAIN,
    check_issued_at,
    check_message,
    check_storable,
    malformed,
)
from .keys import signing_key
from .keysets import IdToken, JwksCache, PlatformKeys, parse_id_token, verify_signature
from .login import BROWSER_COOKIE, MAX_STATE_LENGTH, hash_browser, state_signer
from .pylti import PyltiLaunch
from .toolconf import ActiveDeployment, DbToolConf, RegisteredPlatform, RegistrationCache, ToolRegistration

log = logging.getLogger(__name__)

NONCE_MARKER_MAX_SECONDS = 86400


@dataclass(frozen=True)
class NonceMarker:
    key: str
    ttl: int  # seconds


def nonce_replayed() -> LaunchError:
    return LaunchError(_l("This launch was already used."), hint=START_AGAIN, code="nonce_replayed")


class ToolMessageLaunch(PyltiLaunch):
    """One launch POST: `validate()` it, then read `claims()`, `platform` and `deployment`."""

    def __init__(
        self,
        *,
        form: Mapping[str, str],
        cookies: Mapping[str, str],
        secure: bool,
        s: Session | Callable[[], Session],
        store: LaunchStore,
        http: GuardedClient,
        config: Mapping[str, Any],
        jwks: JwksCache,
        registrations: RegistrationCache | None = None,
        origin: str | None = None,
    ) -> None:
        """`s`: the session, or where to get it when a look-up misses the registration cache."""
        super().__init__(form=form, cookies=cookies, secure=secure, conf=DbToolConf(s, registrations))
        self._http = http
        self._store = store
        self._config = config
        self._jwks = jwks
        self._origin = origin
        self.state: dict[
            str, Any
        ] = {}  # what the login signed: nonce, iss, client_id, target_link_uri, browser
        self.browser_bound = False  # the browser-binding cookie came with the POST and matched the state
        self.login_at = 0.0  # when the login signed the state (seconds since the epoch)
        self.client_id: str | None = None
        self.token: IdToken | None = None  # parsed by check_format
        self.platform: RegisteredPlatform | None = None
        self.deployment: ActiveDeployment | None = None

    def validate(self) -> ToolMessageLaunch:
        if self.restored:
            raise LaunchError(_l("A stored launch cannot be validated again."), code="restored")
        self.mark_validated(True)  # reading the claims below must not start pylti1p3's own validation
        try:
            self.check_state()
            self.check_format()
            self.check_registration()
            self.check_origin()
            self.check_signature()
            self.check_nonce()
            self.check_deployment()
            assert self.platform is not None
            check_message(
                self.body, target_link_uri=self.state.get("target_link_uri"), allowed=self.allowed()
            )
        except LaunchError:
            self.mark_validated(False)
            raise
        except LtiException as exc:
            self.mark_validated(False)
            raise LaunchError(
                _l("The launch message is not valid: %(reason)s", reason=str(exc)),
                hint=ASK_ADMIN,
                detail=str(exc),
            ) from exc
        return self

    # --- 1. state -------------------------------------------------------------------------------

    def check_state(self) -> None:
        id_token = self.param("id_token")
        state = self.param("state")
        if not id_token or not state:
            raise LaunchError(
                _l("The launch is missing its id_token or state."),
                hint=START_AGAIN,
                code="launch_incomplete",
                detail=f"id_token present={bool(id_token)} state present={bool(state)}",
            )
        if len(state) > MAX_STATE_LENGTH:
            raise LaunchError(_l("The launch state is malformed."), hint=START_AGAIN, code="state_malformed")
        try:
            record, signed_at = state_signer(self._config["SECRET_KEY"]).loads(
                state, max_age=int(self._config["OIDC_STATE_TTL_SECONDS"]), return_timestamp=True
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
        browser = self.cookie(BROWSER_COOKIE)
        if browser and hash_browser(browser) != record.get("browser"):
            raise LaunchError(
                _l("This launch was started in a different browser session."),
                hint=START_AGAIN,
                code="state_browser_mismatch",
            )
        self.browser_bound = bool(browser)
        self.state = record
        self.login_at = signed_at.timestamp()

    # --- 2. format ------------------------------------------------------------------------------

    def check_format(self) -> None:
        try:
            self.token = parse_id_token(self.param("id_token"))
        except jwt.InvalidTokenError as exc:
            raise LaunchError(
                _l("The id_token is not a valid JSON Web Token."),
                hint=ASK_ADMIN,
                code="token_malformed",
                detail=str(exc),
            ) from exc
        self.use_token(self.token.header, self.token.claims)
        check_storable(self.body)

    # --- 3. who sent it, for whom ---------------------------------------------------------------

    def get_client_id(self) -> str:  # pylti1p3's name: its services ask for it
        if self.client_id is None:
            raise LaunchError(_l("The id_token names no audience."), hint=ASK_ADMIN, code="aud_missing")
        return self.client_id

    def check_registration(self) -> None:
        body = self.body
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
        record = self.state
        if iss != record.get("iss") or client_id != record.get("client_id"):
            raise LaunchError(
                _l("The id_token was issued for a different platform or client than the login."),
                hint=ASK_ADMIN,
                code="aud_mismatch",
                detail=f"token iss={iss!r} client={client_id!r}; login iss={record.get('iss')!r} client={record.get('client_id')!r}",
            )
        platform = self.conf.registered_platform(
            iss, client_id, detail=f"launch from unknown issuer {iss!r} client_id={client_id!r}"
        )
        self.client_id = client_id
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        self.use_registration(ToolRegistration(platform, lambda: signing_key(self.conf.s, app)))
        self.platform = platform

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

    # --- 4. where the POST came from ------------------------------------------------------------

    def check_origin(self) -> None:
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
            return
        if origin.strip() == "null":
            if self.browser_bound:
                return
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
            return
        raise LaunchError(
            _l("This launch was sent from a page that does not belong to your learning platform."),
            hint=_l(
                "Start the activity again from your course. If you followed a link from somewhere else, close this page: someone may have tried to sign you in as another person."
            ),
            code="launch_origin_foreign",
            status=403,
            detail=f"Origin {origin[:200]!r} not in {allowed}",
        )

    # --- 5. signature and times -----------------------------------------------------------------

    def check_signature(self) -> None:
        assert self.platform is not None
        keys = PlatformKeys(
            self.platform.jwks_url,
            allowed=self.allowed(),
            http=self._http,
            store=self._store,
            jwks=self._jwks,
            config=self._config,
        )
        key, alg = keys.key_for(self.header)
        assert self.token is not None
        verify_signature(
            self.token,
            key,
            alg,
            audience=self.get_client_id(),
            issuer=self.body["iss"],
            leeway=int(self._config["LAUNCH_LEEWAY_SECONDS"]),
        )
        check_issued_at(self.body, login_at=self.login_at, leeway=int(self._config["LAUNCH_LEEWAY_SECONDS"]))

    # --- 6. replay ------------------------------------------------------------------------------

    def check_nonce(self) -> None:
        nonce = self.body.get("nonce")
        if not isinstance(nonce, str) or nonce != self.state.get("nonce"):
            raise LaunchError(
                _l("The launch does not belong to the login that started it (nonce)."),
                hint=START_AGAIN,
                code="nonce_mismatch",
            )

    def nonce_marker(self) -> NonceMarker:
        """What uses the nonce up (so the state and id_token work once), written in the launch's write transaction.

        The marker outlives both the state (OIDC_STATE_TTL_SECONDS) and the token (exp + leeway), so a replay
        is refused for as long as either would still be accepted.
        """
        body = self.body
        exp_claim = body.get("exp")
        exp = exp_claim if isinstance(exp_claim, int) else int(time.time())
        leeway = int(self._config["LAUNCH_LEEWAY_SECONDS"])
        # Bounded: a token may name any expiry (one in the year 33000 overflowed the store's date), and a replay
        # also needs the login's state, which expires after OIDC_STATE_TTL_SECONDS.
        token_left = min(exp - int(time.time()) + leeway, NONCE_MARKER_MAX_SECONDS)
        ttl = max(int(self._config["OIDC_STATE_TTL_SECONDS"]), token_left) + 60
        key = "nonce-used:" + hashlib.sha256(f"{body['iss']}\n{body['nonce']}".encode()).hexdigest()
        return NonceMarker(key, ttl)

    def consume_nonce(self) -> None:
        """Write the nonce's marker to a launch store outside the database (Redis); refused when it is there
        already. The table store takes it in the launch's write transaction, with its rows (provision.py)."""
        marker = self.nonce_marker()
        if not self._store.add(marker.key, 1, marker.ttl):
            raise nonce_replayed()

    # --- 7. deployment --------------------------------------------------------------------------

    def check_deployment(self) -> None:
        body = self.body
        deployment_id = body.get(LTI + "deployment_id")
        if deployment_id is None or deployment_id == "":
            raise LaunchError(
                _l("The id_token lacks the required claim %(claim)s.", claim="deployment_id"),
                hint=ASK_ADMIN,
                code="claim_missing",
            )
        if not isinstance(deployment_id, str) or len(deployment_id) > MAX_ID_LENGTH:
            malformed("deployment_id")  # true, 17 or an object (Core §5.3.3: a string)
        row = self.conf.deployment(body["iss"], self.get_client_id(), deployment_id)
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

    def _record_unknown_deployment(self, platform_pk: int, deployment_id: str) -> None:
        """Remember the deployment (inactive) so the operator can approve it; its own small transaction."""
        with session_scope(write=True) as s:
            ins = insert_for(s)(Deployment).values(
                platform_id=platform_pk, deployment_id=deployment_id, active=False
            )
            s.execute(ins.on_conflict_do_nothing(index_elements=["platform_id", "deployment_id"]))
        log.warning(
            "new deployment %r of platform %s recorded inactive, awaiting approval",
            deployment_id,
            platform_pk,
        )

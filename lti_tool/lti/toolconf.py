"""pylti1p3's tool configuration, backed by the database instead of a JSON file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..errors import LaunchError
from ..i18n import lazy_gettext as _l
from ..models import Deployment, Platform
from .keys import SigningKey, signing_key

# Built once (every login and launch runs them); only the values are bound per call.
_PLATFORM = select(Platform).where(
    Platform.issuer == bindparam("iss"), Platform.client_id == bindparam("client_id")
)
_PLATFORMS_OF_ISSUER = select(Platform).where(Platform.issuer == bindparam("iss")).limit(2)
_DEPLOYMENT = (
    select(Deployment)
    .join(Platform, Deployment.platform_id == Platform.id)
    .where(
        Platform.issuer == bindparam("iss"),
        Platform.client_id == bindparam("client_id"),
        Deployment.deployment_id == bindparam("deployment_id"),
    )
)


class ToolRegistration(Registration):
    """A pylti1p3 Registration that knows our key id directly (pylti1p3 would derive it from a PEM)."""

    def __init__(self, platform: Platform, key: SigningKey | Callable[[], SigningKey]) -> None:
        super().__init__()
        self.platform_pk = platform.id
        self._key = key
        self.set_issuer(platform.issuer)
        self.set_client_id(platform.client_id)
        self.set_auth_login_url(platform.auth_login_url)
        self.set_auth_token_url(platform.auth_token_url)
        self.set_key_set_url(platform.jwks_url)
        if platform.auth_audience:
            self.set_auth_audience(platform.auth_audience)

    def _signing_key(self) -> SigningKey:
        # Validating a launch needs no private key: load it only when something is signed.
        if not isinstance(self._key, SigningKey):
            self._key = self._key()
        return self._key

    def get_tool_private_key(self) -> str:
        return self._signing_key().private_pem

    def get_kid(self) -> str:
        return self._signing_key().kid


class DbToolConf(ToolConfAbstract[Any]):
    """Registrations are (issuer, client_id) pairs: one issuer may register the tool several times."""

    def __init__(self, s: Session) -> None:
        super().__init__()
        self.s = s

    # pylti1p3 asks these to choose between its two lookup styles; we always use (iss, client_id).
    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def platform(self, iss: str, client_id: str | None) -> Platform | None:
        if client_id:
            return self.s.scalars(_PLATFORM, {"iss": iss, "client_id": client_id}).one_or_none()
        # A login request without client_id is only unambiguous when the issuer registered us once.
        found = self.s.scalars(_PLATFORMS_OF_ISSUER, {"iss": iss}).all()
        return found[0] if len(found) == 1 else None

    def registered_platform(self, iss: str, client_id: str | None, *, detail: str) -> Platform:
        """The platform of a login or launch; refused with a clear page when it is not registered."""
        platform = self.platform(iss, client_id)
        if platform is not None:
            return platform
        registrations = self.s.scalars(
            select(Platform.client_id).where(Platform.issuer == iss).limit(2)
        ).all()
        if not registrations:
            raise LaunchError(
                _l("This learning platform is not registered with the tool (issuer %(iss)s).", iss=iss),
                hint=_l(
                    "The LMS administrator needs to register the tool first (see the registration values at /lti/config)."
                ),
                code="unknown_issuer",
                detail=detail,
            )
        if client_id:
            # The issuer is known under another client_id: typically the tool was registered in the LMS a second
            # time (each registration gets a new client_id), or one registration was deleted and made again.
            raise LaunchError(
                _l(
                    "The learning platform %(iss)s is registered with the tool, but not with the client ID %(client_id)s.",
                    iss=iss,
                    client_id=client_id,
                ),
                hint=_l(
                    "The LMS has registered the tool once more, under a new client ID. Either the tool operator adds this "
                    "registration (scripts/flask platform add --issuer … --client-id %(client_id)s …) or the LMS "
                    "administrator uses the tool registration the tool already knows.",
                    client_id=client_id,
                ),
                code="unknown_client_id",
                detail=detail,
            )
        raise LaunchError(
            _l(
                "The learning platform %(iss)s has registered the tool more than once and did not say which "
                "registration (client ID) this launch belongs to.",
                iss=iss,
            ),
            hint=_l("The LMS administrator needs to send the client ID with the login (client_id)."),
            code="client_id_missing",
            detail=detail,
        )

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> ToolRegistration | None:  # type: ignore[override]
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(  # type: ignore[override]  # pylti1p3 treats None as 'not found' too
        self, iss: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> ToolRegistration | None:
        platform = self.platform(iss, client_id)
        if platform is None:
            return None
        return ToolRegistration(platform, lambda: signing_key(self.s, current_app._get_current_object()))  # type: ignore[attr-defined]

    def deployment(self, iss: str, client_id: str, deployment_id: str) -> Deployment | None:
        return self.s.scalars(
            _DEPLOYMENT, {"iss": iss, "client_id": client_id, "deployment_id": deployment_id}
        ).one_or_none()

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        return None  # never used: check_iss_has_one_client() is always False

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        row = self.deployment(iss, client_id, deployment_id)
        if row is None or not row.active:
            return None
        return LtiDeployment().set_deployment_id(row.deployment_id)

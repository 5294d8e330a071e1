"""pylti1p3's tool configuration, backed by the database instead of a JSON file.

Every login and launch asks for its platform registration and every launch for its deployment. Both change
rarely (an operator adds a platform, approves or deactivates a deployment), so each process keeps what it read
for REGISTRATION_CACHE_SECONDS (`RegistrationCache`): a launch then reads neither. Only what was found (and, for
deployments, found active) is kept, so a new platform or a newly approved deployment works at once everywhere.
A change made in the operator area, by the CLI or by dynamic registration empties the cache of the process that
made it at once (`registrations_changed`); other processes see it within the TTL. A deactivated deployment is
refused sooner than that for everything but the launch itself: every session request checks it
(lti_tool/auth.py).

With them, for as long, each process keeps the context and resource link rows of its deployments' launches as a
launch wrote or found them (`LaunchedRow`): a launch that would write such a row unchanged leaves it alone and
takes its id (lti/provision.py), as most launches of a course do. They go only when their deployment goes (its
rows with it), which empties this cache as above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..errors import LaunchError
from ..i18n import lazy_gettext as _l
from ..localcache import LocalCache
from ..models import Deployment, Platform
from ..security import platform_origins
from .keys import SigningKey, signing_key

REGISTRATION_CACHE_SECONDS = 60.0

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


@dataclass(frozen=True, slots=True)
class RegisteredPlatform:
    """A platform registration as logins and launches read it: a copy of the row, kept between requests."""

    id: int
    issuer: str
    client_id: str
    name: str
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    auth_audience: str | None

    @classmethod
    def of(cls, row: Platform) -> RegisteredPlatform:
        return cls(
            id=row.id,
            issuer=row.issuer,
            client_id=row.client_id,
            name=row.name,
            auth_login_url=row.auth_login_url,
            auth_token_url=row.auth_token_url,
            jwks_url=row.jwks_url,
            auth_audience=row.auth_audience,
        )


@dataclass(frozen=True, slots=True)
class ActiveDeployment:
    """An approved deployment (`deployment.active`), as a launch reads it."""

    id: int
    platform_id: int
    deployment_id: str


@dataclass(frozen=True, slots=True)
class LaunchedRow:
    """A context's or resource link's row id and the values a launch last wrote into it (or found there)."""

    id: int
    values: tuple[Any, ...]


class RegistrationCache:
    """Per process: (issuer, client_id) -> platform, (issuer, client_id, deployment_id) -> active deployment and
    (kind, deployment's row id, the platform's id of the context or link) -> launched row, each for
    REGISTRATION_CACHE_SECONDS (lti_tool/localcache.py); see the module docstring."""

    def __init__(self, ttl: float = REGISTRATION_CACHE_SECONDS) -> None:
        self._platforms: LocalCache[tuple[str, str | None], RegisteredPlatform] = LocalCache(ttl, maxsize=256)
        self._deployments: LocalCache[tuple[str, str, str], ActiveDeployment] = LocalCache(ttl, maxsize=1024)
        self._rows: LocalCache[tuple[str, int, str], LaunchedRow] = LocalCache(ttl, maxsize=4096)

    def platform(self, key: tuple[str, str | None]) -> RegisteredPlatform | None:
        return self._platforms.get(key)

    def keep_platform(self, key: tuple[str, str | None], value: RegisteredPlatform) -> None:
        self._platforms.set(key, value)

    def deployment(self, key: tuple[str, str, str]) -> ActiveDeployment | None:
        return self._deployments.get(key)

    def keep_deployment(self, key: tuple[str, str, str], value: ActiveDeployment) -> None:
        self._deployments.set(key, value)

    def launched_row(self, key: tuple[str, int, str]) -> LaunchedRow | None:
        return self._rows.get(key)

    def keep_launched_row(self, key: tuple[str, int, str], value: LaunchedRow) -> None:
        self._rows.set(key, value)

    def clear(self) -> None:
        self._platforms.clear()
        self._deployments.clear()
        self._rows.clear()


def registration_cache(app: Flask) -> RegistrationCache:
    cache = app.extensions.get("nama_registrations")
    if cache is None:
        cache = app.extensions.setdefault("nama_registrations", RegistrationCache())
    assert isinstance(cache, RegistrationCache)
    return cache


def registrations_changed(app: Flask) -> None:
    """After committing a change to platforms or deployments: this process forgets what it kept of them."""
    registration_cache(app).clear()
    platform_origins(app).invalidate()


class ToolRegistration(Registration):
    """A pylti1p3 Registration that knows our key id directly (pylti1p3 would derive it from a PEM)."""

    def __init__(
        self, platform: Platform | RegisteredPlatform, key: SigningKey | Callable[[], SigningKey]
    ) -> None:
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

    def __init__(self, s: Session | Callable[[], Session], cache: RegistrationCache | None = None) -> None:
        """`s`: the session, or where to get it when a look-up misses the cache (a login that finds its platform
        there makes none)."""
        super().__init__()
        self._s = s
        self.cache = cache if cache is not None else RegistrationCache(ttl=0)

    @property
    def s(self) -> Session:
        if not isinstance(self._s, Session):
            self._s = self._s()
        return self._s

    # pylti1p3 asks these to choose between its two lookup styles; we always use (iss, client_id).
    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def platform(self, iss: str, client_id: str | None) -> RegisteredPlatform | None:
        key = (iss, client_id or None)
        kept = self.cache.platform(key)
        if kept is not None:
            return kept
        if client_id:
            row = self.s.scalars(_PLATFORM, {"iss": iss, "client_id": client_id}).one_or_none()
        else:
            # A login request without client_id is only unambiguous when the issuer registered us once.
            found = self.s.scalars(_PLATFORMS_OF_ISSUER, {"iss": iss}).all()
            row = found[0] if len(found) == 1 else None
        if row is None:
            return None
        platform = RegisteredPlatform.of(row)
        self.cache.keep_platform(key, platform)
        return platform

    def registered_platform(self, iss: str, client_id: str | None, *, detail: str) -> RegisteredPlatform:
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

    def deployment(
        self, iss: str, client_id: str, deployment_id: str
    ) -> ActiveDeployment | Deployment | None:
        """The deployment: an `ActiveDeployment` when approved, else the row (inactive) or None (unknown)."""
        key = (iss, client_id, deployment_id)
        kept = self.cache.deployment(key)
        if kept is not None:
            return kept
        row = self.s.scalars(
            _DEPLOYMENT, {"iss": iss, "client_id": client_id, "deployment_id": deployment_id}
        ).one_or_none()
        if row is None or not row.active:
            return row
        active = ActiveDeployment(id=row.id, platform_id=row.platform_id, deployment_id=row.deployment_id)
        self.cache.keep_deployment(key, active)
        return active

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        return None  # never used: check_iss_has_one_client() is always False

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        row = self.deployment(iss, client_id, deployment_id)
        if not isinstance(row, ActiveDeployment):
            return None
        return LtiDeployment().set_deployment_id(row.deployment_id)

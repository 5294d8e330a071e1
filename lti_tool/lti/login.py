"""OIDC third-party initiated login (LTI 1.3 Core §5.1.1, Security Framework §5.1.1).

The state is signed by the tool (HMAC with the secret key, itsdangerous) and carries the nonce, the login's
issuer, client, target_link_uri, a hash of the browser-binding cookie and its time; the launch checks the signature
and age, and consumes the nonce in the launch store, so each state works once. Nothing is written at login (one
write transaction per launch in all). A browser-binding cookie (Partitioned, SameSite=None) is set as well; where
the browser keeps it (first-party window, CHIPS-capable browsers) the launch must present the same value, where it
is blocked (third-party iframe in a strict browser) the signed state and the single-use nonce carry the check.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from itsdangerous import Serializer, Signer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, want_bytes
from sqlalchemy.orm import Session

from ..errors import LaunchError
from ..i18n import lazy_gettext as _l
from ..urls import Origin, origin_of
from .toolconf import DbToolConf, RegistrationCache

BROWSER_COOKIE = "nama_lti_browser"
_FIXED_QUERY = "scope=openid&response_type=id_token&response_mode=form_post&prompt=none"


def hash_browser(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class StateSerializer(URLSafeTimedSerializer):
    """itsdangerous's URL-safe timed serializer of the OIDC state, without two costs per call that buy nothing here:
    its signer is made once (itsdangerous makes a new one for every dumps and loads), and the state is not tried
    with zlib (a nonce, a hash and three short URLs: compression saved ~15 % of the state's length and cost more
    than the rest of signing it). `loads` still reads a compressed state."""

    @functools.cached_property
    def _signer(self) -> Signer:
        return super().make_signer()

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is None or want_bytes(salt) == self.salt:
            return self._signer
        return super().make_signer(salt)

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


@functools.lru_cache(maxsize=4)
def state_signer(secret_key: str) -> StateSerializer:
    """Made once per secret (every login signs a state, every launch checks one); it keeps no state of its own."""
    return StateSerializer(secret_key, salt="nama-lti oidc state")


@functools.lru_cache(maxsize=4)
def _tool_origin(launch_url: str) -> Origin | None:
    return origin_of(launch_url)


@dataclass(frozen=True)
class LoginRedirect:
    url: str
    browser_id: str
    new_browser_id: bool


def begin_login(
    params: Mapping[str, str],
    *,
    s: Session | Callable[[], Session],
    secret_key: str,
    launch_url: str,
    browser_id: str | None,
    registrations: RegistrationCache | None = None,
) -> LoginRedirect:
    """Check a login initiation request and build the redirect to the platform's authorisation endpoint."""
    iss = (params.get("iss") or "").strip()
    login_hint = params.get("login_hint") or ""
    target_link_uri = params.get("target_link_uri") or ""
    client_id = params.get("client_id") or None
    missing = [
        n
        for n, v in (("iss", iss), ("login_hint", login_hint), ("target_link_uri", target_link_uri))
        if not v
    ]
    if missing:
        raise LaunchError(
            _l(
                "The login request from the learning platform is incomplete (missing: %(names)s).",
                names=", ".join(missing),
            ),
            hint=_l(
                "Start the activity again from your course. If this keeps happening, the LMS administrator should check the tool's login URL."
            ),
            code="login_incomplete",
        )
    garbled = sorted(k for k, v in params.items() if "\x00" in v)
    if garbled:  # no platform sends a NUL, and PostgreSQL refuses one in a query (a 500)
        raise LaunchError(
            _l("The launch message is not valid: %(reason)s", reason="NUL in " + ", ".join(garbled)[:200]),
            hint=_l(
                "Start the activity again from your course. If this keeps happening, the LMS administrator should check the tool's login URL."
            ),
            code="login_malformed",
        )
    target = origin_of(target_link_uri)
    if target is None:
        raise LaunchError(
            _l("The activity's address (target_link_uri) is not a valid web address."),
            hint=_l("The LMS administrator should set the tool URL to the launch URL shown at /lti/config."),
            code="target_link_uri_malformed",
            detail=f"target_link_uri {target_link_uri[:300]!r}",
        )
    conf = DbToolConf(s, registrations)
    platform = conf.registered_platform(
        iss, client_id, detail=f"login from unknown issuer {iss!r} client_id={client_id!r}"
    )
    # The platform may only send people to this tool: target_link_uri must be ours (no open redirect).
    if target != _tool_origin(launch_url):
        raise LaunchError(
            _l("The activity points to an address that does not belong to this tool."),
            hint=_l("The LMS administrator should set the tool URL to the launch URL shown at /lti/config."),
            code="foreign_target_link_uri",
            detail=f"target_link_uri {target_link_uri!r} not on {launch_url!r}",
        )

    nonce = secrets.token_urlsafe(32)
    new_browser = not browser_id
    browser = browser_id or secrets.token_urlsafe(24)
    state = state_signer(secret_key).dumps(
        {
            "nonce": nonce,
            "iss": platform.issuer,
            "client_id": platform.client_id,
            "target_link_uri": target_link_uri,
            "browser": hash_browser(browser),
        }
    )
    # The authentication request (OIDC Core §3.1.2.1 with LTI's fixed values), in this order; the state and the
    # nonce need no quoting (URL-safe base64 and dots: urlencode would leave them as they are).
    query = (
        f"{_FIXED_QUERY}&client_id={quote_plus(platform.client_id)}&redirect_uri={quote_plus(launch_url)}"
        f"&login_hint={quote_plus(login_hint)}&state={state}&nonce={nonce}"
    )
    if params.get("lti_message_hint"):
        query += "&lti_message_hint=" + quote_plus(params["lti_message_hint"])
    sep = "&" if "?" in platform.auth_login_url else "?"
    return LoginRedirect(
        url=platform.auth_login_url + sep + query, browser_id=browser, new_browser_id=new_browser
    )

"""What the id_token must say for this tool to serve it (LTI 1.3 Core §5.3, Deep Linking §4.4), checked after its
signature: message type and version, pylti1p3's message validators, the target the login announced, a user, a
course (context), a resource link or deep-linking settings, and service addresses on the platform's own origins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from pylti1p3.exception import LtiException
from pylti1p3.message_validators import get_validators

from ..errors import LaunchError
from ..http import Allowed, holds_unstorable_text
from ..i18n import lazy_gettext as _l
from ..urls import http_url

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
SUPPORTED_MESSAGES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)
SERVICE_URL_MAX = 1024  # the columns that keep the AGS and NRPS addresses (context, resource link, line item)
MAX_ID_LENGTH = (
    255  # Core §5.3: deployment_id, sub, resource_link.id, context.id "MUST NOT exceed 255 ASCII characters"
)

ASK_ADMIN = _l(
    "Please tell your LMS administrator; the error id below helps the tool operator find the cause."
)
START_AGAIN = _l("Please start the activity again from your course.")


def check_message(body: Mapping[str, Any], *, target_link_uri: Any, allowed: Allowed) -> None:
    """Refuse (LaunchError) a message this tool does not serve; `target_link_uri` is the one signed into the
    login's state, `allowed` the platform's registered origins."""
    message_type = body.get(LTI + "message_type")
    if message_type not in SUPPORTED_MESSAGES:
        raise LaunchError(
            _l("The tool does not handle this kind of launch (%(type)s).", type=str(message_type)[:80]),
            hint=_l("Add the tool as an external tool activity, or use it to select content (deep linking)."),
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
    # pylti1p3's validator of the message type calls .get() on this claim when it is there.
    validated = "resource_link" if message_type == RESOURCE_LINK_REQUEST else "deep_linking_settings"
    name = (LTI if message_type == RESOURCE_LINK_REQUEST else DL) + validated
    if name in body and not isinstance(body[name], dict):
        _missing(validated)
    try:
        for validator in get_validators():  # type: ignore[no-untyped-call]
            if validator.can_validate(body):
                validator.validate(body)  # raises LtiException naming the missing claim
    except LtiException as exc:
        raise LaunchError(
            _l("The launch message is not valid: %(reason)s", reason=str(exc)),
            hint=ASK_ADMIN,
            detail=str(exc),
        ) from exc
    target = body.get(LTI + "target_link_uri")
    if not isinstance(target, str) or not target:
        _missing("target_link_uri")
    if target != target_link_uri:
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
    if roles is None:
        _missing("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        malformed("roles")
    context = body.get(LTI + "context")
    if not isinstance(context, dict) or not isinstance(context.get("id"), str) or not context["id"]:
        raise LaunchError(
            _l("The launch does not come from a course (no context). Add the tool to a course."),
            hint=_l("Place the tool as an activity inside a course."),
            code="context_missing",
        )
    if len(context["id"]) > MAX_ID_LENGTH:  # stored as it is: cut short, two courses could become one
        malformed("context.id")
    if message_type == RESOURCE_LINK_REQUEST:
        link = body.get(LTI + "resource_link")
        if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link["id"]:
            _missing("resource_link.id")
        if len(link["id"]) > MAX_ID_LENGTH:
            malformed("resource_link.id")
    else:
        settings = body.get(DL + "deep_linking_settings")
        if not isinstance(settings, dict) or not isinstance(settings.get("deep_link_return_url"), str):
            _missing("deep_linking_settings.deep_link_return_url")
    check_service_claims(body)
    check_service_urls(body, allowed)


def check_service_claims(body: Mapping[str, Any]) -> None:
    """The grade and member-list claims, when sent, are objects (AGS §3.1, NRPS §3.6.1) and AGS `scope` an array of
    strings: a claim of another type was ignored, so grades or the member list silently went nowhere."""
    for name, label in ((AGS_CLAIM, "lti-ags endpoint"), (NRPS_CLAIM, "lti-nrps namesroleservice")):
        if name in body and not isinstance(body[name], dict):
            malformed(label)
    scope = body.get(AGS_CLAIM, {}).get("scope")
    if scope is not None and (not isinstance(scope, list) or not all(isinstance(x, str) for x in scope)):
        malformed("lti-ags endpoint.scope")


def check_service_urls(body: Mapping[str, Any], allowed: Allowed) -> None:
    """The addresses the tool will call (AGS, NRPS) or send the browser to (deep linking return) must lie on
    the platform's registered origins: a launch naming another place is refused, so the tool never sends a
    bearer token, a score or a signed response there (SECURITY.md "Outbound requests")."""

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
    for claim, url, service in named:
        if url is None:
            continue
        # Kept in columns of SERVICE_URL_MAX characters (the return address only in the session's claims): a
        # longer one was cut short, and scores or the member list went to an address the platform never named.
        too_long = claim != "deep_link_return_url" and isinstance(url, str) and len(url) > SERVICE_URL_MAX
        if too_long or http_url(url) is None:
            raise LaunchError(
                _l(
                    "The learning platform sent an address for %(service)s that is not a valid web address.",
                    service=service,
                ),
                hint=ASK_ADMIN,
                code="service_url_malformed",
                detail=f"{claim} {str(url)[:300]!r}" + (f" ({len(url)} characters)" if too_long else ""),
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


def check_issued_at(body: Mapping[str, Any], *, login_at: float, leeway: int) -> None:
    """`iat` and `exp` are JSON numbers (RFC 7519 NumericDate; PyJWT also takes "123" or true), and the token was
    not issued before the login that asked for it, give or take `leeway` (at most 60 s) of clock skew: its
    nonce comes from that login, so an honest platform cannot have signed it earlier (Moodle signs with iat =
    now, exp = now + 60). Security Framework §5.1.3 step 8 lets the tool reject an `iat` too far from now; with
    the state's OIDC_STATE_TTL_SECONDS this bounds a token's age to that time plus the leeway."""
    times = [body.get("iat"), body.get("exp")]
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
        raise LaunchError(
            _l("The launch message is not valid: %(reason)s", reason="iat and exp must be numbers"),
            hint=ASK_ADMIN,
            code="claim_malformed",
        )
    if body["iat"] < login_at - min(leeway, 60):
        raise LaunchError(
            _l("The id_token was issued before the login that asked for it (its iat is too old)."),
            hint=_l(
                "Start the activity again. If this keeps happening, the clocks of the platform or the tool server may be wrong."
            ),
            code="token_issued_before_login",
            detail=f"iat={body['iat']!r}, login at {login_at:.0f}, leeway {leeway} s",
        )


def check_storable(body: Mapping[str, Any]) -> None:
    """Refuse claims with text no database stores (a NUL, half a surrogate pair: `holds_unstorable_text`);
    checked before any claim reaches a query."""
    if holds_unstorable_text(body):
        raise LaunchError(
            _l(
                "The launch message is not valid: %(reason)s",
                reason="a claim holds a NUL character or half a UTF-16 surrogate pair",
            ),
            hint=ASK_ADMIN,
            code="claim_malformed",
        )


def malformed(claim: str) -> NoReturn:
    """A claim that is there but not of the JSON type LTI 1.3 gives it (a string, an array of strings, an object),
    or an id longer than the 255 characters Core §5.3 allows."""
    raise LaunchError(
        _l("The id_token's claim %(claim)s is malformed (not of the type LTI 1.3 requires).", claim=claim),
        hint=ASK_ADMIN,
        code="claim_malformed",
    )


def _missing(claim: str) -> NoReturn:
    raise LaunchError(
        _l("The id_token lacks the required claim %(claim)s.", claim=claim),
        hint=ASK_ADMIN,
        code="claim_missing",
    )

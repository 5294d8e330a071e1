"""LTI 1.3 launches: third-party initiated login, the OIDC authorization endpoint, the id_token.

Moodle facts relied on (moodle/moodle mod/lti):
- auth.php: scope must be `openid`, response_type `id_token`, response_mode `form_post`, prompt empty or
  `none`; client_id must be the tool's; redirect_uri must be one of the registered redirection URIs
  exactly (`in_array` on the trimmed lines); login_hint must be the current user id; the message hint
  is single-use (`unset($SESSION->lti_message_hint)`); the answer is an auto-submitting form POSTing
  `id_token` and `state` to redirect_uri.
- oauth_helper::sign_jwt (locallib lti_sign_jwt before 4.4): iat = now, exp = now + 60, aud = client_id
  (a string), deployment_id = strval(type id), roles mapped to full LIS v2 URIs and sorted.
- lti_get_ims_role: Instructor or Learner; site admins lose Learner and gain the institution and system
  Administrator roles.
- lti_initiate_login sends the login initiation as an auto-submitting POST form (LOGIN_METHOD "post");
  the default here is a GET redirect with the same parameters.
- Deep linking request (lti_build_content_item_selection_request): only instructors (manageactivities),
  accept_types ltiResourceLink, no resource_link claim.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

import itsdangerous
from flask import Blueprint, redirect, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from . import state
from .demo_data import AGS_SCOPES, NRPS_SCOPE
from .errors import PageError
from .faults import fault_group
from .storage import Activity, Course, DeepLinkingRequest, LineItem, Tool, User, bump, get_setting, use_once

bp = Blueprint("launch", __name__)

LTI = "https://purl.imsglobal.org/spec/lti"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
ADMIN_ROLES = [
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
]
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"
MESSAGE_HINT_TTL = 600
ID_TOKEN_TTL = 60
MOODLE_VERSION = "2024100700"  # $CFG->version of Moodle 4.5, sent as tool_platform.version
HINT_SALT = "lti_message_hint"


# --- role names ---------------------------------------------------------------------------------


def short_roles(user: User) -> list[str]:
    """Moodle's lti_get_ims_role(): what NRPS sends (short context role names)."""
    roles = [user.course_role] if user.course_role else []
    if user.is_admin:
        roles = [r for r in roles if r != "Learner"] or ["Instructor"]
        roles.append("http://purl.imsglobal.org/vocab/lis/v2/person#Administrator")
    return roles


def uri_roles(user: User) -> list[str]:
    """What the id_token sends: full LIS v2 URIs, sorted like sign_jwt does."""
    roles = [MEMBERSHIP + user.course_role] if user.course_role else []
    if user.is_admin:
        roles = [r for r in roles if not r.endswith("#Learner")] or [MEMBERSHIP + "Instructor"]
        roles += ADMIN_ROLES
    return sorted(roles)


def can_deep_link(user: User) -> bool:
    return user.is_admin or user.course_role == "Instructor"


# --- login initiation ---------------------------------------------------------------------------


def login_request(
    session: Session, tool: Tool, user: User, *, activity: Activity | None, target: str
) -> tuple[str, dict[str, str]]:
    """The tool's login URL and the third-party initiated login parameters."""
    hint = state.lms().signer.dumps(
        {
            "k": "rl" if activity else "dl",
            "a": activity.id if activity else None,
            "t": tool.id,
            "u": user.id,
            "p": target,
            "n": secrets.token_urlsafe(8),
        },
        salt=HINT_SALT,
    )
    target_link_uri = _target_link_uri(tool, activity)
    params = {
        "iss": state.issuer(),
        "login_hint": user.id,
        "target_link_uri": target_link_uri,
        "lti_message_hint": hint,
        "client_id": tool.client_id,
        "lti_deployment_id": tool.deployment_id,
    }
    return tool.login_url, params


def _target_link_uri(tool: Tool, activity: Activity | None) -> str:
    if activity is None:
        return tool.deep_link_url or tool.target_link_uri
    return activity.url or tool.target_link_uri


def login_response(login_url: str, params: dict[str, str]) -> Response:
    """Send the browser to the tool's login URL: GET redirect or auto-submitting POST form (Moodle)."""
    if state.config("LOGIN_METHOD") == "post":
        page = render_template("autopost.html", action=login_url, fields=params, button="Weiter")
        return Response(page, mimetype="text/html")
    return redirect(_with_query(login_url, params), code=302)


def login_src(login_url: str, params: dict[str, str], start_url: str) -> str:
    """What an iframe or link points at to start a launch."""
    if state.config("LOGIN_METHOD") == "post":
        return start_url
    return _with_query(login_url, params)


def _with_query(base: str, params: dict[str, str]) -> str:
    return base + ("&" if "?" in base else "?") + urlencode(params)


def _launch_target(raw: str | None) -> str:
    return "window" if raw == "window" else "iframe"


def _user(session: Session, user_id: str | None, *, for_launch: bool = True) -> User:
    user = session.get(User, user_id or "")
    if user is None:
        raise PageError(f"Unbekannte Person (user={user_id!r}).", status=404)
    if for_launch and not user.launchable:
        raise PageError(f"{user.full_name} öffnet das Tool in dieser Demo nicht.", status=400)
    return user


def _activity(session: Session, activity_id: int) -> tuple[Activity, Tool]:
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise PageError(f"Unbekannte Aktivität {activity_id}.", status=404)
    tool = session.get(Tool, activity.tool_id)
    if tool is None or tool.status != "active":
        raise PageError("Das Tool dieser Aktivität ist nicht aktiviert.", status=400)
    return activity, tool


def _dl_tool(session: Session, tool_id: str | None) -> Tool:
    tool = session.get(Tool, int(tool_id)) if tool_id and tool_id.isdigit() else None
    if tool is None or tool.status != "active":
        raise PageError("Unbekanntes oder nicht aktiviertes Tool.", status=404)
    if not tool.deep_link_url:
        raise PageError(f"{tool.name} bietet keine Inhaltsauswahl (Deep Linking) an.", status=400)
    return tool


@bp.get("/launch/<int:activity_id>")
def launch_page(activity_id: int) -> str:
    """The LMS page around a launch: the tool in an iframe (Moodle's default "embed") or a window link."""
    with state.lms().store.tx() as session:
        activity, tool = _activity(session, activity_id)
        user = _user(session, request.args.get("user"))
        course = session.get(Course, activity.course_id)
        embed = activity.presentation != "window"
        start = f"/launch/{activity.id}/start?user={user.id}"
        iframe_src = ""
        if embed:
            login_url, params = login_request(session, tool, user, activity=activity, target="iframe")
            iframe_src = login_src(login_url, params, start + "&target=iframe")
        return render_template(
            "launch.html",
            course=course,
            activity=activity,
            tool=tool,
            user=user,
            role_label=_role_label(user),
            iframe_src=iframe_src,
            window_href=start + "&target=window",
            title=activity.title,
        )


@bp.get("/launch/<int:activity_id>/start")
def launch_start(activity_id: int) -> Response:
    with state.lms().store.tx() as session:
        activity, tool = _activity(session, activity_id)
        user = _user(session, request.args.get("user"))
        target = _launch_target(request.args.get("target"))
        login_url, params = login_request(session, tool, user, activity=activity, target=target)
    return login_response(login_url, params)


@bp.get("/deep-linking")
def deep_linking_page() -> str:
    with state.lms().store.tx() as session:
        tool = _dl_tool(session, request.args.get("tool"))
        user = _user(session, request.args.get("user"))
        if not can_deep_link(user):
            raise PageError("Nur Lehrende können Inhalte auswählen.", status=403)
        course = session.get(Course, _course_id(session))
        start = f"/deep-linking/start?tool={tool.id}&user={user.id}"
        login_url, params = login_request(session, tool, user, activity=None, target="iframe")
        return render_template(
            "deep_linking.html",
            course=course,
            tool=tool,
            user=user,
            iframe_src=login_src(login_url, params, start + "&target=iframe"),
            window_href=start + "&target=window",
            title="Inhalte auswählen",
        )


@bp.get("/deep-linking/start")
def deep_linking_start() -> Response:
    with state.lms().store.tx() as session:
        tool = _dl_tool(session, request.args.get("tool"))
        user = _user(session, request.args.get("user"))
        if not can_deep_link(user):
            raise PageError("Nur Lehrende können Inhalte auswählen.", status=403)
        target = _launch_target(request.args.get("target"))
        login_url, params = login_request(session, tool, user, activity=None, target=target)
    return login_response(login_url, params)


@bp.get("/launch/return")
def launch_return() -> str:
    """launch_presentation.return_url: shows lti_msg / lti_errormsg like Moodle's return.php."""
    return render_template(
        "return.html",
        msg=request.args.get("lti_msg", ""),
        errormsg=request.args.get("lti_errormsg", ""),
        title="Zurück aus dem Tool",
    )


def _course_id(session: Session) -> str:
    course = session.scalars(select(Course).order_by(Course.id)).first()
    if course is None:
        raise PageError("Kein Kurs vorhanden.", status=500)
    return course.id


def _role_label(user: User) -> str:
    if user.is_admin:
        return "Administrator/in"
    return "Lehrende/r" if user.course_role == "Instructor" else "Lernende/r"


# --- OIDC authorization endpoint ------------------------------------------------------------------


@bp.route("/auth", methods=["GET", "POST"])
@bp.route("/mod/lti/auth.php", methods=["GET", "POST"], endpoint="auth_moodle_path")
@fault_group("auth")
def auth() -> str:
    try:
        with state.lms().store.tx() as session:
            action, fields, message_type = _authorize(session, request.values)
            bump(session, "launches")
            bump(session, f"launches:{message_type}")
    except PageError:
        with state.lms().store.tx() as session:
            bump(session, "auth_errors")
        raise
    return render_template("autopost.html", action=action, fields=fields, button="Weiter zum Tool")


def _authorize(session: Session, values: Any) -> tuple[str, dict[str, str], str]:
    """(redirect_uri, form fields, message type) or PageError naming the problem."""

    def need(name: str) -> str:
        value = values.get(name, "")
        if not value:
            raise PageError(f"Parameter {name} fehlt.", code="invalid_request")
        return str(value)

    client_id = need("client_id")
    tool = session.scalars(select(Tool).where(Tool.client_id == client_id)).first()
    if tool is None:
        raise PageError(f"Unbekannte client_id {client_id!r}.", code="unauthorized_client")
    if tool.status != "active":
        raise PageError(f"Das Tool {tool.name} ist noch nicht aktiviert.", code="unauthorized_client")
    redirect_uri = need("redirect_uri")
    if redirect_uri not in tool.redirect_uris:
        raise PageError(
            f"redirect_uri {redirect_uri!r} ist für dieses Tool nicht registriert "
            f"(registriert: {', '.join(tool.redirect_uris)}).",
            code="invalid_request",
        )
    if need("scope") != "openid":
        raise PageError("scope muss 'openid' sein.", code="invalid_scope")
    if need("response_type") != "id_token":
        raise PageError("response_type muss 'id_token' sein.", code="unsupported_response_type")
    if values.get("response_mode", "") != "form_post":
        raise PageError("response_mode muss 'form_post' sein.", code="invalid_request")
    prompt = values.get("prompt", "")
    if prompt and prompt != "none":
        raise PageError("prompt muss 'none' sein.", code="invalid_request")
    nonce = need("nonce")
    state_value = need("state")
    login_hint = need("login_hint")
    hint_raw = need("lti_message_hint")
    try:
        hint = state.lms().signer.loads(hint_raw, salt=HINT_SALT, max_age=MESSAGE_HINT_TTL)
    except itsdangerous.SignatureExpired as exc:
        raise PageError("lti_message_hint ist abgelaufen; bitte den Start wiederholen.") from exc
    except itsdangerous.BadData as exc:
        raise PageError("lti_message_hint ist ungültig.") from exc
    if hint.get("t") != tool.id:
        raise PageError("lti_message_hint gehört zu einem anderen Tool.", code="invalid_request")
    if hint.get("u") != login_hint:
        raise PageError("login_hint passt nicht zum Start (anderer Benutzer).", code="access_denied")
    user = session.get(User, login_hint)
    if user is None:
        raise PageError(f"Unbekannter login_hint {login_hint!r}.", code="access_denied")
    if not use_once(session, f"hint:{hint.get('n')}", time.time() + MESSAGE_HINT_TTL):
        raise PageError("lti_message_hint wurde schon verwendet; bitte den Start wiederholen.")

    if hint.get("k") == "rl":
        activity = session.get(Activity, hint.get("a"))
        if activity is None or activity.tool_id != tool.id:
            raise PageError("Die Aktivität gibt es nicht (mehr).", status=404)
        claims = resource_link_claims(session, tool, user, activity, target=hint.get("p", "iframe"))
    else:
        if not can_deep_link(user):
            raise PageError("Nur Lehrende können Inhalte auswählen.", status=403, code="access_denied")
        claims = deep_linking_claims(session, tool, user, target=hint.get("p", "iframe"))
    claims["nonce"] = nonce
    fields = {"id_token": state.lms().keys.sign(claims), "state": state_value}
    return redirect_uri, fields, claims[f"{LTI}/claim/message_type"]


def base_claims(
    session: Session, tool: Tool, user: User, message_type: str, target_link_uri: str
) -> dict[str, Any]:
    now = int(time.time())
    course = session.get(Course, _course_id(session))
    assert course is not None
    claims: dict[str, Any] = {
        "iss": state.issuer(),
        "aud": tool.client_id,
        "sub": user.id,
        "iat": now,
        "exp": now + ID_TOKEN_TTL,
        f"{LTI}/claim/message_type": message_type,
        f"{LTI}/claim/version": "1.3.0",
        f"{LTI}/claim/deployment_id": tool.deployment_id,
        f"{LTI}/claim/target_link_uri": target_link_uri,
        f"{LTI}/claim/roles": uri_roles(user),
        f"{LTI}/claim/context": {
            "id": course.id,
            "label": course.label,
            "title": course.title,
            "type": [COURSE_OFFERING],
        },
        f"{LTI}/claim/tool_platform": {
            "guid": get_setting(session, "platform_guid") or "",
            "name": state.config("PLATFORM_NAME"),
            "description": state.config("PLATFORM_NAME"),
            "product_family_code": state.config("PRODUCT_FAMILY_CODE"),
            "version": MOODLE_VERSION,
        },
        f"{LTI}/claim/ext": {"user_username": user.username, "lms": "moodle-2"},
    }
    # Moodle sends name and e-mail only where the tool's privacy settings allow it (dynamic registration:
    # the `claims` the tool asked for, registration_helper::registration_to_config).
    if tool.send_name:
        claims.update(name=user.full_name, given_name=user.given_name, family_name=user.family_name)
    if tool.send_email:
        claims["email"] = user.email
    ags_scopes = [s for s in _moodle_ags_scope_order() if s in tool.scopes]
    if ags_scopes:
        claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = {
            "scope": ags_scopes,
            "lineitems": state.lineitems_url(course.id, tool.id),
        }
    if NRPS_SCOPE in tool.scopes:
        claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = {
            "context_memberships_url": state.memberships_url(course.id, tool.id),
            "service_versions": ["1.0", "2.0"],  # memberships.php get_launch_parameters
        }
    return claims


def _moodle_ags_scope_order() -> list[str]:
    read, result, score, full = AGS_SCOPES[1], AGS_SCOPES[2], AGS_SCOPES[3], AGS_SCOPES[0]
    return [read, result, score, full]


def resource_link_claims(
    session: Session, tool: Tool, user: User, activity: Activity, *, target: str
) -> dict[str, Any]:
    claims = base_claims(session, tool, user, "LtiResourceLinkRequest", _target_link_uri(tool, activity))
    claims[f"{LTI}/claim/resource_link"] = {
        "id": str(activity.id),
        "title": activity.title,
        "description": activity.description,
    }
    claims[f"{LTI}/claim/launch_presentation"] = {
        "locale": state.config("LOCALE"),
        "document_target": target,
        "return_url": state.url(f"/launch/return?course={activity.course_id}&instanceid={activity.id}"),
    }
    claims[f"{LTI}/claim/custom"] = moodle_custom({**activity.custom, **tool.custom})
    endpoint = claims.get("https://purl.imsglobal.org/spec/lti-ags/claim/endpoint")
    if endpoint is not None:
        items = session.scalars(
            select(LineItem).where(LineItem.activity_id == activity.id, LineItem.tool_id == tool.id)
        ).all()
        # gradebookservices::get_launch_parameters: the lineitem URL only when exactly one item is bound.
        if len(items) == 1:
            endpoint["lineitem"] = state.lineitem_url(items[0].course_id, items[0].id, tool.id)
    return claims


def deep_linking_claims(session: Session, tool: Tool, user: User, *, target: str) -> dict[str, Any]:
    claims = base_claims(session, tool, user, "LtiDeepLinkingRequest", _target_link_uri(tool, None))
    data = secrets.token_urlsafe(24)
    session.add(DeepLinkingRequest(data=data, tool_id=tool.id, user_id=user.id))
    claims[f"{LTI}/claim/launch_presentation"] = {
        "locale": state.config("LOCALE"),
        "document_target": target,
    }
    claims[f"{LTI}/claim/custom"] = moodle_custom(dict(tool.custom))
    claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
        "deep_link_return_url": state.url("/deep-linking/return"),
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe", "window"],
        "accept_multiple": True,
        "accept_lineitem": True,
        "auto_create": True,
        "title": tool.name,
        "text": "",
        "data": data,
    }
    return claims


def moodle_custom(custom: dict[str, Any]) -> dict[str, str]:
    """lti_split_custom_parameters: keys lower-cased with non-alphanumerics as `_`; LTI 1.3 keeps both."""
    out: dict[str, str] = {}
    for key, value in custom.items():
        mapped = "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in key.strip().lower())
        out[mapped] = str(value)
        if mapped != key:
            out[key] = str(value)
    return out

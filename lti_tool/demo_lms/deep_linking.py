"""Deep Linking 2.0 response: verify the tool's JWT and create the activities it returns.

Moodle (contentitem_return.php + oauth_helper::convert_from_jwt / locallib lti_convert_from_jwt) reads
the `JWT` form field, requires iss == the tool's client_id and a valid signature against the tool's key
set (exp checked by JWT::decode), and does not check aud, nonce, deployment_id or `data` (Moodle sends
no data). This peer checks what Deep Linking 2.0 §4.2 asks of a platform: aud = the platform issuer,
message_type, version, deployment_id, the echoed data, a fresh iat/exp and a single-use nonce.
Items become activities like lti_tool_configuration_from_content_item does: title, url, custom, text as
description, iframe/window placement, and a line item (scoreMaximum, label, resourceId, tag) bound to the
new link when the item has lineItem.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from flask import Blueprint, render_template, request
from sqlalchemy import select

from . import state
from .errors import PageError
from .faults import fault_group
from .keys import ToolKeyError
from .launch import LTI
from .storage import Activity, Course, DeepLinkingRequest, LineItem, Tool, bump, use_once

log = logging.getLogger(__name__)

bp = Blueprint("deep_linking", __name__)

DL = "https://purl.imsglobal.org/spec/lti-dl/claim"
LEEWAY = 60
MAX_AGE = 3600  # a deep linking response must come within an hour of its request


@bp.post("/deep-linking/return")
@fault_group("deep_linking")
def deep_linking_return() -> str:
    token = request.form.get("JWT", "")
    if not token:
        raise PageError("Das Formularfeld JWT fehlt.")
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise PageError("JWT ist kein gültiges JSON Web Token.") from exc
    client_id = unverified.get("iss")
    lms = state.lms()
    with lms.store.tx() as session:
        tool = session.scalars(select(Tool).where(Tool.client_id == str(client_id))).first()
        if tool is None or tool.status != "active":
            raise PageError(f"iss {client_id!r} ist nicht die client_id eines aktiven Tools.")
        tool_id, jwks_url, deployment_id = tool.id, tool.jwks_url, tool.deployment_id

    try:
        key = lms.tool_keys.key_for(jwks_url, token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=state.issuer(),
            leeway=LEEWAY,
            options={"require": ["iss", "aud", "exp", "iat", "nonce"]},
        )
    except ToolKeyError as exc:
        raise PageError(f"Signatur nicht prüfbar: {exc}") from exc
    except jwt.InvalidAudienceError as exc:
        raise PageError(f"aud muss die Plattform {state.issuer()} nennen.") from exc
    except jwt.PyJWTError as exc:
        raise PageError(f"Deep-Linking-Antwort abgelehnt: {exc}") from exc

    if claims.get(f"{LTI}/claim/message_type") != "LtiDeepLinkingResponse":
        raise PageError("message_type muss LtiDeepLinkingResponse sein.")
    if claims.get(f"{LTI}/claim/version") != "1.3.0":
        raise PageError("version muss 1.3.0 sein.")
    if claims.get(f"{LTI}/claim/deployment_id") != deployment_id:
        raise PageError(f"deployment_id muss {deployment_id!r} sein.")
    items = claims.get(f"{DL}/content_items", [])
    if not isinstance(items, list):
        raise PageError("content_items muss eine Liste sein.")

    created: list[Activity] = []
    with lms.store.tx() as session:
        data = claims.get(f"{DL}/data")
        request_row = session.get(DeepLinkingRequest, data) if isinstance(data, str) else None
        if request_row is None or request_row.tool_id != tool_id:
            raise PageError("data gibt nicht die data der Deep-Linking-Anfrage zurück.")
        if request_row.used_at is not None:
            raise PageError("Diese Deep-Linking-Anfrage wurde schon beantwortet.")
        if request_row.created_at < time.time() - MAX_AGE:
            raise PageError("Die Deep-Linking-Anfrage ist abgelaufen.")
        if not use_once(session, f"dl-nonce:{client_id}:{claims['nonce']}", float(claims["exp"]) + LEEWAY):
            raise PageError("nonce wurde schon verwendet (wiederholte Antwort).")
        request_row.used_at = time.time()
        course = session.scalars(select(Course).order_by(Course.id)).first()
        assert course is not None
        for item in items:
            activity = _create_activity(session, tool_id, course.id, item)
            if activity is not None:
                created.append(activity)
        bump(session, "deep_linking_returns")
        created_view = [{"id": a.id, "title": a.title} for a in created]

    msg, errormsg = claims.get(f"{DL}/msg", ""), claims.get(f"{DL}/errormsg", "")
    tool_log = claims.get(f"{DL}/log", "")
    for name in ("log", "errorlog"):
        if claims.get(f"{DL}/{name}"):
            log.info("deep linking %s from %s: %s", name, client_id, claims[f"{DL}/{name}"])
    skipped = len(items) - len(created)
    query = {"hinzugefuegt": ",".join(str(a["id"]) for a in created_view)}
    if msg:
        query["meldung"] = str(msg)
    if errormsg:
        query["fehler"] = str(errormsg)
    return render_template(
        "deep_linking_done.html",
        created=created_view,
        skipped=skipped,
        msg=msg,
        errormsg=errormsg,
        tool_log=tool_log,
        course_url="/?" + urlencode(query),
        title="Inhalte übernommen",
    )


def _create_activity(session: Any, tool_id: int, course_id: str, item: Any) -> Activity | None:
    if not isinstance(item, dict) or item.get("type") != "ltiResourceLink":
        return None  # Moodle accepts only ltiResourceLink
    custom = item.get("custom") or {}
    if not isinstance(custom, dict):
        raise PageError("custom eines Inhalts muss ein Objekt sein.")
    presentation = "window" if "window" in item and "iframe" not in item else "iframe"
    activity = Activity(
        course_id=course_id,
        tool_id=tool_id,
        title=str(item.get("title") or "Neue Aktivität"),
        description=str(item.get("text") or ""),
        url=str(item.get("url") or ""),
        custom={str(k): str(v) for k, v in custom.items()},
        presentation=presentation,
        source="deep_linking",
    )
    session.add(activity)
    session.flush()
    line_item = item.get("lineItem")
    if isinstance(line_item, dict):
        maximum = line_item.get("scoreMaximum")
        if not isinstance(maximum, int | float) or isinstance(maximum, bool) or maximum <= 0:
            raise PageError("lineItem.scoreMaximum muss eine Zahl > 0 sein.")
        session.add(
            LineItem(
                course_id=course_id,
                tool_id=tool_id,
                activity_id=activity.id,
                label=str(line_item.get("label") or activity.title),
                score_maximum=float(maximum),
                resource_id=str(line_item.get("resourceId") or ""),
                tag=str(line_item.get("tag") or ""),
                coupled=True,
            )
        )
    return activity

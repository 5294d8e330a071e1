"""After a valid launch: upsert user, context, resource link and membership, and open a tool session.

All of it happens in the caller's transaction (one commit at the edge). Upserts are INSERT … ON CONFLICT, so
concurrent launches of the same user (two tabs, a double click) do not fail on unique constraints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from ..course.model import Catalog
from ..db import upsert
from ..errors import LaunchError
from ..i18n import lazy_gettext as _l
from ..models import (
    Context,
    LinkLaunch,
    Membership,
    ResourceLink,
    ToolSession,
    User,
    utcnow,
)
from ..privacy.subjects import hold_grades_if_erased
from .claims import DEEP_LINKING_REQUEST, DL, LTI
from .roles import is_instructor
from .toolconf import ActiveDeployment, RegisteredPlatform

AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"


# Built once; each launch binds its values (building an INSERT costs more than running it).
_NEW_SESSION = insert(cast(Table, ToolSession.__table__))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _text(value: Any, limit: int = 255) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def pick_locale(claims: dict[str, Any], languages: list[str]) -> str:
    presentation = claims.get(LTI + "launch_presentation")
    raw = presentation.get("locale") if isinstance(presentation, dict) else None
    if isinstance(raw, str) and raw:
        lang = raw.replace("_", "-").split("-")[0].lower()
        if lang in languages:
            return lang
    return languages[0]


@dataclass(frozen=True)
class LaunchTarget:
    course_id: str
    module_id: str | None


def choose_course(claims: dict[str, Any], catalog: Catalog, default_course: str) -> LaunchTarget:
    """The resource link's custom parameters choose the course (`course=`) and optionally a module (`module=`)."""
    custom = claims.get(LTI + "custom")
    custom = custom if isinstance(custom, dict) else {}
    course_id = custom.get("course") or default_course
    module_id = custom.get("module") or None
    course = catalog.get(course_id) if isinstance(course_id, str) else None
    if course is None:
        raise LaunchError(
            _l(
                "The activity asks for a course (%(course)s) this tool does not offer.",
                course=str(course_id)[:100],
            ),
            hint=_l(
                "The teacher or LMS administrator should check the custom parameter course=… of this activity."
            ),
            code="unknown_course",
            status=404,
        )
    if module_id is not None and (not isinstance(module_id, str) or course.module(module_id) is None):
        raise LaunchError(
            _l(
                "The activity asks for a module (%(module)s) the course does not have.",
                module=str(module_id)[:100],
            ),
            hint=_l(
                "The teacher or LMS administrator should check the custom parameter module=… of this activity."
            ),
            code="unknown_module",
            status=404,
        )
    return LaunchTarget(course.id, module_id)


MODULE_GRADE_ITEMS = "module_grade_items"
_YES = frozenset({"1", "true", "yes", "on", "ja"})


def wants_module_grade_items(claims: dict[str, Any]) -> bool:
    """The link's custom parameter `module_grade_items=true`: the teacher wants one grade item per module in
    the LMS besides the activity's own (README, "Grade items in Moodle")."""
    custom = claims.get(LTI + "custom")
    value = custom.get(MODULE_GRADE_ITEMS) if isinstance(custom, dict) else None
    return isinstance(value, str) and value.strip().lower() in _YES


@dataclass(frozen=True)
class ProvisionedLaunch:
    session_token: str
    user_id: int
    context_id: int
    resource_link_id: int | None
    is_instructor: bool
    message_type: str
    new_learner: bool  # this launch made the person's row: nothing of theirs exists yet (no results)


def provision(
    s: Session,
    *,
    platform: RegisteredPlatform,
    deployment: ActiveDeployment,
    claims: dict[str, Any],
    target: LaunchTarget,
    languages: list[str],
    session_lifetime: int,
    config: Mapping[str, Any],
) -> ProvisionedLaunch:
    now = utcnow()
    message_type = claims[LTI + "message_type"]
    user_id, created_at = upsert(
        s,
        cast(Table, User.__table__),
        {"platform_id": platform.id, "sub": claims["sub"]},
        {
            # Only what the platform sends now: if it stops sending names, the tool forgets them.
            "name": _text(claims.get("name")),
            "given_name": _text(claims.get("given_name")),
            "family_name": _text(claims.get("family_name")),
            "email": _text(claims.get("email")),
            "last_launch_at": now,
        },
        inserted={"created_at": now},
        returning=("id", "created_at"),
    ).one()
    hold_grades_if_erased(s, config, platform, claims["sub"], user_id)
    ctx = claims[LTI + "context"]
    ags: dict[str, Any] = claims.get(AGS) or {}
    nrps: dict[str, Any] = claims.get(NRPS) or {}
    ags = ags if isinstance(ags, dict) else {}
    nrps = nrps if isinstance(nrps, dict) else {}
    context_values: dict[str, Any] = {
        "title": _text(ctx.get("title")) or "",
        "label": _text(ctx.get("label")) or "",
        "updated_at": now,
    }
    if isinstance(nrps.get("context_memberships_url"), str):
        context_values["nrps_url"] = nrps["context_memberships_url"][:1024]
    if isinstance(ags.get("lineitems"), str):
        context_values["lineitems_url"] = ags["lineitems"][:1024]
    if isinstance(ags.get("scope"), list):
        context_values["ags_scopes"] = [x for x in ags["scope"] if isinstance(x, str)]
    context_id: int = upsert(
        s,
        Context,
        {"deployment_id": deployment.id, "context_id": ctx["id"][:255]},
        context_values,
        returning="id",
    ).scalar_one()

    link_id: int | None = None
    if message_type != DEEP_LINKING_REQUEST:
        link = claims[LTI + "resource_link"]
        link_values: dict[str, Any] = {
            "context_id": context_id,
            "title": _text(link.get("title")) or "",
            "course_id": target.course_id,
            "module_id": target.module_id,
            "updated_at": now,
        }
        # The activity's own grade item; Moodle sends it only when the activity accepts grades.
        link_values["lineitem_url"] = ags["lineitem"][:1024] if isinstance(ags.get("lineitem"), str) else None
        link_values["module_grade_items"] = wants_module_grade_items(claims)
        link_id = upsert(
            s,
            ResourceLink,
            {"deployment_id": deployment.id, "resource_link_id": link["id"][:255]},
            link_values,
            returning="id",
        ).scalar_one()
        # Remembered for grading: a course result goes to the links its learner launched.
        upsert(s, LinkLaunch, {"resource_link_id": link_id, "user_id": user_id}, {"last_launch_at": now})

    roles = [r for r in claims.get(LTI + "roles", []) if isinstance(r, str)]
    instructor = is_instructor(roles)
    upsert(
        s,
        Membership,
        {"user_id": user_id, "context_id": context_id},
        {"roles": roles, "is_instructor": instructor, "last_launch_at": now},
    )

    token = secrets.token_urlsafe(32)
    kept: dict[str, Any] = {}
    for name in ("launch_presentation", "custom"):
        if isinstance(claims.get(LTI + name), dict):
            kept[name] = claims[LTI + name]
    if message_type == DEEP_LINKING_REQUEST:
        kept["deep_linking_settings"] = claims[DL + "deep_linking_settings"]
    s.connection().execute(
        _NEW_SESSION,
        dict(
            token_hash=token_hash(token),
            user_id=user_id,
            context_id=context_id,
            resource_link_id=link_id,
            deployment_id=deployment.id,
            message_type=message_type,
            is_instructor=instructor,
            course_id=target.course_id,
            module_id=target.module_id,
            locale=pick_locale(claims, languages),
            claims=kept,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(seconds=session_lifetime),
        ),
    )
    return ProvisionedLaunch(
        token, user_id, context_id, link_id, instructor, message_type, new_learner=created_at == now
    )

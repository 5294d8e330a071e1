"""The pages people see: the course, the gradebook, tool administration (German, plain HTML)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from . import state
from .api import score_rows
from .demo_data import ensure_default_activity
from .errors import PageError
from .launch import can_deep_link
from .registration import issue_registration_token, registration_start_url
from .storage import Activity, Course, LineItem, RegistrationToken, Tool, User

bp = Blueprint("pages", __name__)

ROLE_LABELS = {"Learner": "Lernende/r", "Instructor": "Lehrende/r"}


def role_label(user: User) -> str:
    if user.is_admin:
        return "Administrator/in"
    return ROLE_LABELS.get(user.course_role or "", "")


@bp.get("/")
def course() -> str:
    with state.lms().store.tx() as session:
        course = session.scalars(select(Course).order_by(Course.id)).first()
        if course is None:
            raise PageError("Kein Kurs vorhanden.", status=500)
        tools = {t.id: t for t in session.scalars(select(Tool).order_by(Tool.id))}
        users = list(session.scalars(select(User).order_by(User.id)))
        order = {"Learner": 0, "Instructor": 1}
        launchers = sorted(
            (u for u in users if u.launchable and (u.course_role or u.is_admin)),
            key=lambda u: (order.get(u.course_role or "", 2), int(u.id) if u.id.isdigit() else 0),
        )
        activities: list[dict[str, Any]] = []
        for activity in session.scalars(
            select(Activity).where(Activity.course_id == course.id).order_by(Activity.id)
        ):
            tool = tools.get(activity.tool_id)
            items = session.scalars(select(LineItem).where(LineItem.activity_id == activity.id)).all()
            activities.append({"activity": activity, "tool": tool, "line_items": items})
        added = {int(x) for x in request.args.get("hinzugefuegt", "").split(",") if x.isdigit()}
        return render_template(
            "course.html",
            course=course,
            activities=activities,
            launchers=launchers,
            role_label=role_label,
            deep_link_tools=[t for t in tools.values() if t.status == "active" and t.deep_link_url],
            deep_linkers=[u for u in launchers if can_deep_link(u)],
            never_launched=[u for u in users if u.course_role and not u.launchable],
            pending_tools=[t for t in tools.values() if t.status != "active"],
            has_tools=bool(tools),
            added=added,
            msg=request.args.get("meldung", ""),
            errormsg=request.args.get("fehler", ""),
            title=course.title,
        )


@bp.get("/scores")
def scores() -> str:
    with state.lms().store.tx() as session:
        rows = score_rows(session)
    return render_template("scores.html", rows=rows, title="Bewertungen")


@bp.get("/admin/tools")
def admin_tools() -> str:
    with state.lms().store.tx() as session:
        tools = list(session.scalars(select(Tool).order_by(Tool.id)))
        tokens = list(session.scalars(select(RegistrationToken).order_by(RegistrationToken.issued_at.desc())))
        return render_template(
            "admin_tools.html",
            tools=tools,
            tokens=tokens[:10],
            issuer=state.issuer(),
            endpoints={
                "Plattform-ID (issuer)": state.issuer(),
                "Authentifizierungs-URL (auth)": state.url("/auth"),
                "Token-URL": state.url("/token"),
                "Öffentliche Schlüssel (JWKS)": state.url("/jwks"),
                "OpenID-Konfiguration": state.url("/mod/lti/openid-configuration.php"),
            },
            title="Tools verwalten",
        )


@bp.post("/admin/tools/<int:tool_id>/status")
def set_tool_status(tool_id: int) -> Response:
    status = request.form.get("status", "")
    if status not in ("active", "pending"):
        raise PageError("status muss active oder pending sein.")
    with state.lms().store.tx() as session:
        tool = session.get(Tool, tool_id)
        if tool is None:
            raise PageError(f"Unbekanntes Tool {tool_id}.", status=404)
        tool.status = status
        session.flush()
        ensure_default_activity(session)
    return redirect("/admin/tools", code=303)


@bp.get("/admin/tools/register")
def start_registration() -> str:
    """Like Moodle's "Tool URL … Add LTI Advantage": open the tool's registration page with a fresh token."""
    tool_url = request.args.get("url", "").strip()
    if not tool_url.startswith(("http://", "https://")):
        raise PageError("Bitte eine Tool-URL angeben, die mit http:// oder https:// beginnt.")
    with state.lms().store.tx() as session:
        token, client_id, _ = issue_registration_token(session)
    return render_template(
        "register.html",
        start_url=registration_start_url(tool_url, token),
        tool_url=tool_url,
        client_id=client_id,
        title="Tool registrieren",
    )

"""The demo course, its people, the tools from config and the default activity (idempotent seeding)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .storage import Activity, Course, LineItem, Tool, User

COURSE_ID = "demo-course-1"
COURSE_LABEL = "NaMa-Demo"
COURSE_TITLE = "Demo-Kurs NaMa NRW"

DEFAULT_ACTIVITY_TITLE = "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement"
DEFAULT_ACTIVITY_DESCRIPTION = (
    "Online-Grundlagenkurs der LAG 21 NRW für Nachhaltigkeits- und Strukturwandelmanagerinnen und -manager "
    "der Kommunen im Rheinischen Revier."
)

AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SERVICE_SCOPES = [*AGS_SCOPES, NRPS_SCOPE]


# Moodle user ids are numbers; id 2 is the site admin on a fresh Moodle. The admin is not enrolled in the
# course (as in Moodle), so NRPS does not list them and they cannot be graded.
def _person(
    user_id: str, full_name: str, given: str, family: str, role: str | None, **extra: Any
) -> dict[str, Any]:
    username = f"{given}.{family}".lower()
    return {
        "id": user_id,
        "username": username,
        "full_name": full_name,
        "given_name": given,
        "family_name": family,
        "email": f"{username}@example.org",
        "course_role": role,
        **extra,
    }


USERS: list[dict[str, Any]] = [
    _person("2", "Sabine Hoffmann", "Sabine", "Hoffmann", None, is_admin=True),
    _person("3", "Dr. Ingrid Lehmann", "Ingrid", "Lehmann", "Instructor"),
    _person("4", "Lea Schneider", "Lea", "Schneider", "Learner"),
    _person("5", "Jonas Becker", "Jonas", "Becker", "Learner"),
    _person("6", "Aylin Demir", "Aylin", "Demir", "Learner"),
    # Enrolled but never opens the tool: only NRPS tells the tool about him.
    _person("7", "Murat Yilmaz", "Murat", "Yilmaz", "Learner", launchable=False),
]


def seed(session: Session, tools: Iterable[Mapping[str, Any]]) -> None:
    if session.get(Course, COURSE_ID) is None:
        session.add(Course(id=COURSE_ID, label=COURSE_LABEL, title=COURSE_TITLE))
    for data in USERS:
        if session.get(User, data["id"]) is None:
            session.add(User(**data))
    for tool in tools:
        upsert_config_tool(session, tool)
    session.flush()
    ensure_default_activity(session)


def upsert_config_tool(session: Session, data: Mapping[str, Any]) -> Tool:
    """A tool from the TOOLS config: the config is the truth on every start."""
    missing = [k for k in ("client_id", "login_url", "redirect_uris", "jwks_url") if not data.get(k)]
    if missing:
        raise ValueError(f"TOOLS entry lacks {', '.join(missing)}: {dict(data)!r}")
    redirect_uris = data["redirect_uris"]
    if isinstance(redirect_uris, str) or not all(isinstance(u, str) for u in redirect_uris):
        raise ValueError("TOOLS redirect_uris must be a list of URLs")
    tool = session.scalars(select(Tool).where(Tool.client_id == data["client_id"])).first()
    if tool is None:
        tool = Tool(client_id=data["client_id"], deployment_id="", origin="config")
        session.add(tool)
    tool.name = data.get("name") or data["client_id"]
    tool.status = data.get("status", "active")
    tool.login_url = data["login_url"]
    tool.redirect_uris = list(redirect_uris)
    tool.target_link_uri = data.get("target_link_uri") or redirect_uris[0]
    tool.deep_link_url = data.get("deep_link_url") or ""
    tool.jwks_url = data["jwks_url"]
    tool.scopes = list(data.get("scopes") or SERVICE_SCOPES)
    tool.custom = dict(data.get("custom") or {})
    # Moodle's privacy settings of a tool ("Share launcher's name/e-mail with tool"): off, launches and the
    # participant list carry only the user id.
    tool.send_name = bool(data.get("send_name", True))
    tool.send_email = bool(data.get("send_email", True))
    session.flush()
    tool.deployment_id = str(data.get("deployment_id") or tool.id)
    return tool


def ensure_default_activity(session: Session) -> Activity | None:
    """Create the Grundlagenkurs activity with its own line item once an active tool exists."""
    if session.scalar(select(func.count()).select_from(Activity)):
        return None
    tool = session.scalars(select(Tool).where(Tool.status == "active").order_by(Tool.id)).first()
    if tool is None:
        return None
    activity = Activity(
        course_id=COURSE_ID,
        tool_id=tool.id,
        title=DEFAULT_ACTIVITY_TITLE,
        description=DEFAULT_ACTIVITY_DESCRIPTION,
        custom={"course": "grundlagenkurs"},
        presentation="iframe",
        source="seed",
    )
    session.add(activity)
    session.flush()
    session.add(
        LineItem(
            course_id=COURSE_ID,
            tool_id=tool.id,
            activity_id=activity.id,
            label=DEFAULT_ACTIVITY_TITLE,
            score_maximum=100.0,
            coupled=True,
        )
    )
    session.flush()
    return activity

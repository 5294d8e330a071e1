"""Names and Role Provisioning Services 2.0: the course roster (Moodle's ltiservice_memberships).

Moodle facts relied on (mod/lti/service/memberships/classes/local/resources/contextmemberships.php and
local/service/memberships.php):
- URL template /{context_type}/{context_id}/bindings/{tool_code}/memberships under services.php, with
  context_type CourseSection; query role, limit, from, rlid; an unknown course, tool or link is 404; a
  tool without the memberships service is 403.
- users_to_json(): {id, context {id, label, title}, members [...]}; each member has status "Active",
  roles, user_id and (privacy settings permitting) name, given_name, family_name, email; the next page is
  announced as `Link: <...?limit=N&from=M>; rel="next"`; content type
  application/vnd.ims.lti-nrps.v2.membershipcontainer+json.
- roles come from lti_get_ims_role(..., $islti2 = true): short names ("Learner", "Instructor"), not the
  full URIs of the id_token. NRPS_ROLE_FORMAT "uri" sends full URIs instead.
- Every enrolled user is listed, whether or not they ever launched the tool.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from . import state
from .demo_data import NRPS_SCOPE
from .errors import ServiceError
from .faults import fault_group
from .launch import MEMBERSHIP, short_roles, uri_roles
from .oauth import require_token
from .storage import Activity, Course, Tool, User

bp = Blueprint("nrps", __name__, url_prefix=state.SERVICES)

CONTAINER_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"


@bp.get("/CourseSection/<course_id>/bindings/<int:tool_id>/memberships")
@fault_group("nrps")
def memberships(course_id: str, tool_id: int) -> Response:
    require_token([NRPS_SCOPE], tool_id)
    role = request.args.get("role", "")
    link_id = request.args.get("rlid", "")
    limit = int(request.args["limit"]) if request.args.get("limit", "").isdigit() else 0
    start = int(request.args["from"]) if request.args.get("from", "").isdigit() and limit > 0 else 0
    uri_format = state.config("NRPS_ROLE_FORMAT") == "uri"
    with state.lms().store.tx() as session:
        course = session.get(Course, course_id)
        tool = session.get(Tool, tool_id)
        if course is None or tool is None:
            raise ServiceError(404, "Not Found")
        if NRPS_SCOPE not in tool.scopes:
            raise ServiceError(
                403, "Forbidden", detail="the memberships service is not enabled for this tool"
            )
        if link_id:
            activity = session.get(Activity, int(link_id)) if link_id.isdigit() else None
            if activity is None or activity.course_id != course_id:
                raise ServiceError(404, "Not Found", detail=f"no resource link {link_id} in this course")
        users = session.scalars(select(User).where(User.course_role.is_not(None)).order_by(User.id)).all()
        if role:
            wanted = role if role.startswith(("http://", "https://")) else MEMBERSHIP + role
            users = [u for u in users if MEMBERSHIP + (u.course_role or "") == wanted]
        page = users[start : start + limit] if limit > 0 else users
        members: list[dict[str, Any]] = []
        for user in page:
            member: dict[str, Any] = {
                "status": "Active",
                "roles": uri_roles(user) if uri_format else short_roles(user),
                "user_id": user.id,
            }
            if tool.send_name:
                member.update(name=user.full_name, given_name=user.given_name, family_name=user.family_name)
            if tool.send_email:
                member["email"] = user.email
            members.append(member)
        body = {
            "id": state.memberships_url(course_id, tool_id),
            "context": {"id": course.id, "label": course.label, "title": course.title},
            "members": members,
        }
    response = jsonify(body)
    response.mimetype = CONTAINER_TYPE
    if limit > 0 and start + limit < len(users):
        params = {"limit": str(limit), "from": str(start + limit)}
        if role:
            params["role"] = role
        if link_id:
            params["rlid"] = link_id
        response.headers["Link"] = (
            f'<{state.memberships_url(course_id, tool_id)}?{urlencode(params)}>; rel="next"'
        )
    return response

"""Assignment and Grade Services 2.0: line items, scores, results (Moodle's gradebookservices).

Moodle facts relied on (mod/lti/service/gradebookservices/classes/local/...):
- resources/lineitems.php: GET filters resource_link_id (or lti_link_id), resource_id, tag, paging with
  limit + from; POST needs label and a numeric scoreMaximum, a resourceLinkId must be one of the tool's
  links (else 403), answers 201. Content types: the container type for GET, lineitem+json for POST.
- resources/lineitem.php: GET / PUT (label + numeric scoreMaximum required) / DELETE; an item not of this
  tool is 404; deleting the activity's own grade item (no gradebookservices row) is 403.
- resources/scores.php: POST only, Content-Type application/vnd.ims.lis.v1.score+json; userId,
  timestamp (ISO 8601), activityProgress and gradingProgress required, scoreGiven / scoreMaximum numeric,
  the user gradable in the course -- otherwise 400 "Incorrect score received"; scoreMaximum defaults to 1;
  scoreGiven is dropped unless gradingProgress is FullyGraded; a stored grade with
  `timemodified >= strtotime(timestamp)` (whole seconds) gives 409; success is 200 with no body.
- service/gradebookservices.php save_grade_item: scoreGiven is rescaled to the item's maximum (so
  scoreGiven > scoreMaximum is accepted); a score without scoreGiven clears the grade. For the activity's
  own (coupled) item grade_update() sets timemodified to the server's clock when the grade or comment
  changed, keeps it when nothing changed, and clears it when there is neither grade nor comment
  (lib/grade/grade_item.php update_raw_grade); SCORE_TIMESTAMPS "spec" stores the score's timestamp
  instead.
- The bearer token must carry one of the resource's scopes, else 401 (service_base::check_tool).
Not mirrored: Moodle's Link header for line item paging uses typographic quotes (rel=“next”); here it is
rel="next" as RFC 8288 says.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import state
from .demo_data import AGS_SCOPES
from .errors import ServiceError
from .faults import fault_group
from .oauth import require_token
from .storage import Activity, Course, Grade, LineItem, ScoreEvent, User

bp = Blueprint("ags", __name__, url_prefix=state.SERVICES)

LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
S_LINEITEM, S_LINEITEM_RO, S_RESULT, S_SCORE = AGS_SCOPES

ACTIVITY_PROGRESS = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING_PROGRESS = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}


# --- helpers ------------------------------------------------------------------------------------


def _type_id() -> int | None:
    raw = request.args.get("type_id")
    if raw is None:
        return None
    return int(raw) if raw.isdigit() else -1  # -1 matches no token: 401


def _course(session: Session, course_id: str) -> Course:
    course = session.get(Course, course_id)
    if course is None:
        raise ServiceError(404, f"Not Found: Course {course_id} doesn't exist")
    return course


def _item(
    session: Session, course_id: str, item_id: int, tool_id: int, *, foreign_status: int = 404
) -> LineItem:
    item = session.get(LineItem, item_id)
    if item is None or item.course_id != course_id:
        raise ServiceError(404, f"Not Found: Grade item {item_id} doesn't exist")
    if item.tool_id != tool_id:
        raise ServiceError(foreign_status, "Line item does not exist")
    return item


def item_json(item: LineItem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": state.lineitem_url(item.course_id, item.id, item.tool_id),
        "label": item.label,
        "scoreMaximum": item.score_maximum,
        "resourceId": item.resource_id,
        "tag": item.tag,
    }
    if item.activity_id is not None:
        out["resourceLinkId"] = str(item.activity_id)
        out["ltiLinkId"] = str(item.activity_id)  # Moodle still sends the pre-final name too
    if item.start_date_time:
        out["startDateTime"] = item.start_date_time
    if item.end_date_time:
        out["endDateTime"] = item.end_date_time
    return out


def _json_object() -> dict[str, Any] | None:
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _paging() -> tuple[int, int]:
    def number(name: str) -> int:
        raw = request.args.get(name, "0")
        return int(raw) if raw.isdigit() else 0

    return number("limit"), number("from")


def _next_link(base: str, params: dict[str, str], limit: int, start: int) -> str:
    query = urlencode({**params, "limit": str(limit), "from": str(start + limit)})
    return f'<{base}?{query}>; rel="next"'


def _resource_link(session: Session, raw: Any, course_id: str, tool_id: int) -> int | None:
    """A resourceLinkId from a body: None when absent; 400 when not numeric; 403 when not the tool's."""
    if raw is None:
        return None
    if not str(raw).isdigit():
        raise ServiceError(
            400, "Bad Request", detail="resourceLinkId must be a resource link id of this course"
        )
    activity = session.get(Activity, int(raw))
    if activity is None or activity.course_id != course_id or activity.tool_id != tool_id:
        raise ServiceError(
            403, "Forbidden", detail=f"resource link {raw} is not one of this tool's links here"
        )
    return activity.id


def _lineitem_fields(body: dict[str, Any] | None) -> tuple[str, float]:
    if body is None or not body.get("label") or "scoreMaximum" not in body:
        raise ServiceError(400, "No label or Score Maximum")
    if not isinstance(body["label"], str):
        raise ServiceError(400, "Bad Request", detail="label must be a string")
    if not _is_number(body["scoreMaximum"]) or body["scoreMaximum"] <= 0:
        raise ServiceError(400, "Bad Request", detail="scoreMaximum must be a number > 0")
    return body["label"], float(body["scoreMaximum"])


def _optional_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ServiceError(400, "Bad Request", detail=f"{name} must be a string")
    return value


# --- line items ---------------------------------------------------------------------------------


@bp.get("/<course_id>/lineitems")
@fault_group("lineitems")
def list_lineitems(course_id: str) -> Response:
    tool_id = require_token([S_LINEITEM, S_LINEITEM_RO], _type_id())
    link_id = request.args.get("resource_link_id", request.args.get("lti_link_id"))
    resource_id = request.args.get("resource_id")
    tag = request.args.get("tag")
    limit, start = _paging()
    with state.lms().store.tx() as session:
        _course(session, course_id)
        query = select(LineItem).where(LineItem.course_id == course_id, LineItem.tool_id == tool_id)
        if link_id is not None:
            query = query.where(LineItem.activity_id == (int(link_id) if link_id.isdigit() else -1))
        if resource_id is not None:
            query = query.where(LineItem.resource_id == resource_id)
        if tag is not None:
            query = query.where(LineItem.tag == tag)
        items = [item_json(i) for i in session.scalars(query.order_by(LineItem.id))]
    page = items[start : start + limit] if limit > 0 else items
    response = jsonify(page)
    response.mimetype = CONTAINER_TYPE
    if limit > 0 and start + limit < len(items):
        params = {"type_id": str(tool_id)}
        for name, value in (("resource_link_id", link_id), ("resource_id", resource_id), ("tag", tag)):
            if value is not None:
                params[name] = value
        response.headers["Link"] = _next_link(
            state.url(f"{state.SERVICES}/{course_id}/lineitems"), params, limit, start
        )
    return response


@bp.post("/<course_id>/lineitems")
@fault_group("lineitems")
def create_lineitem(course_id: str) -> tuple[Response, int]:
    tool_id = require_token([S_LINEITEM], _type_id())
    if request.mimetype != LINEITEM_TYPE:
        raise ServiceError(
            400, "No context or unsupported content type", detail=f"Content-Type must be {LINEITEM_TYPE}"
        )
    body = _json_object()
    label, maximum = _lineitem_fields(body)
    assert body is not None
    with state.lms().store.tx() as session:
        _course(session, course_id)
        item = LineItem(
            course_id=course_id,
            tool_id=tool_id,
            activity_id=_resource_link(
                session, body.get("resourceLinkId", body.get("ltiLinkId")), course_id, tool_id
            ),
            label=label,
            score_maximum=maximum,
            resource_id=_optional_str(body, "resourceId"),
            tag=_optional_str(body, "tag"),
            start_date_time=_optional_str(body, "startDateTime") or None,
            end_date_time=_optional_str(body, "endDateTime") or None,
            coupled=False,
        )
        session.add(item)
        session.flush()
        out = item_json(item)
    response = jsonify(out)
    response.mimetype = LINEITEM_TYPE
    response.headers["Location"] = out["id"]
    return response, 201


@bp.route("/<course_id>/lineitems/<int:item_id>/lineitem", methods=["GET", "PUT", "DELETE"])
@fault_group("lineitems")
def lineitem(course_id: str, item_id: int) -> Response:
    scopes = [S_LINEITEM, S_LINEITEM_RO] if request.method == "GET" else [S_LINEITEM]
    tool_id = require_token(scopes, _type_id())
    with state.lms().store.tx() as session:
        _course(session, course_id)
        item = _item(session, course_id, item_id, tool_id)
        if request.method == "GET":
            response = jsonify(item_json(item))
            response.mimetype = LINEITEM_TYPE
            return response
        if request.method == "DELETE":
            if item.coupled:
                raise ServiceError(403, "Forbidden", detail="the activity's own grade item cannot be deleted")
            delete_line_item(session, item)
            return Response(status=204)
        if request.mimetype != LINEITEM_TYPE:
            raise ServiceError(400, "Bad Request", detail=f"Content-Type must be {LINEITEM_TYPE}")
        body = _json_object()
        label, maximum = _lineitem_fields(body)
        assert body is not None
        item.label = label
        item.score_maximum = maximum
        item.resource_id = _optional_str(body, "resourceId")
        item.tag = _optional_str(body, "tag")
        raw_link = body.get("resourceLinkId", body.get("ltiLinkId"))
        if raw_link is not None:
            item.activity_id = _resource_link(session, raw_link, course_id, tool_id)
        if "startDateTime" in body:
            item.start_date_time = _optional_str(body, "startDateTime") or None
        if "endDateTime" in body:
            item.end_date_time = _optional_str(body, "endDateTime") or None
        response = jsonify(item_json(item))
        response.mimetype = LINEITEM_TYPE
        return response


# --- scores -------------------------------------------------------------------------------------


def parse_timestamp(value: Any) -> float | None:
    """ISO 8601 date-time to epoch seconds (UTC when no offset is given); None when not parseable."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def delete_line_item(session: Session, item: LineItem) -> None:
    """A grade item goes with its grades and its score history (the gradebook setup's delete, and the service's
    DELETE)."""
    for grade in session.scalars(select(Grade).where(Grade.line_item_id == item.id)):
        session.delete(grade)
    for event in session.scalars(select(ScoreEvent).where(ScoreEvent.line_item_id == item.id)):
        session.delete(event)
    session.delete(item)


def final_grade(given: float | None, maximum: float, item_maximum: float) -> float | None:
    """Moodle rescales a score to the grade item's maximum."""
    if given is None:
        return None
    if maximum not in (0, item_maximum):
        return given * item_maximum / maximum
    return given


def _score_problem(session: Session, body: dict[str, Any] | None, course_id: str) -> str | None:
    if body is None:
        return "the body is not a JSON object"
    for name in ("userId", "timestamp", "activityProgress", "gradingProgress"):
        if body.get(name) is None:
            return f"{name} is missing"
    if parse_timestamp(body["timestamp"]) is None:
        return "timestamp is not an ISO 8601 date-time"
    for name in ("scoreGiven", "scoreMaximum"):
        if body.get(name) is not None and not _is_number(body[name]):
            return f"{name} must be a number"
    if body["activityProgress"] not in ACTIVITY_PROGRESS:
        return f"activityProgress must be one of {sorted(ACTIVITY_PROGRESS)}"
    if body["gradingProgress"] not in GRADING_PROGRESS:
        return f"gradingProgress must be one of {sorted(GRADING_PROGRESS)}"
    user = session.get(User, str(body["userId"]))
    # gradebookservices::is_user_gradable_in_course: enrolled with a gradebook role (student).
    if user is None or user.course_role != "Learner":
        return f"user {body['userId']} is not a gradable member of course {course_id}"
    return None


@bp.post("/<course_id>/lineitems/<int:item_id>/lineitem/scores")
@fault_group("scores")
def post_score(course_id: str, item_id: int) -> Response:
    tool_id = require_token([S_SCORE], _type_id())
    if request.mimetype != SCORE_TYPE:
        raise ServiceError(400, "Bad Request", detail=f"Content-Type must be {SCORE_TYPE}")
    body = _json_object()
    with state.lms().store.tx() as session:
        _course(session, course_id)
        item = _item(session, course_id, item_id, tool_id, foreign_status=403)
        problem = _score_problem(session, body, course_id)
        if problem is not None:
            raise ServiceError(400, "Incorrect score received", detail=problem)
        assert body is not None
        _apply_score(session, item, body)
    return Response(status=200, mimetype=SCORE_TYPE)


def _apply_score(session: Session, item: LineItem, body: dict[str, Any]) -> None:
    user_id = str(body["userId"])
    epoch = parse_timestamp(body["timestamp"])
    assert epoch is not None
    sent = float(body["scoreGiven"]) if body.get("scoreGiven") is not None else None
    maximum = float(body["scoreMaximum"]) if body.get("scoreMaximum") is not None else 1.0
    applied = sent if body["gradingProgress"] == "FullyGraded" else None
    comment = body.get("comment") or None
    if comment is not None:
        comment = str(comment)
    moodle = state.config("SCORE_TIMESTAMPS") == "moodle"

    grade = session.scalars(
        select(Grade).where(Grade.line_item_id == item.id, Grade.user_id == user_id)
    ).first()
    if grade is not None and grade.timemodified is not None:
        compared = math.floor(epoch) if moodle else epoch
        if grade.timemodified >= compared:
            raise ServiceError(
                409, f"Refusing score with an earlier timestamp for item {item.id} and user {user_id}"
            )

    if not moodle:
        timemodified: float | None = epoch
    elif item.coupled:
        new_final = final_grade(applied, maximum, item.score_maximum)
        old_final = final_grade(grade.score_given, grade.score_maximum, item.score_maximum) if grade else None
        if new_final is None and comment is None:
            timemodified = None
        elif grade is None or new_final != old_final or comment != grade.comment:
            timemodified = float(math.floor(time.time()))
        else:
            timemodified = grade.timemodified
    elif applied is not None:
        timemodified = float(math.floor(epoch))
    else:
        timemodified = grade.timemodified if grade else None

    if grade is None:
        grade = Grade(line_item_id=item.id, user_id=user_id)
        session.add(grade)
    grade.score_given = applied
    grade.score_maximum = maximum
    grade.activity_progress = body["activityProgress"]
    grade.grading_progress = body["gradingProgress"]
    grade.timestamp = body["timestamp"]
    grade.timemodified = timemodified
    grade.comment = comment
    grade.updated_at = time.time()
    session.add(
        ScoreEvent(
            line_item_id=item.id,
            user_id=user_id,
            score_given=applied,
            score_given_sent=sent,
            score_maximum=maximum,
            activity_progress=body["activityProgress"],
            grading_progress=body["gradingProgress"],
            timestamp=body["timestamp"],
            comment=comment,
        )
    )


# --- results ------------------------------------------------------------------------------------


@bp.get("/<course_id>/lineitems/<int:item_id>/lineitem/results")
@fault_group("results")
def results(course_id: str, item_id: int) -> Response:
    tool_id = require_token([S_RESULT], _type_id())
    user_id = request.args.get("user_id")
    limit, start = _paging()
    with state.lms().store.tx() as session:
        _course(session, course_id)
        item = _item(session, course_id, item_id, tool_id)
        query = select(Grade).where(Grade.line_item_id == item.id)
        if user_id is not None:
            query = query.where(Grade.user_id == user_id)
        grades = list(session.scalars(query.order_by(Grade.user_id)))
        base = state.lineitem_base(course_id, item.id)
        out = []
        for grade in grades:
            result: dict[str, Any] = {
                "id": f"{base}/results?type_id={tool_id}&user_id={grade.user_id}",
                "scoreOf": state.lineitem_url(course_id, item.id, tool_id),
                "userId": grade.user_id,
            }
            score = final_grade(grade.score_given, grade.score_maximum, item.score_maximum)
            if score is not None:
                result["resultScore"] = score
                result["resultMaximum"] = item.score_maximum
            if grade.comment:
                result["comment"] = grade.comment
            result["timestamp"] = grade.timestamp
            out.append(result)
    page = out[start : start + limit] if limit > 0 else out
    response = jsonify(page)
    response.mimetype = RESULTS_TYPE
    if limit > 0 and start + limit < len(out):
        params = {"type_id": str(tool_id)}
        if user_id is not None:
            params["user_id"] = user_id
        response.headers["Link"] = _next_link(f"{base}/results", params, limit, start)
    return response

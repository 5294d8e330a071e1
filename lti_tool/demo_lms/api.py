"""JSON for tests and scripts: scores, history, counters, fault rules, registration tokens, launch data.

Read-only views are always on; everything that changes the LMS from outside (faults, counters reset,
registration tokens) exists only with FAULTS_ENABLED. Faults never apply here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, abort, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import state
from .ags import delete_line_item, final_grade
from .demo_data import COURSE_ID
from .errors import ServiceError
from .launch import can_deep_link, login_request
from .registration import issue_registration_token, registration_start_url
from .storage import Activity, Counter, Grade, LineItem, ScoreEvent, Tool, User, bump

bp = Blueprint("api", __name__, url_prefix="/api")

# Endpoint -> counter; each request is counted in total and by answered status code.
COUNTED = {
    "oauth.token": "token_requests",
    "oauth.token_moodle_path": "token_requests",
    "jwks.jwks": "jwks_fetches",
    "jwks.certs": "jwks_fetches",
    "ags.post_score": "score_posts",
    "ags.list_lineitems": "lineitem_requests",
    "ags.create_lineitem": "lineitem_requests",
    "ags.lineitem": "lineitem_requests",
    "ags.results": "results_requests",
    "nrps.memberships": "nrps_requests",
    "registration.register": "registration_requests",
    "deep_linking.deep_linking_return": "deep_linking_posts",
}


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat().replace("+00:00", "Z")


def count_request(response: Response) -> Response:
    """after_request hook: bump the counter of a counted endpoint (injected faults included)."""
    name = COUNTED.get(request.endpoint or "")
    if name is not None:
        with state.lms().store.tx() as session:
            bump(session, name)
            bump(session, f"{name}:{response.status_code}")
    return response


def _test_only() -> None:
    if not state.config("FAULTS_ENABLED"):
        abort(404)


# --- scores -------------------------------------------------------------------------------------


def score_rows(session: Session) -> list[dict[str, Any]]:
    """Latest score per (line item, user), in line item then user order."""
    history = {
        (item_id, user_id): n
        for item_id, user_id, n in session.execute(
            select(ScoreEvent.line_item_id, ScoreEvent.user_id, func.count()).group_by(
                ScoreEvent.line_item_id, ScoreEvent.user_id
            )
        ).all()
    }
    rows = session.execute(
        select(Grade, LineItem, User, Activity)
        .join(LineItem, Grade.line_item_id == LineItem.id)
        .join(User, Grade.user_id == User.id)
        .outerjoin(Activity, LineItem.activity_id == Activity.id)
        .order_by(LineItem.id, User.id)
    ).all()
    out = []
    for grade, item, user, activity in rows:
        out.append(
            {
                "line_item_id": item.id,
                "line_item_url": state.lineitem_url(item.course_id, item.id, item.tool_id),
                "label": item.label,
                "resourceId": item.resource_id,
                "tag": item.tag,
                "lineItemScoreMaximum": item.score_maximum,
                "resource_link_id": str(item.activity_id) if item.activity_id is not None else None,
                "activity_title": activity.title if activity else None,
                "user_id": user.id,
                "user_name": user.full_name,
                "scoreGiven": grade.score_given,
                "scoreMaximum": grade.score_maximum,
                "resultScore": final_grade(grade.score_given, grade.score_maximum, item.score_maximum),
                "activityProgress": grade.activity_progress,
                "gradingProgress": grade.grading_progress,
                "timestamp": grade.timestamp,
                "comment": grade.comment,
                "history_count": history.get((item.id, user.id), 0),
                "updated_at": iso(grade.updated_at),
            }
        )
    return out


@bp.get("/scores")
def scores() -> Response:
    with state.lms().store.tx() as session:
        return jsonify(score_rows(session))


@bp.get("/score-history")
def score_history() -> Response:
    with state.lms().store.tx() as session:
        query = select(ScoreEvent, LineItem).join(LineItem, ScoreEvent.line_item_id == LineItem.id)
        if request.args.get("user_id"):
            query = query.where(ScoreEvent.user_id == request.args["user_id"])
        if request.args.get("line_item_id", "").isdigit():
            query = query.where(ScoreEvent.line_item_id == int(request.args["line_item_id"]))
        out = [
            {
                "id": event.id,
                "line_item_id": item.id,
                "line_item_url": state.lineitem_url(item.course_id, item.id, item.tool_id),
                "label": item.label,
                "resourceId": item.resource_id,
                "user_id": event.user_id,
                "scoreGiven": event.score_given,
                "scoreGivenSent": event.score_given_sent,
                "scoreMaximum": event.score_maximum,
                "activityProgress": event.activity_progress,
                "gradingProgress": event.grading_progress,
                "timestamp": event.timestamp,
                "comment": event.comment,
                "received_at": iso(event.received_at),
            }
            for event, item in session.execute(query.order_by(ScoreEvent.id)).all()
        ]
    return jsonify(out)


# --- counters -----------------------------------------------------------------------------------

STAT_NAMES = [
    "token_requests", "jwks_fetches", "tool_jwks_fetches", "score_posts", "nrps_requests", "launches",
    "auth_errors", "lineitem_requests", "results_requests", "registration_requests", "registrations",
    "deep_linking_posts", "deep_linking_returns",
]  # fmt: skip


def stats(session: Session) -> dict[str, Any]:
    counters = {c.name: c.value for c in session.scalars(select(Counter))}
    out: dict[str, Any] = {name: counters.get(name, 0) for name in STAT_NAMES}
    by_status: dict[str, dict[str, int]] = {}
    launches: dict[str, int] = {}
    faults: dict[str, int] = {}
    for key, value in counters.items():
        base, _, suffix = key.partition(":")
        if not suffix:
            out.setdefault(base, value)
        elif base == "launches":
            launches[suffix] = value
        elif base == "faults_injected":
            faults[suffix] = value
        else:
            by_status.setdefault(base, {})[suffix] = value
    out["by_status"] = by_status
    out["launches_by_message_type"] = launches
    out["faults_injected"] = faults
    return out


@bp.get("/stats")
def get_stats() -> Response:
    with state.lms().store.tx() as session:
        return jsonify(stats(session))


@bp.delete("/stats")
def reset_stats() -> Response:
    _test_only()
    with state.lms().store.tx() as session:
        for counter in session.scalars(select(Counter)):
            session.delete(counter)
    return Response(status=204)


# --- faults -------------------------------------------------------------------------------------


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults() -> Response:
    _test_only()
    lms = state.lms()
    if request.method == "POST":
        try:
            lms.faults.update(request.get_json(force=True, silent=True))
        except ValueError as exc:
            raise ServiceError(400, "Bad Request", error="invalid_request", detail=str(exc)) from exc
    elif request.method == "DELETE":
        lms.faults.clear()
    return jsonify(lms.faults.describe())


# --- registration tokens, course data, launch data ------------------------------------------------


@bp.post("/registration-token")
def registration_token() -> Response:
    _test_only()
    body = request.get_json(force=True, silent=True) or {}
    with state.lms().store.tx() as session:
        token, client_id, expires_at = issue_registration_token(session)
    out = {
        "registration_token": token,
        "client_id": client_id,
        "openid_configuration": state.url("/mod/lti/openid-configuration.php"),
        "expires_at": iso(expires_at),
    }
    if isinstance(body, dict) and isinstance(body.get("tool_url"), str):
        out["registration_url"] = registration_start_url(body["tool_url"], token)
    return jsonify(out)


def tool_json(tool: Tool) -> dict[str, Any]:
    return {
        "id": tool.id,
        "client_id": tool.client_id,
        "deployment_id": tool.deployment_id,
        "name": tool.name,
        "status": tool.status,
        "origin": tool.origin,
        "login_url": tool.login_url,
        "redirect_uris": tool.redirect_uris,
        "target_link_uri": tool.target_link_uri,
        "deep_link_url": tool.deep_link_url,
        "jwks_url": tool.jwks_url,
        "scopes": tool.scopes,
        "domain": tool.domain,
        "custom": tool.custom,
        "send_name": tool.send_name,
        "send_email": tool.send_email,
    }


@bp.get("/tools")
def tools() -> Response:
    with state.lms().store.tx() as session:
        return jsonify([tool_json(t) for t in session.scalars(select(Tool).order_by(Tool.id))])


@bp.get("/users")
def users() -> Response:
    with state.lms().store.tx() as session:
        return jsonify(
            [
                {
                    "id": u.id,
                    "name": u.full_name,
                    "given_name": u.given_name,
                    "family_name": u.family_name,
                    "email": u.email,
                    "course_role": u.course_role,
                    "is_admin": u.is_admin,
                    "launchable": u.launchable,
                }
                for u in session.scalars(select(User).order_by(User.id))
            ]
        )


@bp.get("/activities")
def activities() -> Response:
    with state.lms().store.tx() as session:
        out = []
        for activity in session.scalars(select(Activity).order_by(Activity.id)):
            items = session.scalars(select(LineItem).where(LineItem.activity_id == activity.id)).all()
            out.append(
                {
                    "id": activity.id,
                    "resource_link_id": str(activity.id),
                    "tool_id": activity.tool_id,
                    "course_id": activity.course_id,
                    "title": activity.title,
                    "description": activity.description,
                    "url": activity.url,
                    "custom": activity.custom,
                    "presentation": activity.presentation,
                    "source": activity.source,
                    "line_items": [
                        {
                            "id": i.id,
                            "url": state.lineitem_url(i.course_id, i.id, i.tool_id),
                            "label": i.label,
                            "scoreMaximum": i.score_maximum,
                            "resourceId": i.resource_id,
                            "tag": i.tag,
                        }
                        for i in items
                    ],
                }
            )
    return jsonify(out)


# --- what a Moodle teacher does in the course (test-only) ---------------------------------------------


@bp.post("/activities")
def add_activity() -> tuple[Response, int]:
    """The teacher adds an external tool activity: {title, custom?, accept_grades?} (Moodle's "Accept grades
    from the tool", on by default). With grades accepted the activity gets its own grade item, and launches
    carry it as the AGS `lineitem` claim; without, launches carry no `lineitem` (the `lineitems` container
    and the scopes stay: they belong to the tool)."""
    _test_only()
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("title"), str) or not body["title"].strip():
        raise ServiceError(400, "Bad Request", detail="title is required")
    custom = body.get("custom") or {}
    if not isinstance(custom, dict):
        raise ServiceError(400, "Bad Request", detail="custom must be an object")
    accept = body.get("accept_grades", True)
    if not isinstance(accept, bool):
        raise ServiceError(400, "Bad Request", detail="accept_grades must be true or false")
    with state.lms().store.tx() as session:
        tool = session.scalars(select(Tool).where(Tool.status == "active").order_by(Tool.id)).first()
        if tool is None:
            raise ServiceError(409, "Conflict", detail="no active tool to add an activity of")
        activity = Activity(
            course_id=COURSE_ID,
            tool_id=tool.id,
            title=body["title"].strip()[:255],
            custom={str(k): str(v) for k, v in custom.items()},
            presentation="iframe",
            source="teacher",
        )
        session.add(activity)
        session.flush()
        if accept:
            session.add(
                LineItem(
                    course_id=COURSE_ID,
                    tool_id=tool.id,
                    activity_id=activity.id,
                    label=activity.title,
                    score_maximum=100.0,
                    coupled=True,
                )
            )
        activity_id = activity.id
    return jsonify({"id": activity_id, "resource_link_id": str(activity_id)}), 201


@bp.delete("/lineitems/<int:item_id>")
def delete_lineitem(item_id: int) -> Response:
    """The teacher deletes a grade item in the gradebook setup: it and its grades are gone; a score posted
    to it afterwards gets 404 "Grade item N doesn't exist", and nothing brings it back by itself."""
    _test_only()
    with state.lms().store.tx() as session:
        item = session.get(LineItem, item_id)
        if item is None:
            raise ServiceError(404, f"Not Found: Grade item {item_id} doesn't exist")
        delete_line_item(session, item)
    return Response(status=204)


@bp.get("/lineitems")
def lineitems() -> Response:
    """Every grade item of the course (the gradebook's columns), whoever made it."""
    with state.lms().store.tx() as session:
        return jsonify(
            [
                {
                    "id": i.id,
                    "url": state.lineitem_url(i.course_id, i.id, i.tool_id),
                    "label": i.label,
                    "resourceId": i.resource_id,
                    "tag": i.tag,
                    "scoreMaximum": i.score_maximum,
                    "resource_link_id": str(i.activity_id) if i.activity_id is not None else None,
                    "coupled": i.coupled,
                }
                for i in session.scalars(select(LineItem).order_by(LineItem.id))
            ]
        )


@bp.get("/launch")
def launch_data() -> Response:
    """The login initiation a browser would be sent to (fresh, single-use message hint each call).

    ?activity=<id>&user=<id>[&target=iframe|window] for a resource link launch,
    ?tool=<id>&user=<id>&deep_linking=1 for a deep linking request.
    """
    args = request.args
    with state.lms().store.tx() as session:
        user = session.get(User, args.get("user", ""))
        if user is None:
            raise ServiceError(404, "Not Found", detail="unknown user")
        target = "window" if args.get("target") == "window" else "iframe"
        if args.get("deep_linking"):
            tool = session.get(Tool, int(args["tool"])) if args.get("tool", "").isdigit() else None
            if tool is None or not can_deep_link(user):
                raise ServiceError(
                    400, "Bad Request", detail="deep linking needs a known tool and an instructor"
                )
            login_url, params = login_request(session, tool, user, activity=None, target=target)
        else:
            activity = (
                session.get(Activity, int(args["activity"])) if args.get("activity", "").isdigit() else None
            )
            if activity is None:
                raise ServiceError(404, "Not Found", detail="unknown activity")
            tool = session.get(Tool, activity.tool_id)
            assert tool is not None
            login_url, params = login_request(session, tool, user, activity=activity, target=target)
    sep = "&" if "?" in login_url else "?"
    return jsonify(
        {
            "method": state.config("LOGIN_METHOD"),
            "login_url": login_url,
            "params": params,
            "url": login_url + sep + urlencode(params),
        }
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(count_request)

"""LTI endpoints at stable URLs: /lti/login, /lti/launch, /.well-known/jwks.json, /lti/config, /lti/register."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from .. import db
from ..cache import get_store
from ..course.catalog import get_catalog
from ..grading import reconcile
from ..http import shared_session
from ..security import frame_platform
from . import keys
from .claims import DEEP_LINKING_REQUEST
from .keysets import jwks_cache
from .launch import ToolMessageLaunch
from .login import begin_login, browser_id, launch_url, login_parameters, posted_form, redirect_response
from .provision import choose_course, nonce_with_rows, provision
from .toolconf import registration_cache
from .toolinfo import tool_info

bp = Blueprint("lti", __name__)


def external_url(endpoint: str, **values: Any) -> str:
    """Absolute URL on the configured public base (BASE_URL), or on the request's host when none is set."""
    base = str(current_app.config["BASE_URL"])
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> WerkzeugResponse:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    result = begin_login(
        login_parameters(req),
        s=db.session,  # made only if the platform is not in the registration cache
        secret_key=app.config["SECRET_KEY"],
        launch_url=launch_url(app, req, lambda: external_url("lti.launch")),
        browser_id=browser_id(req),
        registrations=registration_cache(app),
    )
    return redirect_response(result)


@bp.post("/lti/launch")
def launch() -> WerkzeugResponse:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cfg = app.config
    store = get_store()
    registrations = registration_cache(app)
    launch_message = ToolMessageLaunch(
        form=posted_form(request._get_current_object()),  # type: ignore[attr-defined]
        cookies=request.cookies,
        secure=request.is_secure,
        s=db.session,  # made only if a look-up misses the registration cache
        store=store,
        http=shared_session(),
        config=cfg,
        jwks=jwks_cache(app),
        registrations=registrations,
        origin=request.headers.get("Origin"),
    )
    try:
        validated = launch_message.validate()
    finally:
        if launch_message.platform is not None:  # a refusal page shown in that platform's frame
            frame_platform(launch_message.platform.id)
    claims = validated.claims()
    target = choose_course(claims, get_catalog(), cfg["DEFAULT_COURSE"])
    assert validated.platform is not None and validated.deployment is not None
    platform, deployment = validated.platform, validated.deployment
    # The launch's writes on a connection of their own, without the request's ORM Session (db.write_transaction:
    # its set-up and commit cost more than the writes); rolled back on any error or refusal. On PostgreSQL they
    # are one statement committed on its own (a replay writes nothing), and a reconcile after it its own
    # transaction: a failed reconcile leaves the launch's rows, and the next launch looks again.
    with db.write_transaction() as tx:
        with_rows = nonce_with_rows(store)
        if not with_rows:
            validated.consume_nonce()
        result = provision(
            tx,
            platform=platform,
            deployment=deployment,
            claims=claims,
            target=target,
            languages=list(cfg["LANGUAGES"]),
            session_lifetime=int(cfg["SESSION_LIFETIME_SECONDS"]),
            config=cfg,
            nonce=validated.nonce_marker() if with_rows else None,
            rows_seen=registrations,
        )
        if result.has_results:
            # What this activity's grade item should hold but was never sent (an activity added after the
            # learner's results exist, a module placed later): queued with the launch, sent by the worker. A
            # learner without a module result in the course (one launching for the first time, one who has only
            # read) has nothing to send, so there is nothing to look for.
            course = get_catalog().get(target.course_id)
            assert result.resource_link_id is not None
            assert course is not None
            reconcile(
                tx.session(),
                user_id=result.user_id,
                context_id=result.context_id,
                course=course,
                link_ids=[result.resource_link_id],
            )
        tx.commit()
    if result.message_type == DEEP_LINKING_REQUEST:
        endpoint = "deeplinking.picker"
    elif result.is_instructor:
        endpoint = "instructor.start"
    elif target.module_id is not None:
        # A one-module activity: straight to its module page, where learner.start would send the browser with
        # another redirect (a request more per launch: the session read, the Flask request).
        url = url_for("learner.module", sid=result.session_token, module_id=target.module_id)
        return redirect(url, code=303)
    else:
        endpoint = "learner.start"
    return redirect(url_for(endpoint, sid=result.session_token), code=303)


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    body = keys.public_jwks(db.session(), int(current_app.config["KEY_RETIRE_GRACE_SECONDS"]))
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/lti/config")
def config() -> Response | str:
    info = tool_info(external_url)
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if best == "application/json":
        return jsonify(info)
    return render_template("lti/config.html", info=info, catalog=get_catalog())


def init_app(app: Flask) -> None:
    from . import deeplinking, registration

    app.register_blueprint(bp)
    app.register_blueprint(registration.bp)
    app.register_blueprint(deeplinking.bp)

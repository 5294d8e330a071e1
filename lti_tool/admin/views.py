"""The operator area under /admin: sign-in, platforms and deployments, registration links, tool keys, the grade
outbox and health.

Every request passes `_guard`: pages need a signed-in operator (else a redirect to the sign-in page) and every
POST a valid Flask-WTF CSRF token (else a 403 page, nothing changed). Responses are never cached and never framed.
Views are thin: they call the services (lti.platforms, lti.registration, lti.keys, grading) and commit. The
forms (WTForms) are imported by the views that show them, with the area's first such request (csrf.py says why).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_timedelta
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from .. import db
from ..cache import get_store
from ..db import advisory_lock
from ..errors import NotAllowed, NotFound
from ..grading import resend
from ..grading.outbox import STATES
from ..i18n import berlin_when
from ..i18n import lazy_gettext as _l
from ..lti import keys
from ..lti.platforms import (
    MAX_LENGTH,
    MISSING,
    NOT_A_URL,
    TOO_LONG,
    PlatformSpec,
    add_platform,
    find_platform,
    set_deployment_active,
    spec_problems,
)
from ..lti.registration import issue_link
from ..lti.toolconf import registrations_changed
from ..lti.views import external_url
from ..models import Deployment, Platform, ToolKey
from . import reports, signin
from .accounts import Role, authenticate, normalize_username
from .csrf import BlueprintCSRF
from .throttle import LoginThrottle

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin")
csrf = BlueprintCSRF()
bp.context_processor(csrf.template_context)
PUBLIC = {"admin.login"}
BOTH_ROLES = PUBLIC | {"admin.logout"}
OFFICE_PREFIX = "admin.register"  # every endpoint of the certification register starts so

# The admin pages are never framed (not even by a registered platform) and send a Referer only to themselves:
# Flask-WTF's HTTPS check compares it with the host.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none';"
)


def _safe_next(target: str | None) -> str:
    """Only back to a page of the operator area (no open redirect); `target` is a path inside the app."""
    if (
        target
        and (target == "/admin" or target.startswith("/admin/"))
        and "//" not in target
        and "\\" not in target
    ):
        return request.script_root + target
    return url_for("admin.overview")


def is_office_page(endpoint: str | None) -> bool:
    """The certification register's pages (lti_tool/register/views.py): the only ones of the office role."""
    return (endpoint or "").startswith(OFFICE_PREFIX)


@bp.before_request
def _guard() -> Response | None:
    languages: list[str] = current_app.config["LANGUAGES"]
    if request.args.get("lang") in languages:
        session["lang"] = request.args["lang"]
    if session.get("lang") in languages:
        g.locale = session["lang"]
    account = signin.current()
    if request.endpoint not in PUBLIC and account is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("admin.login", next=target), code=303)
    if account is not None and request.endpoint not in BOTH_ROLES:
        office = account.role == Role.OFFICE
        if office and request.endpoint == "admin.overview":
            return redirect(url_for("admin.register"), code=303)
        if office != is_office_page(request.endpoint):
            log.warning(
                "account %s (%s) refused %s %s", account.username, account.role, request.method, request.path
            )
            raise NotAllowed(
                _l("Your account does not open this page."),
                hint=_l("Use the links in the navigation of the area you are signed in to."),
                code="role_refused",
            )
    if request.method == "POST":
        csrf.protect()
    return None


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Referrer-Policy"] = "same-origin"
    return resp


def _when(value: dt.datetime | None) -> str:
    return berlin_when(value)  # the tool's one date and time format


def _age(seconds: float | None) -> str:
    return "–" if seconds is None else str(format_timedelta(dt.timedelta(seconds=seconds), threshold=1.0))


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    account = g.get("operator")
    return {
        "operator": account,
        "is_office": account is not None and account.role == Role.OFFICE,
        "when": _when,
        "age": _age,
        "states": STATES,
    }


# --- sign-in --------------------------------------------------------------------------------------


def _throttle() -> LoginThrottle:
    config = current_app.config
    return LoginThrottle(
        get_store(),
        per_user=int(config["ADMIN_LOGIN_MAX_FAILURES"]),
        per_address=int(config["ADMIN_LOGIN_MAX_FAILURES_PER_IP"]),
        lockout_seconds=int(config["ADMIN_LOGIN_LOCKOUT_SECONDS"]),
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    target = _safe_next(request.values.get("next"))
    if signin.current() is not None:
        return redirect(target, code=303)
    from .forms import LoginForm

    form = LoginForm()
    error: Any = None
    status = 200
    if form.validate_on_submit():
        username = normalize_username(form.username.data)
        address = request.remote_addr or "unknown"
        throttle = _throttle()
        attempt = throttle.begin(username, address)
        if attempt is None:
            minutes = max(1, int(current_app.config["ADMIN_LOGIN_LOCKOUT_SECONDS"]) // 60)
            error = _(
                "Too many failed sign-in attempts. Signing in is blocked for %(minutes)s minutes; "
                "please try again later.",
                minutes=minutes,
            )
            status = 429
            log.warning("operator sign-in refused: too many failures (user name or address %s)", address)
        else:
            s = db.write_session()
            operator = authenticate(s, username, form.password.data)
            if operator is None:
                s.rollback()
                throttle.failed(attempt)
                error, status = _("The user name or the password is wrong."), 401
                log.warning("operator sign-in failed from %s", address)
            else:
                s.commit()
                throttle.succeeded(attempt)
                signin.start(operator)
                log.info("operator %s signed in from %s", operator.username, address)
                return redirect(target, code=303)
    elif form.is_submitted():
        status = 400
    page = render_template(
        "admin/login.html", form=form, error=error, ended=signin.ended(), next=request.values.get("next")
    )
    return page, status


@bp.post("/logout")
def logout() -> Response:
    operator = signin.current()
    signin.end()
    if operator is not None:
        log.info("operator %s signed out", operator.username)
    flash(_("You are signed out."))
    return redirect(url_for("admin.login"), code=303)


# --- overview -------------------------------------------------------------------------------------


@bp.get("/")
def overview() -> str:
    s = db.session()
    health = reports.health(current_app._get_current_object(), s)  # type: ignore[attr-defined]
    return render_template(
        "admin/overview.html",
        platform_count=len(reports.platforms(s)),
        awaiting=reports.deployments_awaiting_approval(s),
        open_links=sum(1 for row in reports.registration_links(s) if row.status == reports.OPEN),
        health=health,
    )


# --- platforms and deployments ------------------------------------------------------------------------


@bp.get("/platforms")
def platforms() -> str:
    return render_template("admin/platforms.html", rows=reports.platforms(db.session()))


def _problem_text(field: str, problem: str) -> str:
    if problem == MISSING:
        return str(_("Please fill in this field."))
    if problem == TOO_LONG:
        return str(_("At most %(count)s characters.", count=MAX_LENGTH[field]))
    assert problem == NOT_A_URL
    return str(_("Please enter a web address starting with https:// (or http://)."))


@bp.route("/platforms/new", methods=["GET", "POST"])
def platform_new() -> Response | tuple[str, int]:
    from .forms import PlatformForm

    form = PlatformForm()
    errors: dict[str, str] = {}
    if request.method == "POST":
        form.strip()
        spec = PlatformSpec(
            issuer=form.issuer.data or "",
            client_id=form.client_id.data or "",
            auth_login_url=form.auth_login_url.data or "",
            auth_token_url=form.auth_token_url.data or "",
            jwks_url=form.jwks_url.data or "",
            name=form.name.data or "",
            auth_audience=form.auth_audience.data or None,
        )
        deployment_id = form.deployment_id.data or ""
        errors = {
            field: _problem_text(field, problem) for field, problem in spec_problems(spec, deployment_id)
        }
        if not errors:
            s = db.write_session()
            existed = find_platform(s, spec.issuer, spec.client_id) is not None
            platform, deployment = add_platform(s, spec, deployment_id, via="admin")
            s.commit()
            registrations_changed(current_app._get_current_object())  # type: ignore[attr-defined]
            log.info(
                "operator %s %s platform %s (%s, client %s), deployment %s active",
                g.operator.username,
                "updated" if existed else "added",
                platform.id,
                platform.issuer,
                platform.client_id,
                deployment.deployment_id,
            )
            message = (
                _("Platform %(name)s updated; deployment %(deployment)s is active.")
                if existed
                else _("Platform %(name)s added; deployment %(deployment)s is active.")
            )
            flash(message % {"name": platform.name, "deployment": deployment.deployment_id})
            return redirect(url_for("admin.platforms", _anchor=f"platform-{platform.id}"), code=303)
    return render_template("admin/platform_new.html", form=form, errors=errors), 400 if errors else 200


def _set_active(deployment_pk: int, active: bool) -> Response:
    s = db.write_session()
    deployment = s.get(Deployment, deployment_pk)
    if deployment is None:
        raise NotFound(_l("This deployment does not exist (any more)."), hint=_l("Reload the platform list."))
    platform = s.get(Platform, deployment.platform_id)
    assert platform is not None
    set_deployment_active(s, platform, deployment.deployment_id, active)
    s.commit()
    registrations_changed(current_app._get_current_object())  # type: ignore[attr-defined]
    log.info(
        "operator %s %s deployment %s of platform %s (%s)",
        g.operator.username,
        "approved" if active else "deactivated",
        deployment.deployment_id,
        platform.id,
        platform.issuer,
    )
    names = {"deployment": deployment.deployment_id, "name": platform.name}
    if active:
        flash(_("Deployment %(deployment)s of %(name)s is active: it can launch the tool.") % names)
    else:
        flash(_("Deployment %(deployment)s of %(name)s is deactivated: its launches are refused.") % names)
    return redirect(url_for("admin.platforms", _anchor=f"platform-{platform.id}"), code=303)


@bp.post("/deployments/<int:deployment_pk>/approve")
def deployment_approve(deployment_pk: int) -> Response:
    return _set_active(deployment_pk, True)


@bp.post("/deployments/<int:deployment_pk>/deactivate")
def deployment_deactivate(deployment_pk: int) -> Response:
    return _set_active(deployment_pk, False)


# --- registration links -----------------------------------------------------------------------------


@bp.route("/registration-links", methods=["GET", "POST"])
def links() -> tuple[str, int]:
    from .forms import RegistrationLinkForm

    form = RegistrationLinkForm()
    issued: dict[str, Any] | None = None
    status = 200
    if form.validate_on_submit():
        s = db.write_session()
        token, link = issue_link(s, int(form.days.data) * 86400, form.note.data.strip())
        s.commit()
        log.info("operator %s issued registration link %s (%s)", g.operator.username, link.id, link.note)
        # Shown on this response only: the database keeps just the token's hash.
        issued = {"url": external_url("registration.register", t=token), "link": link}
        form = RegistrationLinkForm(formdata=None)
    elif form.is_submitted():
        status = 400
    rows = reports.registration_links(db.session())
    return render_template("admin/links.html", form=form, rows=rows, issued=issued), status


# --- tool keys ----------------------------------------------------------------------------------------


def _key_rows() -> list[reports.KeyRow]:
    return reports.tool_keys(db.session(), int(current_app.config["KEY_RETIRE_GRACE_SECONDS"]))


@bp.get("/keys")
def tool_keys() -> str:
    return render_template(
        "admin/keys.html",
        rows=_key_rows(),
        grace_hours=int(current_app.config["KEY_RETIRE_GRACE_SECONDS"]) // 3600,
    )


@bp.get("/keys/rotate")
def keys_rotate_confirm() -> str:
    rows = _key_rows()
    current = next((r.key for r in rows if r.key.state == keys.CURRENT), None)
    upcoming = next((r.key for r in rows if r.key.state == keys.NEXT), None)
    return render_template(
        "admin/keys_rotate.html",
        current=current,
        upcoming=upcoming,
        grace_hours=int(current_app.config["KEY_RETIRE_GRACE_SECONDS"]) // 3600,
    )


@bp.post("/keys/rotate")
def keys_rotate() -> Response:
    """Rotate once per confirmation: the form names the key it retires, so a repeated submit changes nothing."""
    s = db.write_session()
    advisory_lock(s, "tool_keys")
    expected = request.form.get("current_kid", "")
    current_kid = s.scalars(select(ToolKey.kid).where(ToolKey.state == keys.CURRENT)).first()
    if current_kid is not None and expected != current_kid:
        s.rollback()
        flash(_("The keys were rotated in the meantime; nothing was changed."), "error")
        return redirect(url_for("admin.tool_keys"), code=303)
    rotation = keys.rotate(s, current_app._get_current_object())  # type: ignore[attr-defined]
    s.commit()
    log.info(
        "operator %s rotated the tool keys: current %s, next %s, retired %s",
        g.operator.username,
        rotation.current_kid,
        rotation.next_kid,
        rotation.retired_kid,
    )
    flash(_("Keys rotated. Key %(kid)s signs from now on.") % {"kid": rotation.current_kid})
    return redirect(url_for("admin.tool_keys"), code=303)


# --- grade outbox --------------------------------------------------------------------------------------


@bp.get("/grades")
def grades() -> str:
    s = db.session()
    health = reports.health(current_app._get_current_object(), s)  # type: ignore[attr-defined]
    failed = reports.failed_grades(s)
    return render_template(
        "admin/grades.html",
        summary=health.grades,
        by_platform=reports.grades_by_platform(s),
        failed=failed,
        failed_platforms=reports.failed_platforms(failed),
        recent=reports.recent_deliveries(s),
        token_troubles=reports.token_troubles(current_app._get_current_object(), s),  # type: ignore[attr-defined]
    )


@bp.post("/grades/resend")
def grades_resend() -> Response:
    row_id = request.form.get("row", type=int)
    platform_id = request.form.get("platform", type=int)
    if (row_id is None) == (platform_id is None):
        abort(400)
    s = db.write_session()
    if row_id is not None:
        added = resend(s, [row_id])
    else:
        platform = s.get(Platform, platform_id)
        if platform is None:
            raise NotFound(_l("This platform does not exist (any more)."), hint=_l("Reload the page."))
        added = resend(s, platform_id=platform.id)
    s.commit()
    log.info(
        "operator %s: send again (row %s, platform %s): %d queued",
        g.operator.username,
        row_id,
        platform_id,
        len(added),
    )
    if added:
        flash(_("Grades queued again: %(count)s. The worker sends them shortly.") % {"count": len(added)})
    else:
        flash(_("Nothing to send again: the grade was already queued again or delivered."), "error")
    return redirect(url_for("admin.grades"), code=303)


# --- health ---------------------------------------------------------------------------------------------


@bp.get("/health")
def health() -> tuple[str, int]:
    report = reports.health(current_app._get_current_object(), db.session())  # type: ignore[attr-defined]
    ok = report.database and report.launch_store
    return render_template("admin/health.html", health=report), 200 if ok else 503


def init_app(app: Flask) -> None:
    from ..legal import admin_views as legal_views  # noqa: F401  (the record of processing activities joins it)
    from ..register import views as register_views  # noqa: F401  (the certification register joins it too)
    from ..review import views as review_views  # noqa: F401  (the courses' review pages join this blueprint)

    csrf.configure(app)
    app.session_interface = signin.AdminCookieSession()
    app.register_blueprint(bp)

"""Certificate pages: the learner's (under /s/<sid>/bescheinigung) and the public check (/verify/<code>)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, redirect, render_template, request, url_for
from flask_babel import format_decimal
from werkzeug.wrappers import Response as WerkzeugResponse

from .. import db
from ..auth import current_visitor, session_blueprint
from ..course.catalog import get_catalog
from ..models import Certificate
from . import service

learner_bp = session_blueprint("certificate", __name__, "/bescheinigung")
public_bp = Blueprint("verify", __name__)


def verify_url(cert: Certificate) -> str:
    from ..lti.views import external_url

    return external_url("verify.show", code=cert.code)


def _issue() -> Certificate | service.NotYet:
    visitor = current_visitor()
    course = get_catalog().get(visitor.course_id)
    assert course is not None
    s = db.write_session()
    result = service.issue(s, user=visitor.user, context_id=visitor.context.id, course=course)
    s.commit()
    return result


@learner_bp.get("/")
def page() -> str:
    result = _issue()
    if isinstance(result, service.NotYet):
        return render_template("certificate/learner.html", cert=None, reason=result.reason)
    return render_template(
        "certificate/learner.html", cert=result, reason=None, verify_url=verify_url(result)
    )


@learner_bp.get("/teilnahmebescheinigung.pdf")
def download() -> WerkzeugResponse:
    result = _issue()
    if isinstance(result, service.NotYet) or result.revoked_at is not None:
        return redirect(url_for("certificate.page"), code=303)  # the page says why there is no PDF
    from . import pdf  # WeasyPrint is loaded by the first certificate, not by every process

    course = get_catalog().get(result.course_id)
    body = pdf.render(result, verify_url(result), pass_mark=course.pass_mark if course else None)
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="Teilnahmebescheinigung.pdf"'},
    )


@public_bp.get("/verify/")
def lookup() -> WerkzeugResponse | tuple[str, int]:
    code = request.args.get("code", "").strip()[:64]
    if not code:
        return render_template("certificate/verify.html", cert=None, code="", checked=False), 200
    normal = service.normalise_code(code)
    if normal is None:
        return render_template("certificate/verify.html", cert=None, code=code, checked=True), 404
    return redirect(url_for("verify.show", code=normal), code=303)


@public_bp.get("/verify/<code>")
def show(code: str) -> tuple[str, int]:
    cert = service.find(db.session(), code[:64])
    genuine = cert is not None and cert.revoked_at is None
    # A revoked certificate says so, and since when (410: it existed and is withdrawn); not who holds it or why.
    revoked = cert if cert is not None and cert.revoked_at is not None else None
    status = 200 if genuine else 410 if revoked else 404
    hours = f"{cert.workload_hours:g}" if cert is not None and cert.workload_hours else ""
    return render_template(
        "certificate/verify.html",
        cert=cert if genuine else None,
        revoked=revoked,
        code=code[:64],
        checked=True,
        hours=format_decimal(float(hours), format="#,##0.#") if hours else "",
    ), status


def init_app(app: Flask) -> None:
    from .logo import operator_logo  # segno and WeasyPrint stay unloaded until a certificate

    operator_logo(app.config.get("CERTIFICATE_LOGO", ""))  # a wrong logo setting stops the start, loudly
    app.register_blueprint(learner_bp)
    app.register_blueprint(public_bp)

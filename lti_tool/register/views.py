"""The certification register under /admin/register, for accounts with the role `office` only.

The routes join the operator area's blueprint, so they share its guard (signed in; the office role opens these
endpoints, all named `register…`, and nothing else; operators open everything else and not these), its CSRF check
on every POST, its headers (no-store, never framed) and its layout. Every view of a record and every export is
written to the audit trail with the account's name before anything is shown or sent.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from .. import db
from ..admin.views import bp
from ..course.catalog import get_catalog
from ..errors import NotFound
from ..gradebook.export import filename, lines
from ..i18n import BERLIN
from ..i18n import lazy_gettext as _l
from ..models import Certificate, RegisterEntry, utcnow
from . import audit, entries, export, revocation, search
from .audit import AuditAction
from .entries import CertificateState, CourseFacts
from .revocation import REASON_MAX, RevocationError
from .search import Filters

log = logging.getLogger(__name__)
EXPORT_BATCH = 1000  # entries per database round trip while the CSV streams


def _courses() -> dict[str, CourseFacts]:
    return {
        course.id: CourseFacts(
            title=course.title,
            workload_hours=course.workload.hours if course.workload else None,
            teaching_units=course.workload.teaching_units if course.workload else None,
        )
        for course in get_catalog().courses.values()
    }


def _module_titles(course_id: str) -> list[tuple[str, int, str]]:
    course = get_catalog().get(course_id)
    return [(m.id, m.position, m.title) for m in course.modules] if course else []


def _account() -> str:
    return str(g.operator.username)


def _hours(value: float | None) -> str:
    return str(format_decimal(value, format="#,##0.#")) if value else ""


def _problem_text(problem: str) -> str:
    texts: dict[str, str] = {
        search.PROBLEM_DATE: _("Please enter a date (e.g. 31.12.2026)."),
        search.PROBLEM_PLATFORM: _("Please choose a platform from the list."),
        search.PROBLEM_COURSE: _("Please choose a course from the list."),
        search.PROBLEM_PERIOD: _("The end of the period lies before its start."),
    }
    return texts[problem]


def _filters() -> tuple[Filters, list[tuple[int, str]]]:
    platforms = entries.platforms(db.session())
    filters = search.parse_filters(request.args, {pid for pid, _name in platforms}, set(_courses()))
    return filters, platforms


@bp.context_processor
def _register_helpers() -> dict[str, Any]:
    return {"hours": _hours, "register_states": CertificateState}


@bp.get("/register")
def register() -> tuple[str, int]:
    filters, platforms = _filters()
    courses = _courses()
    result = entries.page(db.session(), filters, courses)
    errors = {field: _problem_text(problem) for field, problem in filters.problems.items()}
    return render_template(
        "register/list.html",
        result=result,
        filters=filters,
        platforms=platforms,
        courses=sorted(courses.items(), key=lambda item: item[1].title.casefold()),
        errors=errors,
        count_bound=format_decimal(entries.COUNT_BOUND),  # "1.000": the bound as the page says it
        section="admin.register",
    ), 400 if errors else 200


@bp.get("/register/export.csv")
def register_export() -> Response:
    """Every entry the filters keep (all pages), streamed; the export is in the audit trail before it starts."""
    filters, _platforms = _filters()
    courses = _courses()
    s = db.write_session()
    audit.log(s, _account(), AuditAction.EXPORT, detail=filters.describe())
    s.commit()
    log.info("register exported by %s (%s)", _account(), filters.describe())

    def chunks() -> Any:
        rows = entries.all_rows(db.session(), filters, courses, batch=EXPORT_BATCH)
        yield from lines(export.records(rows))

    today = utcnow().astimezone(BERLIN).date()
    resp = Response(stream_with_context(chunks()), mimetype="text/csv")
    resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = (
        f'attachment; filename="{filename("zertifizierungsregister", "nama-nrw", today)}"'
    )
    return resp


@bp.get("/register/code")
def register_lookup() -> WerkzeugResponse | tuple[str, int]:
    """Look-up by certificate code: straight to the record."""
    code = request.args.get("code", "").strip()[:64]
    entry_id = entries.find_entry_id_by_code(db.session(), code) if code else None
    if entry_id is None:
        return render_template(
            "register/lookup.html", code=code, section="admin.register"
        ), 404 if code else 400
    return redirect(url_for("admin.register_record", entry_id=entry_id), code=303)


def _no_entry() -> NotFound:
    return NotFound(
        _l("There is no such entry in the register (any more)."),
        hint=_l("Search the register for the person or the certificate code."),
        code="register_entry_not_found",
    )


def _render_record(entry_id: int, *, error: str | None = None, reason: str = "") -> tuple[str, int]:
    found = entries.record(db.session(), entry_id, _courses(), _module_titles)
    if found is None:
        raise _no_entry()
    return render_template(
        "register/record.html",
        record=found,
        error=error,
        reason=reason,
        reason_max=REASON_MAX,
        section="admin.register",
    ), 400 if error else 200


@bp.get("/register/<int:entry_id>")
def register_record(entry_id: int) -> tuple[str, int]:
    s = db.write_session()
    found = s.execute(
        select(RegisterEntry.id, Certificate.code)
        .outerjoin(
            Certificate,
            (Certificate.user_id == RegisterEntry.user_id)
            & (Certificate.context_id == RegisterEntry.context_id)
            & (Certificate.course_id == RegisterEntry.course_id),
        )
        .where(RegisterEntry.id == entry_id)
    ).one_or_none()
    if found is None:
        raise _no_entry()
    code = found[1]
    audit.log(s, _account(), AuditAction.VIEW, entry_id=entry_id, subject=code or f"#{entry_id}")
    s.commit()
    return _render_record(entry_id)


def _reason_error(code: str) -> str:
    texts: dict[str, str] = {
        "no_reason": _("Please give the reason."),
        "reason_too_long": _("At most %(count)s characters.", count=REASON_MAX),
    }
    return texts[code]


def _change(entry_id: int, action: AuditAction) -> WerkzeugResponse | tuple[str, int]:
    s = db.write_session()
    entry = s.get(RegisterEntry, entry_id)
    if entry is None:
        raise _no_entry()
    cert = s.scalars(
        select(Certificate)
        .where(
            Certificate.user_id == entry.user_id,
            Certificate.context_id == entry.context_id,
            Certificate.course_id == entry.course_id,
        )
        .with_for_update()
    ).one_or_none()
    reason = request.form.get("reason", "")
    if cert is None:
        s.rollback()
        flash(
            _("No certificate has been issued for this completion yet; there is nothing to revoke."), "error"
        )
        return redirect(url_for("admin.register_record", entry_id=entry_id), code=303)
    try:
        if action == AuditAction.REVOKE:
            revocation.revoke(s, cert, account=_account(), reason=reason)
        else:
            revocation.reinstate(s, cert, account=_account(), reason=reason)
    except RevocationError as exc:
        s.rollback()
        if exc.code in ("already_revoked", "not_revoked"):
            flash(
                _("The certificate was already revoked; nothing was changed.")
                if exc.code == "already_revoked"
                else _("The certificate is valid (it was reinstated meanwhile); nothing was changed."),
                "error",
            )
            return redirect(url_for("admin.register_record", entry_id=entry_id), code=303)
        return _render_record(entry_id, error=_reason_error(exc.code), reason=reason[: REASON_MAX + 100])
    audit.log(s, _account(), action, entry_id=entry_id, subject=cert.code)
    s.commit()
    log.info("certificate %s %s by %s", cert.code, action.value, _account())
    if action == AuditAction.REVOKE:
        flash(_("Certificate %(code)s is revoked. Its check page says so from now on.", code=cert.code))
    else:
        flash(_("Certificate %(code)s is valid again.", code=cert.code))
    return redirect(url_for("admin.register_record", entry_id=entry_id), code=303)


@bp.post("/register/<int:entry_id>/revoke")
def register_revoke(entry_id: int) -> WerkzeugResponse | tuple[str, int]:
    return _change(entry_id, AuditAction.REVOKE)


@bp.post("/register/<int:entry_id>/reinstate")
def register_reinstate(entry_id: int) -> WerkzeugResponse | tuple[str, int]:
    return _change(entry_id, AuditAction.REINSTATE)


@bp.get("/register/audit")
def register_audit() -> str:
    raw = request.args.get("seite", "")
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else 1
    return render_template(
        "register/audit.html", trail=audit.trail(db.session(), number), section="admin.register_audit"
    )

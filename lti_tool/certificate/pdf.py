"""The certificate as a tagged PDF (PDF/UA-1) made with WeasyPrint from an HTML template, with a QR code (segno).

Why WeasyPrint and not fpdf2 (which the tool also ships, for the review document): a certificate must be readable
with a screen reader, so its PDF needs a structure tree with headings, paragraphs, the module list as a list and
the check URL as a tagged link, plus DisplayDocTitle and the document language. fpdf2 2.8 tags only images and
links, flat and through private methods; WeasyPrint 70 with `pdf_variant="pdf/ua-1"` tags the HTML's own structure.
It uses Pango from the system (Debian: libpango-1.0-0, libpangoft2-1.0-0).

The certificate says what was frozen when it was issued (service.py); the operator's presentation (logo, another
issuer name, the signatory: config CERTIFICATE_*) is added when it is printed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import segno
from flask import current_app, render_template

from ..i18n import document_date
from ..models import Certificate
from .logo import data_uri, operator_logo

FONTS = Path(__file__).resolve().parent / "fonts"


def _hours(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def context(cert: Certificate, verify_url: str, *, pass_mark: int | None = None) -> dict[str, Any]:
    config = current_app.config
    qr = io.BytesIO()
    segno.make(verify_url, error="m").save(qr, kind="png", scale=8, border=2)
    modules = [
        {"title": str(m["title"]), "date": document_date(str(m["completed_at"]))} for m in cert.modules
    ]
    return {
        "cert": {
            "code": cert.code,
            "holder_name": cert.holder_name,
            "course_title": cert.course_title,
            "issuer_url": cert.issuer_url,
            "modules": modules,
            "workload_hours": cert.workload_hours,
            "teaching_units": cert.teaching_units,
        },
        "issuer_name": config.get("CERTIFICATE_ISSUER_NAME") or cert.issuer_name,
        "logo": operator_logo(config.get("CERTIFICATE_LOGO", "")),
        "signatory": config.get("CERTIFICATE_SIGNATORY", ""),
        "started": document_date(cert.started_at) if cert.started_at else "",
        "completed": document_date(cert.completed_at),
        "issued": document_date(cert.issued_at),
        "hours": _hours(cert.workload_hours) if cert.workload_hours else "",
        "pass_mark": pass_mark,
        "qr": data_uri(qr.getvalue(), "image/png"),
        "verify_url": verify_url,
    }


def render(cert: Certificate, verify_url: str, *, pass_mark: int | None = None) -> bytes:
    from weasyprint import HTML

    html = render_template("certificate/document.html", **context(cert, verify_url, pass_mark=pass_mark))
    document = HTML(string=html, base_url=str(FONTS) + "/")
    return bytes(document.write_pdf(pdf_variant="pdf/ua-1"))

"""The certificate as a PDF (fpdf2, with DejaVu Sans for every name an LMS may send) with a QR code (segno)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import segno
from fpdf import FPDF

from ..i18n import document_date
from ..models import Certificate

FONTS = Path(__file__).resolve().parent / "fonts"
GREEN = (11, 92, 46)
BERLIN = ZoneInfo("Europe/Berlin")


def _date(value: dt.datetime | str) -> str:
    return document_date(value)


def render(cert: Certificate, verify_url: str) -> bytes:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(f"Teilnahmebescheinigung – {cert.course_title}")
    pdf.set_author(cert.issuer_name)
    pdf.set_creator("nama-lti")
    pdf.set_lang("de")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_text_color(*GREEN)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(width, 8, cert.issuer_name, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(18)
    pdf.set_font("DejaVu", "B", 26)
    pdf.cell(width, 14, "Teilnahmebescheinigung", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_text_color(27, 31, 36)
    pdf.set_font("DejaVu", "B", 18)
    pdf.multi_cell(width, 10, cert.holder_name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 12)
    pdf.multi_cell(width, 7, "hat den Online-Kurs", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(width, 8, cert.course_title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 12)
    pdf.multi_cell(
        width,
        7,
        f"am {_date(cert.completed_at)} vollständig abgeschlossen.",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(10)

    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(width, 7, "Abgeschlossene Module", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    for module in cert.modules:
        pdf.cell(14, 6, f"{module['position']}.")
        pdf.cell(width - 14 - 28, 6, str(module["title"])[:90])
        pdf.cell(28, 6, _date(str(module["completed_at"])), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)

    qr = io.BytesIO()
    segno.make(verify_url, error="m").save(qr, kind="png", scale=6, border=2)
    qr.seek(0)
    top = pdf.get_y()
    pdf.image(qr, x=pdf.l_margin, y=top, w=32, h=32, alt_text="QR-Code zur Prüfung der Bescheinigung")
    pdf.set_xy(pdf.l_margin + 38, top + 2)
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(0, 6, f"Prüfcode: {cert.code}", new_x="LEFT", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(width - 38, 5, f"Echtheit prüfen: {verify_url}", new_x="LEFT", new_y="NEXT")
    pdf.multi_cell(width - 38, 5, f"Ausgestellt am {_date(cert.issued_at)}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), top + 36))
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 8)
    pdf.set_text_color(74, 83, 97)
    pdf.multi_cell(
        width,
        4.5,
        "Diese Bescheinigung bestätigt die Teilnahme am Online-Kurs. Ob und wie sie auf die Zertifizierung im "
        "Lehrgang Kommunales Nachhaltigkeitsmanagement NRW (NaMa NRW) angerechnet wird, entscheidet die dafür "
        "zuständige Stelle.",
    )
    return bytes(pdf.output())

"""The certificate as a certification office reads it: earned over HTTP, downloaded, rendered to an image
(pypdfium2) and read back: what it states, that it fits its one A4 page, and that it is a tagged PDF (PDF/UA-1:
structure, language, DisplayDocTitle, a link annotation on the check URL)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
import requests
from flask import Flask
from pypdf import PdfReader

from lti_tool import create_app

from ..course.learner import Learner, take_quiz
from ..peer import Launcher

MM = 72 / 25.4  # PDF points per millimetre


def complete_fixture_course(app: Flask, learner: Learner) -> None:
    """Both modules of the fixture course as a learner does them: lessons, quiz, practice task."""
    for module_id in ("modul-a", "modul-b"):
        for lesson in ("01-einstieg", "02-vertiefung"):
            assert learner.get(f"m/{module_id}/{lesson}").status_code == 200
        assert take_quiz(app, learner, module_id).status_code == 200
        saved = learner.post(
            f"m/{module_id}/praxis", {"text": "Unsere Kommune hat einen Nachhaltigkeitsbericht."}
        )
        assert saved.status_code == 200


def certificate(app: Flask, launcher: Launcher, **claims: Any) -> tuple[bytes, str]:
    learner = Learner.launch(launcher, **claims)
    complete_fixture_course(app, learner)
    page = learner.get("bescheinigung/")
    assert page.status_code == 200
    code = re.search(r"<code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>", page.text)
    assert code, page.text[:2000]
    pdf = learner.get("bescheinigung/teilnahmebescheinigung.pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    return pdf.content, code.group(1)


def page_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return " ".join(document[0].get_textpage().get_text_range().replace("\r", " ").split())
    finally:
        document.close()


def structure(pdf: bytes) -> list[str]:
    """The structure types of the PDF's tag tree, depth first."""
    root: Any = PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    found: list[str] = []

    def walk(element: Any) -> None:
        element = element.get_object()
        if not hasattr(element, "get"):
            return
        if element.get("/S"):
            found.append(str(element["/S"]))
        kids = element.get("/K")
        for kid in kids if isinstance(kids, list) else [kids] if kids is not None else []:
            walk(kid)

    walk(root["/StructTreeRoot"])
    return found


def test_certificate_states_what_a_certification_office_needs(app: Flask, launcher: Launcher) -> None:
    pdf, code = certificate(app, launcher, name="Lea Schneider")
    text = page_text(pdf)
    assert "Teilnahmebescheinigung" in text and "Lea Schneider" in text and "Testkurs Nachhaltigkeit" in text
    assert "1,5 Stunden (2 Unterrichtseinheiten à 45 Minuten)" in text  # workload from course.toml
    assert re.search(r"Kurszeitraum \d\d\.\d\d\.\d{4} bis \d\d\.\d\d\.\d{4}", text), (
        text
    )  # first launch → completion
    assert re.search(r"Modul a – abgeschlossen am \d\d\.\d\d\.\d{4}", text), text
    assert re.search(r"Modul b – abgeschlossen am \d\d\.\d\d\.\d{4}", text), text
    assert "Testträger" in text and "https://traeger.example.org" in text  # issuer from course.toml
    assert "Ort, Datum" in text and "Unterschrift, Stempel" in text  # a line to sign and stamp
    assert f"Prüfcode: {code}" in text and f"/verify/{code}" in text
    assert "bestanden ab 80 %" in text

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1  # one A4 page, nothing pushed onto a second
    assert [round(float(v) / MM) for v in reader.pages[0].mediabox[2:]] == [210, 297]
    assert len(reader.pages[0].images) == 1  # the QR code (no logo unless the operator sets one)


def test_certificate_fits_its_page_when_rendered(app: Flask, launcher: Launcher) -> None:
    """Rendered to an image: a white margin all round (nothing runs off the page), and the lower third is used."""
    pdf, _ = certificate(app, launcher, name="Maximiliane Theodora Musterfrau-Schmidt-Oberhausen")
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=1).to_pil().convert("L")
    finally:
        document.close()
    width, height = image.size
    band = int(8 * MM)  # the page margins are 14–18 mm: an 8 mm band round the edge must stay blank

    def dark(box: tuple[int, int, int, int]) -> int:
        histogram = image.crop(box).histogram()  # grey levels 0..255
        return sum(histogram[:200])

    assert dark((0, 0, width, band)) == 0
    assert dark((0, height - band, width, height)) == 0
    assert dark((0, 0, band, height)) == 0
    assert dark((width - band, 0, width, height)) == 0
    assert dark((band, 2 * height // 3, width - band, height - band)) > 2000  # signature, QR, check URL


def test_certificate_is_a_tagged_pdf(app: Flask, launcher: Launcher) -> None:
    pdf, code = certificate(app, launcher, name="Lea Schneider")
    reader = PdfReader(io.BytesIO(pdf))
    root: Any = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"]
    assert root["/Lang"] == "de"
    assert root["/ViewerPreferences"]["/DisplayDocTitle"]
    assert reader.metadata is not None and "Teilnahmebescheinigung" in str(reader.metadata.title)
    tags = structure(pdf)
    for tag in ("/Document", "/H1", "/H2", "/P", "/L", "/LI", "/LBody", "/Table", "/TH", "/Link", "/Figure"):
        assert tag in tags, (tag, tags)
    assert tags.count("/LI") == 2  # the two modules, as a list
    annotations: Any = reader.pages[0]["/Annots"]
    links = [a.get_object() for a in annotations]
    uris = [str(a["/A"]["/URI"]) for a in links if a.get("/Subtype") == "/Link"]
    assert any(uri.endswith(f"/verify/{code}") for uri in uris), uris


def test_operator_sets_issuer_name_logo_and_signatory(
    test_config: dict[str, Any], tmp_path: Path, launcher: Launcher, app: Flask
) -> None:
    from PIL import Image

    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 40), (11, 92, 46)).save(logo)
    app.config.update(
        CERTIFICATE_LOGO=str(logo),
        CERTIFICATE_ISSUER_NAME="Musterstelle für Nachhaltigkeit",
        CERTIFICATE_SIGNATORY="Dr. Erika Beispiel, Geschäftsführung",
    )
    pdf, _ = certificate(app, launcher, name="Lea Schneider")
    text = page_text(pdf)
    assert "Musterstelle für Nachhaltigkeit" in text and "Dr. Erika Beispiel, Geschäftsführung" in text
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 2  # the logo and the QR code
    assert "/Figure" in structure(pdf)


@pytest.mark.parametrize("setting", ["/nonexistent/logo.png", "{here}/logo.gif", "{here}"])
def test_a_wrong_logo_setting_stops_the_start(
    test_config: dict[str, Any], tmp_path: Path, setting: str
) -> None:
    (tmp_path / "logo.gif").write_bytes(b"GIF89a")
    with pytest.raises(ValueError, match="CERTIFICATE_LOGO"):
        create_app({**test_config, "CERTIFICATE_LOGO": setting.format(here=tmp_path)})


def test_check_page_says_who_issued_what_and_what_the_code_proves(app: Flask, launcher: Launcher) -> None:
    _, code = certificate(app, launcher, name="Lea Schneider")
    shown = requests.get(f"{launcher.tool_url}/verify/{code}")  # anyone, without signing in
    assert shown.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", shown.text.split("<main", 1)[1]).split())
    assert (
        "Echt. Testträger hat diese Teilnahmebescheinigung für den Online-Kurs „Testkurs Nachhaltigkeit“"
        in text
    )
    assert "Was diese Prüfung bestätigt" in text and "alle Pflichtmodule" in text
    assert "1,5 Stunden (2 Unterrichtseinheiten à 45 Minuten)" in text
    assert re.search(r"Kurszeitraum \d\d\.\d\d\.\d{4} bis \d\d\.\d\d\.\d{4}", text), text
    assert "https://traeger.example.org" in text
    assert "data-autofocus" in shown.text.split('role="status"', 1)[1][:80]  # the verdict gets the focus

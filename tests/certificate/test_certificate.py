"""Certificate of participation: issued on completion, downloaded as PDF, checked publicly by code."""

from __future__ import annotations

import io
import re
from typing import Any

import requests
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

from lti_tool.certificate.service import normalise_code
from lti_tool.course.catalog import get_catalog
from lti_tool.db import session_scope
from lti_tool.models import Certificate, Membership, User
from lti_tool.progress import Learner as ProgressLearner

from ..course.learner import work
from ..peer import Launcher


def launched(launcher: Launcher, **claims: Any) -> tuple[str, requests.Response]:
    page = launcher.launch_and_follow(**claims)
    assert page.status_code == 200
    base = page.url.split("/s/")[0] + "/s/" + page.url.split("/s/")[1].split("/")[0]
    return base, page


def complete_course(app: Flask, sub: str = "user-1") -> None:
    """The launched learner completes the fixture course through the progress services (both modules: every
    lesson read, the quiz passed, the practice text submitted)."""
    with session_scope(app) as s:
        user = s.scalars(select(User).where(User.sub == sub)).one()
        context_id = s.scalars(select(Membership.context_id).where(Membership.user_id == user.id)).one()
        learner = ProgressLearner(user.id, context_id, user.platform_id)
    course = get_catalog(app).get("grundlagenkurs")
    assert course is not None
    for module_id in ("modul-a", "modul-b"):
        work(app, learner, course, module_id, score=1.0, completed=True)


def test_no_certificate_before_completion(app: Flask, launcher: Launcher) -> None:
    base, _ = launched(launcher)
    page = launcher.browser.get(base + "/bescheinigung/")
    assert page.status_code == 200 and "sobald Sie alle Pflichtmodule" in page.text
    pdf = launcher.browser.get(base + "/bescheinigung/teilnahmebescheinigung.pdf", allow_redirects=False)
    assert pdf.status_code == 303
    with session_scope(app) as s:
        assert s.scalars(select(Certificate)).all() == []


def test_certificate_pdf_and_public_verification(app: Flask, launcher: Launcher) -> None:
    base, _ = launched(launcher)
    complete_course(app)
    overview = launcher.browser.get(base + "/uebersicht")
    assert "Ihre Teilnahmebescheinigung" in overview.text  # the overview leads to it
    page = launcher.browser.get(base + "/bescheinigung/")
    assert page.status_code == 200 and "Bescheinigung herunterladen" in page.text
    code = re.search(r"<code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>", page.text).group(1)  # type: ignore[union-attr]
    assert launcher.browser.get(base + "/bescheinigung/").text.count(code) >= 1  # issued once, same code

    pdf = launcher.browser.get(base + "/bescheinigung/teilnahmebescheinigung.pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    document = PdfReader(io.BytesIO(pdf.content))
    text = " ".join(document.pages[0].extract_text().split())
    assert "Teilnahmebescheinigung" in text and "Lea Schneider" in text and "Testkurs Nachhaltigkeit" in text
    assert f"Prüfcode: {code}" in text and f"/verify/{code}" in text and "Testträger" in text
    assert "Modul a" in text and "Modul b" in text
    assert len(document.pages[0].images) == 1  # the QR code

    public = requests.Session()  # anyone, without logging in
    shown = public.get(f"{launcher.tool_url}/verify/{code}")
    assert shown.status_code == 200
    assert "Echt." in shown.text and "Lea Schneider" in shown.text and "Testkurs Nachhaltigkeit" in shown.text
    assert "Testträger" in shown.text and "Modul a" in shown.text
    assert (
        "lea.schneider@example.org" not in shown.text and "user-1" not in shown.text
    )  # nothing beyond the certificate

    typed = public.get(f"{launcher.tool_url}/verify/", params={"code": code.lower().replace("-", " ")})
    assert typed.status_code == 200 and typed.url.endswith("/verify/" + code)


def test_unknown_or_malformed_code(launcher: Launcher) -> None:
    assert requests.get(f"{launcher.tool_url}/verify/AAAA-BBBB-CCCC").status_code == 404
    resp = requests.get(f"{launcher.tool_url}/verify/", params={"code": "<script>x</script>"})
    assert resp.status_code == 404 and "<script>x" not in resp.text
    assert requests.get(f"{launcher.tool_url}/verify/").status_code == 200


def test_no_name_no_certificate(app: Flask, launcher: Launcher) -> None:
    from ..peer import DROP

    base, _ = launched(launcher, name=DROP, given_name=DROP, family_name=DROP)
    complete_course(app)
    page = launcher.browser.get(base + "/bescheinigung/")
    assert "übermittelt Ihren Namen nicht" in page.text
    with session_scope(app) as s:
        assert s.scalars(select(Certificate)).all() == []


def test_code_normalisation() -> None:
    assert normalise_code("7kq2 m9xa 4trb") == "7KQ2-M9XA-4TRB"
    assert normalise_code("7KQ2-M9XA-4TRBX") is None
    assert normalise_code("") is None


def test_names_beyond_latin_1_are_printed(app: Flask, launcher: Launcher) -> None:
    base, _ = launched(launcher, name="Murat Yılmaz-Şen")
    complete_course(app)
    pdf = launcher.browser.get(base + "/bescheinigung/teilnahmebescheinigung.pdf")
    assert "Murat Yılmaz-Şen" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()

"""Privacy notice, imprint and accessibility statement: German and English, linked from the footer of every kind
of page, filled from the operator's legal file (placeholders, a warning in the log and on /admin without it), and
the record of processing activities in the operator area."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool import create_app
from lti_tool.legal.settings import LegalFileError

from ..admin.conftest import AdminClient
from ..course.learner import Learner
from ..gradebook.conftest import launch_teacher
from ..peer import Launcher

PUBLIC = ["/datenschutz", "/impressum", "/barrierefreiheit", "/datenschutz/datenfluss"]
FILLED = """
[provider]
name = "Beispielverein e. V."
address = \"\"\"Musterstraße 1
12345 Musterstadt\"\"\"
representative = "Vorstand: Erika Beispiel"
email = "kontakt@example.org"
register = "Vereinsregister Amtsgericht Musterstadt, VR 1234"

[privacy]
dpo = "datenschutz@example.org"
legal_basis = "Art. 6 Abs. 1 lit. e DSGVO"
hosting = "Musterhosting GmbH, Frankfurt am Main"
log_retention = "7 Tage"

[accessibility]
feedback_email = "barrierefreiheit@example.org"
"""


def text(html: str) -> str:
    """The words of a page (soft hyphens, which headings carry for phones, left out)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\xad", "")


@pytest.fixture
def legal_file(tmp_path: Path) -> Path:
    path = tmp_path / "legal.toml"
    path.write_text(FILLED, encoding="utf-8")
    return path


@pytest.fixture
def app_with() -> Iterator[Callable[..., Flask]]:
    """Makes apps with other settings (the same database); their connections are closed afterwards."""
    made: list[Flask] = []

    def make(test_config: dict[str, Any], **settings: Any) -> Flask:
        application = create_app({**test_config, **settings})
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["nama_db"].dispose()


@pytest.mark.parametrize("path", PUBLIC)
def test_pages_are_german_and_english_with_marked_placeholders(client: Any, path: str) -> None:
    german = client.get(path)
    assert german.status_code == 200
    assert '<html lang="de">' in german.text
    english = client.get(path + "?lang=en")
    assert english.status_code == 200 and '<html lang="en">' in english.text
    if path != "/datenschutz/datenfluss":  # the data flow names no operator fact
        assert '<mark class="placeholder">Platzhalter – noch nicht eingetragen' in german.text
        assert '<mark class="placeholder">Placeholder – not set yet' in english.text


def test_a_legal_file_fills_the_pages(
    test_config: dict[str, Any], legal_file: Path, app_with: Callable[..., Flask]
) -> None:
    client = app_with(test_config, LEGAL_FILE=str(legal_file)).test_client()
    imprint = client.get("/impressum").text
    assert "placeholder" not in imprint
    assert "Beispielverein e. V." in imprint and "Musterstraße 1<br>12345 Musterstadt" in imprint
    assert "Vertreten durch: Vorstand: Erika Beispiel" in text(imprint)
    assert '<a href="mailto:kontakt@example.org">' in imprint
    assert "Vereinsregister Amtsgericht Musterstadt, VR 1234" in imprint
    assert "§ 5 Digitale-Dienste-Gesetz (DDG)" in imprint
    privacy = client.get("/datenschutz").text
    assert "Art. 6 Abs. 1 lit. e DSGVO" in privacy and "Musterhosting GmbH" in privacy
    statement = text(client.get("/barrierefreiheit").text)
    assert "barrierefreiheit@example.org" in statement
    # The enforcement body for NRW by default (§ 10d BGG NRW).
    assert "Ombudsstelle für barrierefreie Informationstechnik des Landes Nordrhein-Westfalen" in statement
    assert "https://www.lbbp.nrw.de/ombudsstelle" in statement
    assert "Stand der Vereinbarkeit" in statement and "teilweise vereinbar" in statement
    assert "06.12.2026" in statement  # the date of the tested conformance


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('[provider]\nnmae = "x"\n', "unknown key 'nmae' in [provider]"),
        ('[imprint]\nname = "x"\n', "unknown section [imprint]"),
        ("[provider\nname = 1", "not valid TOML"),
        ("[provider]\nname = 5\n", "[provider] name must be a text in quotes"),
    ],
)
def test_a_broken_legal_file_stops_the_start(
    test_config: dict[str, Any], tmp_path: Path, content: str, problem: str, app_with: Callable[..., Flask]
) -> None:
    path = tmp_path / "legal.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LegalFileError, match=re.escape(problem)):
        app_with(test_config, LEGAL_FILE=str(path))


def test_a_missing_legal_file_stops_the_start(
    test_config: dict[str, Any], tmp_path: Path, app_with: Callable[..., Flask]
) -> None:
    with pytest.raises(LegalFileError, match="cannot be read"):
        app_with(test_config, LEGAL_FILE=str(tmp_path / "nowhere.toml"))


def test_production_without_the_facts_warns_in_the_log_and_on_admin(
    test_config: dict[str, Any],
    legal_file: Path,
    caplog: pytest.LogCaptureFixture,
    operator: str,
    app_with: Callable[..., Flask],
) -> None:
    with caplog.at_level(logging.WARNING, logger="lti_tool.legal.settings"):
        app = app_with(test_config)
        assert not [
            r for r in caplog.records if r.name == "lti_tool.legal.settings"
        ]  # commands (scripts/flask …) make the app too: their output stays clean
        client = app.test_client()
        assert client.get("/").status_code == 200
        assert client.get("/impressum").status_code == 200
    warned = [r.getMessage() for r in caplog.records if r.name == "lti_tool.legal.settings"]
    assert len(warned) == 1, warned  # once per process, with its first request
    assert "[provider] name" in warned[0] and "[privacy] dpo" in warned[0]
    admin = AdminClient(app)
    admin.login()
    overview = admin.get("/admin/").text
    assert "Impressum und Datenschutzerklärung sind unvollständig" in overview
    assert "<code>[provider] address</code>" in overview

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lti_tool.legal.settings"):
        filled = app_with(test_config, LEGAL_FILE=str(legal_file))
        assert filled.test_client().get("/").status_code == 200
    assert not [r for r in caplog.records if r.name == "lti_tool.legal.settings"]
    admin = AdminClient(filled)
    admin.login()
    assert "unvollständig" not in admin.get("/admin/").text


def test_the_privacy_notice_states_the_retention_settings_in_force(
    test_config: dict[str, Any], app_with: Callable[..., Flask]
) -> None:
    client = app_with(test_config, SESSION_IDLE_SECONDS=1200, SESSION_LIFETIME_SECONDS=4 * 3600).test_client()
    page = text(client.get("/datenschutz").text)
    assert "endet 20 Minuten nach ihrer letzten Anfrage und spätestens 4 Stunden nach dem Start" in page
    english = text(client.get("/datenschutz?lang=en").text)
    assert "ends 20 minutes after its last request and 4 hours after the launch" in english


def test_the_privacy_notice_lists_each_table_with_purpose_source_audience_and_retention(client: Any) -> None:
    page = text(client.get("/datenschutz?lang=en").text)
    for title in (
        "Your account with the course tool",
        "Your quiz attempts",
        "Your practice tasks",
        "Your certificate of participation",
        "The participant list of an LMS course",
    ):
        assert title in page
    assert "stored as lti_user.email" in page
    assert (
        "the launch from your learning platform (claims: name, given_name, family_name)".capitalize() in page
    )
    assert "the NaMa NRW certification office" in page
    assert "Other learners of the same LMS course" in page or "other learners of the same LMS course" in page
    assert "No automatic expiry" in page


def _footer(html: str) -> str:
    return html[html.index('<footer class="site-footer">') :]


def test_every_kind_of_page_links_the_three_pages(
    app: Flask, client: Any, launcher: Launcher, operator: str
) -> None:
    public = [
        "/",
        "/lti/config",
        "/verify/",
        "/verify/AAAA-BBBB-CCCC",
        "/admin/login",
        "/gibt-es-nicht",
        *PUBLIC,
    ]
    for path in public:
        footer = _footer(client.get(path).text)
        for target in ("/datenschutz", "/impressum", "/barrierefreiheit"):
            assert f'href="{target}"' in footer, (path, target)
        assert 'target="_blank"' not in footer, path

    learner = Learner.launch(launcher, sub="footer-1")
    teacher = launch_teacher(launcher, sub="footer-t")
    for page in (learner.get("uebersicht").text, teacher.get("lehrende/").text):
        footer = _footer(page)
        # Inside the LMS's frame they open in a new window, in the session's language.
        assert 'href="/datenschutz?lang=de" target="_blank" rel="noopener"' in footer
        assert 'href="/impressum?lang=de" target="_blank"' in footer
        assert "(öffnet ein neues Fenster)" in footer

    admin = AdminClient(app)
    admin.login()
    for path in ("/admin/", "/admin/verarbeitungsverzeichnis"):
        assert 'href="/datenschutz"' in _footer(admin.get(path).text)


def test_the_record_of_processing_activities_for_operators(app: Flask, operator: str) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/admin/verarbeitungsverzeichnis").status_code == 303
    assert anonymous.get("/admin/verarbeitungsverzeichnis.html").status_code == 303
    admin = AdminClient(app)
    admin.login()
    page = admin.get("/admin/verarbeitungsverzeichnis")
    assert page.status_code == 200
    body = text(page.text)
    for heading in (
        "a) Verantwortlicher",
        "b) Zwecke",
        "c) Kategorien betroffener Personen",
        "d) Kategorien von Empfängern",
        "e) Übermittlungen in Drittländer",
        "f) Fristen für die Löschung",
        "g) Technische und organisatorische Maßnahmen",
    ):
        assert heading in body
    assert "Ihr Konto beim Kurs-Tool" in body and "lti_user.email" in body
    download = admin.get("/admin/verarbeitungsverzeichnis.html")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith(
        'attachment; filename="verarbeitungsverzeichnis-'
    )
    assert download.text.startswith("<!doctype html>") and "f) Fristen für die Löschung" in download.text
    assert "admin-nav" not in download.text  # a document of its own, not the operator page


def test_the_data_flow_names_exactly_what_goes_in_and_out(client: Any) -> None:
    page = text(client.get("/datenschutz/datenfluss?lang=en").text)
    for field in (
        "userId",
        "scoreGiven",
        "scoreMaximum",
        "activityProgress",
        "gradingProgress",
        "timestamp",
        "comment",
    ):
        assert field in page
    for claim in ("sub", "https://purl.imsglobal.org/spec/lti/claim/roles", "email"):
        assert claim in page
    assert "Out: grades, and nothing else" in page


# Documents that are not pages of the tool: the certificate (a PDF), the review document as a file (CLI export)
# and the record of processing activities as a download.
NOT_PAGES = {"certificate/document.html", "review/standalone.html", "legal/record_document.html"}


def test_every_page_template_has_the_footer_links() -> None:
    """A template that is a page of its own extends base.html, whose footer links the three pages."""
    templates = Path(__file__).resolve().parent.parent.parent / "templates"
    assert "{{ legal_links() }}" in (templates / "base.html").read_text()  # lti_tool/fragments.py
    for path in templates.rglob("*.html"):
        name = path.relative_to(templates).as_posix()
        source = path.read_text()
        if name == "base.html" or name in NOT_PAGES:
            continue
        assert "<html" not in source, f"{name} is a page without base.html's footer"

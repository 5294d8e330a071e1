"""German first: every interface string in code and templates has a German translation with the same
placeholders; English is the message id. Language follows the session / ?lang= / Accept-Language."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask, request
from flask.testing import FlaskClient

from lti_tool import i18n
from lti_tool.i18n import select_locale

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
METHODS = [("**.py", "python"), ("**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def extracted() -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in (ROOT / "lti_tool", ROOT / "templates"):
        for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(folder), METHODS, keywords=KEYWORDS, strip_comment_tags=True
        ):
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid and "demo_lms" not in filename:
                found[msgid] = f"{folder.name}/{filename}"
    return found


def german() -> dict[str, str]:
    merged: dict[str, str] = {}
    for po in (ROOT / "lti_tool").rglob("translations/de/LC_MESSAGES/messages.po"):
        with po.open("rb") as f:
            for m in read_po(f):
                if not m.id or m.fuzzy:
                    continue
                if isinstance(m.id, tuple):  # plural: every form translated; keyed by the singular
                    assert isinstance(m.string, tuple)
                    if all(m.string):
                        for msgid, text in zip(m.id, m.string, strict=False):
                            merged[str(msgid)] = str(text)
                elif m.string:
                    merged[str(m.id)] = str(m.string)
    return merged


def test_every_interface_string_has_a_german_translation() -> None:
    de = german()
    missing = {msgid: where for msgid, where in extracted().items() if msgid not in de}
    assert not missing, "run scripts/i18n and translate:\n" + "\n".join(
        f"{w}: {m}" for m, w in missing.items()
    )


def test_translations_keep_their_placeholders() -> None:
    broken = [
        (msgid, text)
        for msgid, text in german().items()
        if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(text))
    ]
    assert not broken


def test_public_pages_are_german_by_default_and_english_on_request(client: FlaskClient) -> None:
    page = client.get("/lti/config")
    assert '<html lang="de">' in page.text and "Manuelle Registrierung" in page.text
    page = client.get("/lti/config?lang=en")
    assert '<html lang="en">' in page.text and "Manual registration" in page.text
    page = client.get("/lti/config", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "Manual registration" in page.text


def test_dates_and_times_have_one_format_through_babel() -> None:
    """06.12.2026 and 14:30 everywhere people read a date (pages, CSV, certificate): lti_tool/i18n.py formats
    them in Babel's formats (for the interface languages from its table, checked against Babel below); no page,
    export or document formats a date on its own."""
    from lti_tool.i18n import berlin_when, document_date

    own_formatting = re.compile(
        r"strftime|format_(?:date|datetime|time)\(|\|\s*(?:date|datetime|time)format\b"
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in (ROOT / "lti_tool", ROOT / "templates")
        for path in sorted(folder.rglob("*"))
        if path.suffix in (".py", ".html") and "demo_lms" not in path.parts and path.name != "i18n.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if own_formatting.search(line)
    ]
    assert offenders == []
    import datetime as dt

    from flask import Flask
    from flask_babel import Babel

    moment = dt.datetime(2026, 12, 6, 13, 30, 5, tzinfo=dt.UTC)
    assert document_date(moment) == "06.12.2026" and document_date(moment.isoformat()) == "06.12.2026"
    app = Flask(__name__)
    Babel(app, locale_selector=lambda: "de", default_timezone="Europe/Berlin")
    with app.test_request_context():
        assert berlin_when(moment) == "06.12.2026, 14:30"


# Words the tool's German uses for one thing each (read across all pages): Moodle's German says "Tool", a practice
# task is "eingereicht" (the button says "Antwort einreichen") and compared with the "Musterlösung".
OTHER_VOICES = {
    "Werkzeug": "Tool",
    "Start-Speicher": "Launch-Zwischenspeicher",
    "lernende Person": "Teilnehmer*in",
    "lernenden Person": "Teilnehmer*in",
    "Lernende*r": "Teilnehmer*in",
    "Musterantwort": "Musterlösung",
}
PRACTICE_VERBS = re.compile(r"\b(?:abgegeben|Abgabe|Abgeben)\b")


def test_one_german_voice_in_the_catalogs_and_the_shipped_course() -> None:
    from babel.messages.pofile import read_po

    found = []
    # The pages people work in; the legal texts (lti_tool/legal) are worded on their own and not checked here.
    catalogs = (ROOT / "lti_tool").rglob("de/LC_MESSAGES/messages.po")
    for path in sorted(p for p in catalogs if "legal" not in p.parts):
        with path.open("rb") as handle:
            for message in read_po(handle):
                strings = message.string if isinstance(message.string, tuple) else (message.string or "",)
                for text in strings:
                    found += [
                        f"{path.relative_to(ROOT)}: {word!r} in {text!r}"
                        for word in OTHER_VOICES
                        if word in text
                    ]
    course = ROOT / "content" / "grundlagenkurs"
    shipped = [*course.rglob("module.toml"), course / "course.toml", *(course / "pages").glob("*.md")]
    for path in sorted([*shipped, *(ROOT / "guides" / "de").glob("*.md")]):  # and the guides at /anleitungen/
        text = path.read_text(encoding="utf-8")
        found += [
            f"{path.relative_to(ROOT)}: {m.group(0)!r} (say eingereicht)"
            for m in PRACTICE_VERBS.finditer(text)
        ]
        found += [f"{path.relative_to(ROOT)}: 'Musterantwort'" for _ in re.finditer("Musterantwort", text)]
    assert found == []


def test_spreadsheet_times_are_berlin_minutes_in_iso_order() -> None:
    import datetime as dt

    from lti_tool.i18n import spreadsheet_time

    utc = dt.UTC
    assert (
        spreadsheet_time(dt.datetime(2026, 3, 31, 22, 30, 59, 999, tzinfo=utc)) == "2026-04-01 00:30"
    )  # summer
    assert spreadsheet_time(dt.datetime(2026, 12, 6, 23, 5, tzinfo=utc)) == "2026-12-07 00:05"  # winter
    assert (
        spreadsheet_time(dt.datetime(2026, 10, 25, 0, 59, tzinfo=utc)) == "2026-10-25 02:59"
    )  # before the change
    assert spreadsheet_time(dt.datetime(2026, 10, 25, 1, 0, tzinfo=utc)) == "2026-10-25 02:00"  # after it


def test_learner_page_numbers_and_dates_are_babels_without_its_locale_data() -> None:
    """lti_tool/i18n.py writes the interface languages' numbers, percentages and dates from a small table of their
    CLDR formats (Babel's locale data would cost every web process ~4 MB per language): the same text as Babel's."""
    import datetime as dt

    from babel.dates import format_date
    from babel.numbers import format_decimal, format_percent
    from flask import Flask
    from flask_babel import Babel

    from lti_tool.course.completion import whole_percent
    from lti_tool.i18n import BERLIN, berlin_date, decimal, percent

    numbers = [0, 1, 4, 4.5, 4.25, 4.35, 10.05, 12.5, 999.95, 1234.56, 12345678.9, -2.5, 0.05, 0.15]
    scores = [0.0, 0.004, 0.5, 0.796, 0.8, 0.999, 1.0]
    days = [dt.datetime(2026, month, day, 12, tzinfo=dt.UTC) for month in range(1, 13) for day in (1, 28)]
    days.append(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC))  # already 1 January in Berlin
    for language in ("de", "en"):
        app = Flask(__name__)
        Babel(app, locale_selector=lambda language=language: language, default_timezone="Europe/Berlin")
        with app.test_request_context():
            for value in numbers:
                for digits in (1, 2):
                    expected = format_decimal(value, format="#,##0." + "#" * digits, locale=language)
                    assert decimal(value, digits) == expected, (language, value, digits)
            for score in scores:
                assert percent(score) == format_percent(whole_percent(score) / 100, locale=language)
            for moment in days:
                expected = format_date(moment.astimezone(BERLIN).date(), "medium", locale=language)
                assert berlin_date(moment) == expected, (language, moment)


def test_request_locale_is_parsed_once_per_language(app: Flask) -> None:
    """Flask-Babel's locale comes from the request's language as before, one Locale object per language."""
    from flask_babel import get_locale

    seen = []
    for query in ("", "?lang=en", "?lang=de", "?lang=en", "?lang=xx"):
        with app.test_request_context("/" + query):
            seen.append(get_locale())
    assert [str(locale) for locale in seen] == ["de", "en", "de", "en", "de"]
    assert seen[1] is seen[3] and seen[0] is seen[2]


def test_current_language_is_flask_babels(app: Flask) -> None:
    """`_current_locale` (kept pages, fragments, number formats) says the language Flask-Babel selected, before
    and after its selection, under `force_locale` and after `refresh`."""
    from flask import g
    from flask_babel import force_locale, get_locale, refresh

    from lti_tool.i18n import _current_locale

    assert _current_locale() == "de"  # no request
    for query in ("", "?lang=en"):
        with app.test_request_context("/" + query):
            first = _current_locale()  # selects
            assert first == get_locale().language == _current_locale()
            with force_locale("en" if first == "de" else "de"):
                assert _current_locale() == get_locale().language != first
            assert _current_locale() == first
            g.locale = "en" if first == "de" else "de"  # a session's language, as current_visitor sets it
            refresh()
            assert _current_locale() == get_locale().language == g.locale


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "de"),
        ("lang=en", "en"),
        ("x=1&lang=en", "en"),
        ("l%61ng=en", "en"),  # an escaped name is still lang
        ("lang=en&lang=de", "en"),
        ("lang=xx", "de"),
        ("language=en", "de"),
        ("lang=%FF", "de"),
    ],
)
def test_the_lang_parameter_as_werkzeug_reads_it(app: Flask, query: str, expected: str) -> None:
    with app.test_request_context("/?" + query if query else "/"):
        assert select_locale() == expected


def test_a_query_that_is_not_utf8_asks_for_no_language(app: Flask) -> None:
    """werkzeug's query parsing raises on it (the page was a 500): such a request is German or the browser's."""
    client = app.test_client()
    for accept, html in (("", '<html lang="de">'), ("en", '<html lang="en">')):
        page = client.get(
            "/lti/config",
            environ_overrides={"QUERY_STRING": "lang=\xff"},
            headers={"Accept-Language": accept},
        )
        assert page.status_code == 200 and html in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "en",
        "en-GB,en;q=0.8",
        "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7",
        "fr-FR,fr;q=0.9",
        "fr,en;q=0.1,de;q=0.2",
        "*",
        "en;q=0",
        "EN-us",
        "de;q=0.5, en;q=0.5",
        "garbage;;;q=x,,",
        "en;q=" + "9" * 300,  # longer than the headers kept
    ],
)
def test_the_browser_language_is_werkzeugs_best_match(app: Flask, header: str) -> None:
    with app.test_request_context("/", headers={"Accept-Language": header}):
        expected = request.accept_languages.best_match(app.config["LANGUAGES"]) or app.config["LANGUAGES"][0]
        assert select_locale() == expected


def test_processes_compiling_the_catalogs_at_once_never_collide(tmp_path: Path) -> None:
    """Every web and worker process compiles the catalogs at its start (`compile_catalogs`), several at once; each
    writes through a temporary file of its own, so none fails and the catalog in place is always whole (a fixed
    temporary name let one process rename away the file another was still writing)."""
    po_source = Path(i18n.PACKAGE) / "translations" / "de" / "LC_MESSAGES" / "messages.po"
    folder = tmp_path / "translations" / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "messages.po"
    po.write_bytes(po_source.read_bytes())
    with po_source.open("rb") as f:
        # What a .mo holds: translated messages, not the fuzzy ones.
        expected = {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}
    script = (
        "import sys, pathlib\n"
        "from lti_tool import i18n\n"
        "i18n.PACKAGE = pathlib.Path(sys.argv[1])\n"
        "for _ in range(15):\n"
        "    mo = i18n.PACKAGE / 'translations/de/LC_MESSAGES/messages.mo'\n"
        "    mo.unlink(missing_ok=True)\n"
        "    i18n.compile_catalogs()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    with (folder / "messages.mo").open("rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    assert compiled == expected
    assert sorted(p.name for p in folder.iterdir()) == [
        "messages.mo",
        "messages.po",
    ]  # no temporary file left

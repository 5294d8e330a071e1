"""The certification register as the office uses it: every completion across platforms and contexts, search,
filters, pages, the CSV export, look-up by code and the full record; only completions, no answers or texts."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select, update

from lti_tool.db import session_scope
from lti_tool.i18n import BERLIN
from lti_tool.models import Certificate, CourseProgress, RegisterAudit, RegisterEntry
from lti_tool.register import entries

from ..admin.conftest import AdminClient
from ..gradebook import spreadsheet
from ..gradebook.spreadsheet import Cell
from ..gradebook.test_exports import read_csv
from ..peer import Launcher
from .conftest import TEXT, complete, issue_certificate, text_of


def test_completions_of_every_platform_and_context_are_listed(
    app: Flask, launcher: Launcher, other_launcher: Launcher, office: AdminClient
) -> None:
    lea = complete(app, launcher, "lea", name="Lea Schneider", context="dueren", context_title="Düren 2026")
    code = issue_certificate(lea)
    complete(app, launcher, "max", name="Max Öztürk", context="aachen", context_title="Aachen Herbst")
    complete(app, other_launcher, "lea", name="Lea Schneider", context="bonn", context_title="Bonn Frühjahr")
    resp = office.get("/admin/register")
    assert resp.status_code == 200
    html = text_of(resp)
    assert "3 Abschlüsse" in html
    for expected in ("Lea Schneider", "Max Öztürk", "Düren 2026", "Aachen Herbst", "Bonn Frühjahr", code):
        assert expected in html, expected
    assert "Peer platform" in html and "Other platform" in html
    assert "lea@example.org" in html and "Testkurs Nachhaltigkeit" in html
    assert "1,5 Std." in html  # the workload from the course file
    assert html.count("noch keine Bescheinigung") == 2 and "gültig" in html
    # Completions only: no answers, no practice texts.
    assert TEXT not in html


def test_an_incomplete_course_is_not_in_the_register(
    app: Flask, launcher: Launcher, office: AdminClient
) -> None:
    from ..course.learner import Learner

    Learner.launch(launcher, sub="started-only")
    assert "Noch hat niemand einen Kurs abgeschlossen." in text_of(office.get("/admin/register"))


def test_search_by_name_e_mail_and_code(app: Flask, launcher: Launcher, office: AdminClient) -> None:
    lea = complete(app, launcher, "lea", name="Lea Schneider", context="k1")
    complete(app, launcher, "ozan", name="Özlem Çelik", email="oezlem@kreis.example", context="k1")
    complete(app, launcher, "paul", name="Paul Weber", email="p.weber@stadt.example", context="k1")
    code = issue_certificate(lea)
    for query, who in [
        ("schneid", "Lea Schneider"),
        ("ÖZLEM", "Özlem Çelik"),  # case-insensitive beyond ASCII
        ("çelik", "Özlem Çelik"),
        ("stadt.example", "Paul Weber"),
        (code.lower().replace("-", ""), "Lea Schneider"),  # a code as people type it
        (code[:4], "Lea Schneider"),  # part of a code
    ]:
        html = text_of(office.get("/admin/register", query_string={"q": query}))
        assert "1 Abschluss" in html and who in html, (query, html[:3000])
    html = text_of(office.get("/admin/register", query_string={"q": "nobody%_"}))
    assert "0 Abschlüsse" in html and "Kein Abschluss passt zu diesen Filtern." in html


def test_a_search_finds_the_person_by_any_name_and_a_code_finds_its_completion(
    app: Flask, launcher: Launcher, office: AdminClient
) -> None:
    """Lea's certificate names her Schneider; the LMS calls her Müller since. A search for either name finds all
    her completions (the person); her certificate's code finds the one completion it certifies."""
    first = complete(app, launcher, "lea", name="Lea Schneider", context="k1", context_title="Düren")
    code = issue_certificate(first)
    complete(app, launcher, "lea", name="Lea Müller", context="k2", context_title="Aachen")
    complete(app, launcher, "max", name="Max Weber", context="k2", context_title="Aachen")
    for query in ("schneider", "müller"):
        html = text_of(office.get("/admin/register", query_string={"q": query}))
        assert "2 Abschlüsse" in html and "Düren" in html and "Aachen" in html, (query, html[:3000])
        assert "Max Weber" not in html
    html = text_of(office.get("/admin/register", query_string={"q": code}))
    assert "1 Abschluss" in html and "Düren" in html and "Aachen" not in html


def test_filters_by_platform_course_and_period(
    app: Flask, launcher: Launcher, other_launcher: Launcher, office: AdminClient
) -> None:
    first = complete(app, launcher, "a1", name="Anna Erste", context="k1")
    complete(app, launcher, "a2", name="Bert Zweiter", context="k1")
    complete(app, other_launcher, "b1", name="Carla Dritte", context="k2")
    with session_scope(app, write=True) as s:  # Anna completed last year
        s.execute(
            update(RegisterEntry)
            .where(RegisterEntry.id == first.entry_id)
            .values(completed_at=dt.datetime(2025, 3, 1, 23, 30, tzinfo=dt.UTC))  # 2 March, 00:30 in Berlin
        )
        other_platform = s.scalars(
            select(RegisterEntry.platform_id).where(RegisterEntry.user_id != first.user_id)
        ).all()
    platform_ids = {e.platform_id for e in _all(app)}
    assert len(platform_ids) == 2 and other_platform
    second_platform = max(platform_ids)
    html = text_of(office.get("/admin/register", query_string={"plattform": second_platform}))
    assert "1 Abschluss" in html and "Carla Dritte" in html
    html = text_of(office.get("/admin/register", query_string={"von": "2025-03-02", "bis": "2025-03-02"}))
    assert "1 Abschluss" in html and "Anna Erste" in html  # the day in Berlin, not in UTC
    html = text_of(office.get("/admin/register", query_string={"bis": "2025-03-01"}))
    assert "0 Abschlüsse" in html
    html = text_of(
        office.get("/admin/register", query_string={"kurs": "grundlagenkurs", "von": "2026-01-01"})
    )
    assert "2 Abschlüsse" in html and "Anna Erste" not in html


def _all(app: Flask) -> list[RegisterEntry]:
    with session_scope(app) as s:
        return list(s.scalars(select(RegisterEntry)))


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"von": "31.12.2026"}, "von", "Bitte geben Sie ein Datum ein"),
        ({"bis": "2026-02-30"}, "bis", "Bitte geben Sie ein Datum ein"),
        ({"bis": "9999-12-31"}, "bis", "Bitte geben Sie ein Datum ein"),  # its next day: past the calendar
        ({"von": "0001-01-01"}, "von", "Bitte geben Sie ein Datum ein"),  # its Berlin midnight: before it
        (
            {"von": "2026-05-01", "bis": "2026-04-01"},
            "bis",
            "Das Ende des Zeitraums liegt vor seinem Anfang.",
        ),
        ({"plattform": "999999"}, "plattform", "Bitte wählen Sie eine Plattform aus der Liste."),
        ({"plattform": "1; DROP TABLE"}, "plattform", "Bitte wählen Sie eine Plattform aus der Liste."),
        ({"kurs": "<script>"}, "kurs", "Bitte wählen Sie einen Kurs aus der Liste."),
    ],
)
def test_filters_not_understood_are_said_and_not_applied(
    app: Flask, launcher: Launcher, office: AdminClient, args: dict[str, str], field: str, message: str
) -> None:
    complete(app, launcher, "lea", context="k1")
    resp = office.get("/admin/register", query_string=args)
    html = text_of(resp)
    assert resp.status_code == 400
    assert message in html and f'href="#{field}"' in html and f'id="{field}-error"' in html
    assert "1 Abschluss" in html  # the others still apply; the wrong one is left out
    assert "<script>" not in html


def test_a_nul_character_in_the_search_is_left_out(
    app: Flask, launcher: Launcher, office: AdminClient
) -> None:
    """PostgreSQL refuses a NUL in the search pattern (the list and the export failed with a 500 there)."""
    complete(app, launcher, "lea", name="Lea Schneider", context="k1")
    complete(app, launcher, "max", name="Max Öztürk", context="k1")
    resp = office.get("/admin/register", query_string={"q": "Schnei\x00der"})
    assert resp.status_code == 200 and "1 Abschluss" in text_of(resp)
    export = office.get("/admin/register/export.csv", query_string={"q": "Schnei\x00der"})
    assert export.status_code == 200
    assert [row[0] for row in read_csv(export.get_data())[1:]] == ["Lea Schneider"]


def test_pages(app: Flask, launcher: Launcher, office: AdminClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries, "PAGE_SIZE", 2)
    for n in range(5):
        complete(app, launcher, f"p{n}", name=f"Person Nummer{n}", context="k1")
    first = text_of(office.get("/admin/register"))
    assert "Seite 1 von 3" in first and "Nummer4" in first and "Nummer3" in first and "Nummer2" not in first
    assert 'href="/admin/register?seite=2"' in first
    last = text_of(office.get("/admin/register", query_string={"seite": "3"}))
    assert "Nummer0" in last and "Nummer1" not in last and 'rel="next"' not in last
    beyond = text_of(office.get("/admin/register", query_string={"seite": "99"}))
    assert "Seite 3 von 3" in beyond
    for bad in ("0", "-1", "zwei", "9" * 20):
        assert "Seite 1 von 3" in text_of(office.get("/admin/register", query_string={"seite": bad}))
    filtered = text_of(office.get("/admin/register", query_string={"q": "nummer", "seite": "2"}))
    assert 'href="/admin/register?q=nummer&amp;seite=3"' in filtered  # the filters stay on the pager links


def test_export_is_german_excel_csv_of_all_pages_and_is_audited(
    app: Flask, launcher: Launcher, office: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entries, "PAGE_SIZE", 1)
    lea = complete(app, launcher, "lea", name="=HYPERLINK(1)", context="k1")
    complete(app, launcher, "max", name="Max Öztürk", context="k1")
    code = issue_certificate(lea)
    resp = office.get("/admin/register/export.csv", query_string={"kurs": "grundlagenkurs"})
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="zertifizierungsregister-nama-nrw-' in resp.headers["Content-Disposition"]
    rows = read_csv(resp.get_data())
    assert rows[0][:6] == [
        "Name",
        "E-Mail",
        "Plattform",
        "Kurs im LMS",
        "Kurs",
        "Abgeschlossen am (deutsche Zeit)",
    ]
    assert rows[0][10] == "Widerrufen am (deutsche Zeit)"
    assert len(rows) == 3  # header + both entries, though a page shows one
    by_name = {row[0]: row for row in rows[1:]}
    assert "'=HYPERLINK(1)" in by_name  # a formula is neutralised
    lea_row = by_name["'=HYPERLINK(1)"]
    assert lea_row[8] == code and lea_row[9] == "gültig" and lea_row[6] == "1,5" and lea_row[7] == "2"
    assert by_name["Max Öztürk"][9] == "noch keine Bescheinigung"
    with session_scope(app) as s:
        completed = s.scalars(
            select(RegisterEntry.completed_at).where(RegisterEntry.id == lea.entry_id)
        ).one()
        line = s.scalars(select(RegisterAudit)).one()
    # German Excel reads the completion as that date and time in Berlin, the workload as a number.
    berlin = completed.astimezone(BERLIN).replace(tzinfo=None, second=0, microsecond=0)
    assert spreadsheet.read(lea_row[5]) == Cell("date", berlin)
    assert spreadsheet.read(lea_row[6]) == Cell("number", 1.5)
    assert (line.account, line.action, line.detail) == ("pruefstelle", "export", "kurs=grundlagenkurs")


def test_export_keeps_text_from_the_lms_as_text(app: Flask, launcher: Launcher, office: AdminClient) -> None:
    """Names, e-mail addresses, course titles and codes that German Excel would turn into a date, a number or a
    truth value arrive as text (as in the gradebook's export, tests/gradebook/test_exports.py); the times read as
    dates, the workload and units as numbers, nothing as a formula."""
    nasty = {"a": ("1/8", "3/3@example.org", "März 2026"), "b": ("WAHR", "b@example.org", "12,5")}
    for sub, (name, email, title) in nasty.items():
        issue_certificate(
            complete(app, launcher, sub, name=name, email=email, context=sub, context_title=title)
        )
    with session_scope(app) as s:  # a reason the office typed, which Excel would read as a formula
        s.execute(update(Certificate).values(revoked_at=dt.datetime.now(dt.UTC), revoked_reason="-1 Punkt"))
    rows = read_csv(office.get("/admin/register/export.csv").get_data())
    header, body = rows[0], rows[1:]
    numbers = {6, 7}
    times = {i for i, name in enumerate(header) if name.endswith("(deutsche Zeit)")}
    assert times == {5, 10}
    for row in body:
        for i, field in enumerate(row):
            kind = spreadsheet.read(field).kind
            expected = "date" if i in times else "number" if i in numbers else "text"
            assert kind == expected, (header[i], field, kind)
    shown = {tuple(spreadsheet.shows(f).removeprefix("'") for f in (row[0], row[1], row[3])) for row in body}
    assert shown == set(nasty.values())
    assert {spreadsheet.shows(row[11]).removeprefix("'") for row in body} == {"-1 Punkt"}


def test_look_up_by_code_opens_the_full_record(app: Flask, launcher: Launcher, office: AdminClient) -> None:
    lea = complete(
        app,
        launcher,
        "lea",
        name="Lea Schneider",
        context="k1",
        context_title="Düren 2026",
        link="rl-77",
        link_title="Grundlagenkurs (ganze Aktivität)",
    )
    code = issue_certificate(lea)
    resp = office.get("/admin/register/code", query_string={"code": code.lower().replace("-", " ")})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/admin/register/{lea.entry_id}"
    html = text_of(office.get(resp.headers["Location"]))
    for expected in (
        "Lea Schneider",
        "lea@example.org",
        "Düren 2026",
        "Grundlagenkurs (ganze Aktivität)",
        "rl-77",
        "Peer platform",
        "1. Modul a",
        "2. Modul b",
        code,
        "1,5 Stunden (2 Unterrichtseinheiten à 45 Minuten)",
    ):
        assert expected in html, expected
    assert TEXT not in html
    with session_scope(app) as s:
        line = s.scalars(select(RegisterAudit)).one()
    assert (line.account, line.action, line.entry_id, line.subject) == (
        "pruefstelle",
        "view",
        lea.entry_id,
        code,
    )


def test_a_record_shows_the_lms_user_id_without_invisible_and_direction_characters(
    app: Flask, launcher: Launcher, office: AdminClient
) -> None:
    """An LTI `sub` is any string: a right-to-left override and a zero-width space in it were shown as sent."""
    lea = complete(app, launcher, "=\u202e1+2\u200b9", email="lea@example.org", context="k1")
    page = office.get(f"/admin/register/{lea.entry_id}").text
    assert "<code>=1+29</code>" in page and "\u202e" not in page and "\u200b" not in page


@pytest.mark.parametrize("code", ["AAAA-BBBB-CCCC", "<b>x</b>", "", "1" * 80])
def test_look_up_of_an_unknown_code(app: Flask, office: AdminClient, code: str) -> None:
    resp = office.get("/admin/register/code", query_string={"code": code})
    assert resp.status_code == (400 if not code else 404)
    html = text_of(resp)
    assert "<b>x</b>" not in html
    assert ("Bitte geben Sie einen Prüfcode ein." if not code else "Kein Eintrag des Registers") in html


def test_a_record_that_does_not_exist(office: AdminClient) -> None:
    resp = office.get("/admin/register/424242")
    assert resp.status_code == 404 and "register_entry_not_found" in resp.text


def test_a_record_without_certificate_shows_modules_from_progress(
    app: Flask, launcher: Launcher, office: AdminClient
) -> None:
    done = complete(app, launcher, "lea", context="k1")
    html = text_of(office.get(f"/admin/register/{done.entry_id}"))
    assert "Noch keine Bescheinigung ausgestellt" in html and "1. Modul a" in html and "2. Modul b" in html
    assert 'action="/admin/register/' not in html  # nothing to revoke


def test_the_register_keeps_its_entry_when_learning_data_changes(
    app: Flask, launcher: Launcher, office: AdminClient
) -> None:
    done = complete(app, launcher, "lea", context="k1")
    with session_scope(app, write=True) as s:
        s.execute(update(CourseProgress).values(completed_at=None))
    assert "Lea Schneider" in text_of(office.get("/admin/register"))
    assert len(_all(app)) == 1 and _all(app)[0].id == done.entry_id


def test_a_broad_search_is_counted_up_to_the_bound_and_paged_without_a_last_page(
    app: Flask, launcher: Launcher, office: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above COUNT_BOUND matches the page says "more than" (not the total) and the pager has no last page; the
    pages list the same entries in the same order as the exact path does; a narrower search is counted exactly."""
    monkeypatch.setattr(entries, "PAGE_SIZE", 2)
    for n in range(5):
        complete(app, launcher, f"p{n}", name=f"Person Nummer{n}", context="k1")
    complete(app, launcher, "paul", name="Paul Weber", context="k1")

    def names(html: str) -> list[str]:
        return [f"Nummer{n}" for n in range(4, -1, -1) if f"Nummer{n}" in html]

    exact = [
        names(text_of(office.get("/admin/register", query_string={"q": "nummer", "seite": n})))
        for n in (1, 2, 3)
    ]
    assert exact == [["Nummer4", "Nummer3"], ["Nummer2", "Nummer1"], ["Nummer0"]]
    monkeypatch.setattr(entries, "COUNT_BOUND", 3)
    more = "Mehr als 3 Abschlüsse passen zur Suche – bitte die Suche eingrenzen."
    pages = [text_of(office.get("/admin/register", query_string={"q": "nummer", "seite": n})) for n in (1, 2)]
    assert [names(html) for html in pages] == exact[:2]
    for n, html in enumerate(pages, start=1):
        assert more in html and f"Seite {n}." in html and f"Seite {n} von" not in html, html[:3000]
        assert "5 Abschlüsse" not in html
    assert 'href="/admin/register?q=nummer&amp;seite=2"' in pages[0] and 'rel="prev"' not in pages[0]
    # The pages end with the one holding the bound's match (the 3rd): no next page, though more match.
    assert 'rel="prev"' in pages[1] and 'rel="next"' not in pages[1]
    for beyond in ("3", "99"):  # no address reads further: the last of those pages
        html = text_of(office.get("/admin/register", query_string={"q": "nummer", "seite": beyond}))
        assert more in html and "Seite 2." in html and names(html) == exact[1], beyond
    narrow = text_of(office.get("/admin/register", query_string={"q": "weber"}))
    assert (
        "1 Abschluss passt zu den Filtern." in narrow and "Paul Weber" in narrow and "Mehr als" not in narrow
    )
    at_the_bound = text_of(office.get("/admin/register", query_string={"q": "nummer", "plattform": ""}))
    assert more in at_the_bound
    monkeypatch.setattr(entries, "COUNT_BOUND", 5)
    counted = text_of(office.get("/admin/register", query_string={"q": "nummer"}))
    assert (
        "5 Abschlüsse passen zu den Filtern" in counted
        and "Seite 1 von 3" in counted
        and "Mehr als" not in counted
    )
    everything = text_of(office.get("/admin/register"))  # without a search the total is exact
    assert "6 Abschlüsse." in everything and "Seite 1 von 3" in everything
    monkeypatch.setattr(entries, "COUNT_BOUND", 3)
    english = text_of(office.get("/admin/register", query_string={"q": "nummer", "lang": "en"}))
    assert "More than 3 completions match – please narrow the search." in english and "Page 1." in english


def test_a_broad_search_finds_what_the_narrow_search_finds(app: Flask, launcher: Launcher) -> None:
    """The entry-by-entry test of a broad search (`walked_entries`) keeps the same entries as the people-first
    search (`filtered_entries`): by the learner's name or e-mail, by a name on the learner's certificates (all
    the learner's entries), by the code (that entry only)."""
    from lti_tool.register.search import Filters, filtered_entries, learner_entries_up_to, walked_entries

    first = complete(app, launcher, "lea", name="Lea Schneider", context="k1")
    code = issue_certificate(first)
    complete(app, launcher, "lea", name="Lea Müller", context="k2")
    complete(app, launcher, "max", name="Max Weber", email="max@stadt.example", context="k2")
    issue_certificate(complete(app, launcher, "eva", name="Eva Schmidt", context="k1"))
    with session_scope(app) as s:
        for q in (
            "schneider",
            "müller",
            "MÜLLER",
            "stadt.example",
            "lea",
            code,
            code[:4],
            code.lower().replace("-", ""),
            "nobody",
            "example",
        ):
            f = Filters(q=q)
            narrow = set(s.scalars(select(filtered_entries(s, f).subquery().c.id)))
            broad = set(s.scalars(select(walked_entries(s, f).subquery().c.id)))
            assert narrow == broad, q
            by_learner = list(s.scalars(learner_entries_up_to(s, f, 100)))
            given = set(s.scalars(select(filtered_entries(s, f, by_learner).subquery().c.id)))
            assert given == narrow, q
            f = Filters(q=q, course_id="grundlagenkurs", date_from=dt.date(2020, 1, 1))
            assert set(s.scalars(select(walked_entries(s, f).subquery().c.id))) == broad, q


def test_the_export_of_a_broad_search_has_every_match(
    app: Flask, launcher: Launcher, office: AdminClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entries, "COUNT_BOUND", 2)
    for n in range(5):
        complete(app, launcher, f"p{n}", name=f"Person Nummer{n}", context="k1")
    assert "Mehr als 2 Abschlüsse" in text_of(office.get("/admin/register", query_string={"q": "nummer"}))
    rows = read_csv(office.get("/admin/register/export.csv", query_string={"q": "nummer"}).get_data())
    assert sorted(row[0] for row in rows[1:]) == [f"Person Nummer{n}" for n in range(5)]

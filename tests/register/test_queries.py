"""A page of the register costs a fixed number of SQL statements, whatever the number of entries, searches and
filters; so does a record (X-Query-Count, the benchmark counter)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from lti_tool import create_app
from lti_tool.security import platform_origins

from ..admin.conftest import AdminClient
from ..peer import Launcher
from .conftest import OFFICE, OFFICE_PASSWORD, complete, issue_certificate, signed_in

# Every page of the operator area: the sign-in record read from and written back to the launch store, and the
# account (3; with Redis the launch store is not SQL). Register page: + the platforms for the filter, the count and
# the page's rows (3; with a filter the page's query counts itself: 2; a search first counts up to the bound: 3,
# above it the page's rows need no count: 3) = 6; SQLite adds three BEGINs.
PAGE_STATEMENTS = 9
# Record: sign-in (3) + the entry with its certificate code and the audit line (2) + the record's row and its
# modules (only without a certificate) or its history (2) = 7; SQLite adds its BEGINs and a COMMIT.
RECORD_STATEMENTS = 12


@pytest.fixture
def app(test_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app({**test_config, "BENCH_COUNT_QUERIES": True, "ENV": "development"})
    yield application
    application.extensions["nama_db"].dispose()


def measured(app: Flask, office: AdminClient, path: str) -> int:
    origins = platform_origins(app)
    origins.invalidate()
    origins.load(app)
    resp = office.get(path)
    assert resp.status_code == 200, resp.text[:500]
    return int(resp.headers["X-Query-Count"])


VIEWS = [
    "/admin/register",
    "/admin/register?seite=2",
    "/admin/register?q=schneider",
    "/admin/register?q=%C3%B6zt%C3%BCrk",
    "/admin/register?q=weber",  # could be part of a code: people and codes
    "/admin/register?q=example",  # every learner's e-mail domain: above the bound (COUNT_BOUND is 2 here)
    "/admin/register?q=example&seite=2",
    "/admin/register?plattform=1&kurs=grundlagenkurs&von=2026-01-01&bis=2030-12-31",
]


def test_register_statements_do_not_grow_with_the_entries(
    app: Flask, launcher: Launcher, accounts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lti_tool.register import entries

    monkeypatch.setattr(entries, "PAGE_SIZE", 2)
    monkeypatch.setattr(entries, "COUNT_BOUND", 2)  # Schneider: above the bound; Öztürk: below, then above
    office = signed_in(app, OFFICE, OFFICE_PASSWORD)
    for n in range(3):
        issue_certificate(complete(app, launcher, f"a{n}", name=f"Lea Schneider{n}", context="k1"))
    complete(app, launcher, "c", name="Max Öztürk", context="k1")
    small = {view: measured(app, office, view) for view in VIEWS}
    for n in range(6):
        complete(app, launcher, f"b{n}", name=f"Max Öztürk{n}", context=f"k{n}")
    large = {view: measured(app, office, view) for view in VIEWS}
    assert small == large, (small, large)
    assert all(count <= PAGE_STATEMENTS for count in large.values()), large


def test_record_statements_are_bounded(app: Flask, launcher: Launcher, accounts: None) -> None:
    office = signed_in(app, OFFICE, OFFICE_PASSWORD)
    with_certificate = complete(app, launcher, "a", context="k1")
    issue_certificate(with_certificate)
    without = complete(app, launcher, "b", context="k1")
    counts = [
        measured(app, office, f"/admin/register/{done.entry_id}") for done in (with_certificate, without)
    ]
    assert all(count <= RECORD_STATEMENTS for count in counts), counts

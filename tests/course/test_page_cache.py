"""Learner pages kept rendered (lti_tool/fragments.py `page`): a page served from the kept HTML is the page a
fresh render gives, with the request's own session token, CSRF token, address and seconds left, in German and
in English; a learner never gets another's token. The course overview likewise, kept per progress state, with
the learner's own name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from markupsafe import escape
from sqlalchemy import select

from lti_tool import fragments
from lti_tool.auth import SessionClock
from lti_tool.db import session_scope
from lti_tool.models import Membership, User
from lti_tool.progress import Learner as ProgressLearner

from ..forms import csrf_token
from ..peer import DROP, INSTRUCTOR, Launcher, claim
from .learner import Learner, course, module_claim, work

PAGES = [
    ("lesson", "m/modul-a/01-einstieg"),
    ("last lesson of a module", "m/modul-a/02-vertiefung"),
    ("lesson with a query string", "m/modul-b/01-einstieg?from=overview"),
]


def raw(learner: Learner, path: str, **headers: str) -> str:
    """The page's HTML as sent (the soft hyphens left in)."""
    response = learner.http.get(learner.url(path), headers=headers)
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return response.text


def kept(app: Flask) -> dict[Any, Any]:
    pages = app.extensions.get("nama_pages")
    return pages.pages if pages is not None else {}


@pytest.mark.parametrize("locale", ["de", "en"])
def test_a_kept_page_is_the_page_rendered_afresh(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    # The seconds left change from one request to the next: fixed here, so two renders can be compared whole.
    monkeypatch.setattr(fragments, "session_clock", lambda: SessionClock(1234, 5678, 300))
    first = Learner.launch(launcher, "user-1", **claim("launch_presentation", {"locale": locale}))
    other = Learner.launch(launcher, "user-2", **claim("launch_presentation", {"locale": locale}))
    for what, path in PAGES:
        for headers in ({}, {"Sec-Fetch-Dest": "document"}):
            raw(first, path, **headers)  # renders and keeps it
            before = len(kept(app))
            served = raw(other, path, **headers)  # from the kept page
            assert len(kept(app)) == before and any(kept(app).values()), what
            app.config["PAGE_CACHE"] = False
            try:
                afresh = raw(other, path, **headers)
            finally:
                app.config["PAGE_CACHE"] = True
            assert served == afresh, what
            assert f'<html lang="{locale}">' in served
            assert other.sid in served and first.sid not in served, what
            assert csrf_token(served) == other.csrf != first.csrf
            assert 'data-idle="1234" data-absolute="5678" data-warn="300"' in served
            assert ("Open in a new window" in served or "In neuem Fenster öffnen" in served) == (not headers)


def test_a_page_showing_a_marker_otherwise_is_rendered_every_time(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link werkzeug builds itself quotes the session token's marker: such a page is not kept, and still
    right."""
    learner = Learner.launch(launcher)
    real = fragments.page_url
    monkeypatch.setattr(fragments, "page_url", lambda: real().replace("\ue000", "%EE%80%80"))
    app.jinja_env.globals["page_url"] = fragments.page_url
    try:
        page = raw(learner, "m/modul-a/01-einstieg")
        assert learner.url("m/modul-a/01-einstieg") in page
        assert not any(kept(app).values()) and kept(app)
    finally:
        app.jinja_env.globals["page_url"] = real


def progress_learner(app: Flask, sub: str) -> ProgressLearner:
    with session_scope(app) as s:
        user = s.scalars(select(User).where(User.sub == sub)).one()
        context_id = s.scalars(select(Membership.context_id).where(Membership.user_id == user.id)).one()
        return ProgressLearner(user.id, context_id, user.platform_id)


def overview(app: Flask, learner: Learner) -> tuple[str, str]:
    """The overview as served (kept or not) and as rendered afresh."""
    served = raw(learner, "uebersicht")
    app.config["PAGE_CACHE"] = False
    try:
        afresh = raw(learner, "uebersicht")
    finally:
        app.config["PAGE_CACHE"] = True
    return served, afresh


def learner_pages(app: Flask) -> dict[Any, Any]:
    pages = app.extensions.get("nama_learner_pages")
    return pages.pages if pages is not None else {}


@pytest.mark.parametrize("locale", ["de", "en"])
def test_the_kept_overview_is_the_overview_rendered_afresh(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    """Two learners go the same way (new, a lesson read, the first module complete, the course complete with its
    certificate): the second one's overview comes from the first one's kept page, with the second one's name
    (escaped), token and CSRF token; a learner without a name, and an instructor, get theirs too."""
    monkeypatch.setattr(fragments, "session_clock", lambda: SessionClock(1234, 5678, 300))
    presentation = claim("launch_presentation", {"locale": locale})
    names = {"user-1": 'Lea <b>Schneider</b> & "Co"', "user-2": "Jo O'Brien"}
    learners = {
        sub: Learner.launch(launcher, sub, name=name, given_name=DROP, family_name=DROP, **presentation)
        for sub, name in names.items()
    }
    crs = course(app)
    steps: list[tuple[str, Callable[[ProgressLearner], None]]] = [
        ("new", lambda who: None),
        ("a lesson read", lambda who: work(app, who, crs, "modul-a")),
        ("first module complete", lambda who: work(app, who, crs, "modul-a", score=1.0, completed=True)),
        ("course complete", lambda who: work(app, who, crs, "modul-b", score=1.0, completed=True)),
    ]
    seen = set()
    for what, step in steps:
        for sub, learner in learners.items():
            step(progress_learner(app, sub))
            before = dict(learner_pages(app))
            served, afresh = overview(app, learner)
            assert served == afresh, (what, sub)
            assert learner.sid in served and csrf_token(served) == learner.csrf, (what, sub)
            other = next(other for other in learners.values() if other is not learner)
            assert other.sid not in served and other.csrf not in served, (what, sub)
            if sub == "user-1":  # the first of the two in this state: rendered and kept (new: at the launch)
                made = 0 if what == "new" else 1
                assert len(learner_pages(app)) == len(before) + made and any(learner_pages(app).values()), (
                    what
                )
            else:  # the second: from the first one's page
                assert learner_pages(app) == before, what
            seen.add(served.split('<p class="welcome">')[1].split("</section>")[0].replace(learner.sid, ""))
        assert "Lea &lt;b&gt;Schneider&lt;/b&gt; &amp; &#34;Co&#34;" in raw(learners["user-1"], "uebersicht")
        assert "Jo O&#39;Brien" in raw(learners["user-2"], "uebersicht")
    assert len(seen) == 2 * len(steps)  # each state's page is its own
    assert ("Teilnahmebescheinigung" in served) or ("certificate of participation" in served)

    nameless = Learner.launch(
        launcher, "user-3", name=DROP, given_name=DROP, family_name=DROP, **presentation
    )
    teacher = Learner.launch(launcher, "teacher-1", **{**presentation, **claim("roles", INSTRUCTOR)})
    for learner in (nameless, teacher):
        served, afresh = overview(app, learner)
        assert served == afresh and learner.sid in served
        welcome = served.split('<p class="welcome">')[1].split("</p>")[0]
        assert welcome in (
            ("Welcome.", "Willkommen.")
            if learner is nameless
            else ("Welcome, Lea Schneider.", "Willkommen, Lea Schneider.")
        )


@pytest.mark.parametrize("locale", ["de", "en"])
def test_the_kept_module_page_is_the_module_page_rendered_afresh(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    """The module page likewise, kept per what it shows of the learner's progress in the module: two learners go
    the same way (new, a lesson read, the quiz taken once but not passed, with another score each, the module
    complete), in the course and in a one-module activity (whose launch lands on it). The best score is the
    learner's own, put into the page the first one's visit kept."""
    monkeypatch.setattr(fragments, "session_clock", lambda: SessionClock(1234, 5678, 300))
    presentation = claim("launch_presentation", {"locale": locale})
    crs = course(app)
    low_scores = iter(["20", "40", "60", "0"])  # percent, per learner in the order they take the quiz
    taken: list[str] = []

    def not_passed(who: ProgressLearner) -> None:
        taken.append(next(low_scores))
        work(app, who, crs, "modul-a", score=int(taken[-1]) / 100)

    steps: list[tuple[str, Callable[[ProgressLearner], None]]] = [
        ("new", lambda who: None),
        ("a lesson read", lambda who: work(app, who, crs, "modul-a")),
        ("quiz not passed", not_passed),
        ("module complete", lambda who: work(app, who, crs, "modul-a", score=1.0, completed=True)),
    ]
    for activity in ({}, module_claim("modul-a")):
        context = claim("context", {"id": f"course-{bool(activity)}", "label": "NaMa", "title": "NaMa"})
        subs = [f"user-{bool(activity)}-1", f"user-{bool(activity)}-2"]
        learners = {sub: Learner.launch(launcher, sub, **presentation, **context, **activity) for sub in subs}
        seen = set()
        for what, step in steps:
            for sub, learner in learners.items():
                step(progress_learner(app, sub))
                before = dict(learner_pages(app))
                served = raw(learner, "m/modul-a/")
                app.config["PAGE_CACHE"] = False
                try:
                    afresh = raw(learner, "m/modul-a/")
                finally:
                    app.config["PAGE_CACHE"] = True
                assert served == afresh, (what, sub, activity)
                assert learner.sid in served and csrf_token(served) == learner.csrf, (what, sub)
                if sub == subs[1]:  # the second of the two in this state: from the first one's page
                    assert learner_pages(app) == before, (what, activity)
                shown = served.split("<main")[1].replace(learner.sid, "")
                if what == "quiz not passed":  # the score is each learner's own, the rest the same
                    best = (
                        f"Your best result: {taken[-1]}%"
                        if locale == "en"
                        else f"Ihr bestes Ergebnis: {taken[-1]}\u00a0%"
                    )
                    assert best in shown, (sub, activity, taken)
                    shown = shown.replace(best, "")
                seen.add(shown)
        assert len(seen) == len(steps), activity  # each state's page is its own
        assert ("Next module" in served or "Nächstes Modul" in served) == (not activity)


@pytest.mark.parametrize("locale", ["de", "en"])
def test_the_kept_practice_page_is_the_practice_page_rendered_afresh(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    """The practice task's page, kept per state (not written yet, just saved, saved before on a day, changed):
    two learners go the same way, each with a text of their own (put in per request, escaped), the second
    served from the page the first one's visit kept."""
    monkeypatch.setattr(fragments, "session_clock", lambda: SessionClock(1234, 5678, 300))
    presentation = claim("launch_presentation", {"locale": locale})
    learners = [Learner.launch(launcher, f"user-{n}", **presentation) for n in (1, 2)]
    texts = {
        learner.sid: f"Kommune {n}: <b>Rat</b> & \"Beirat\" – 'Agenda' plant weiter \ue000text\ue001."
        for n, learner in enumerate(learners, start=1)
    }

    def save(learner: Learner, text: str) -> str:
        response = learner.http.post(
            learner.url("m/modul-a/praxis"),
            data={"text": text, "csrf_token": learner.csrf},
            allow_redirects=False,
        )
        assert response.status_code == 303, response.text[:300]
        return str(response.headers["Location"]).split("/praxis", 1)[1]

    steps: list[tuple[str, Callable[[Learner], str]]] = [
        ("not written yet", lambda learner: ""),
        ("saved", lambda learner: save(learner, texts[learner.sid])),
        ("saved before", lambda learner: ""),
        ("changed", lambda learner: save(learner, texts[learner.sid] + " Mehr.")),
    ]
    seen = set()
    for what, step in steps:
        for number, learner in enumerate(learners):
            query = step(learner)
            before = dict(kept(app))
            served = raw(learner, "m/modul-a/praxis" + query)
            app.config["PAGE_CACHE"] = False
            try:
                afresh = raw(learner, "m/modul-a/praxis" + query)
            finally:
                app.config["PAGE_CACHE"] = True
            assert served == afresh, (what, number)
            assert learner.sid in served and csrf_token(served) == learner.csrf, what
            if number == 1:  # the second in this state: from the first one's page
                assert kept(app) == before, what
            else:
                assert len(kept(app)) == len(before) + 1, what
            if what != "not written yet":
                assert str(escape(texts[learner.sid].split(" \ue000")[0])) in served, what
                other = texts[learners[1 - number].sid][:10]
                assert other not in served, what
            seen.add(served.replace(learner.sid, "").replace(learner.csrf, ""))
    # Each state's page is its own, and each learner's text their own (nothing written yet: the same page).
    assert len(seen) == 2 * len(steps) - 1


ROOTS = ["", "/prefix", "/prefix/", "/pr%C3%A4fix", "/pre fix"]
PATHS = [
    "/s/Ab-_9xYz/m/modul-a/",
    "/s/Ab-_9xYz/m/modul-a/01-einstieg",
    "/s/x/m/a b/",
    "/s/x/m/%C3%A4",
    "/s/x/m/a%2Fb",
    "/s/x/m/a%25b",
    "/s/x/m/ä",
    "/s/x/m/a?b",
    "/s/x/m/a#b",
    "//s/x/",
    "/",
]
QUERIES = ["", "from=overview", "a=1&b=%20", "q=%C3%A4", "x=a?b", "x=%25&y=+", "x=a b", "l=ä"]
HOSTS = ["localhost", "Tool.Example:8443", "xn--mnchen-3ya.de", "[::1]:5000", "127.0.0.1:80"]


@pytest.mark.parametrize("base", ["", "https://tool.example"])
def test_a_pages_own_address_is_request_url(app: Flask, base: str) -> None:
    """`fragments._own_url` (the "Open in a new window" link of every kept page) is `request.url` (on BASE_URL
    when there is one), also for what werkzeug quotes or turns back into an IRI."""
    from werkzeug.test import create_environ

    for root in ROOTS:
        for path in PATHS:
            for query in QUERIES:
                for host in HOSTS:
                    environ = create_environ()
                    # As a WSGI server passes them: the request's bytes as latin-1 text.
                    environ.update(
                        SCRIPT_NAME=root.encode().decode("latin-1"),
                        PATH_INFO=path.encode().decode("latin-1"),
                        QUERY_STRING=query.encode().decode("latin-1"),
                        HTTP_HOST=host,
                    )
                    req = app.request_class(environ)
                    expected = base + req.url[len(req.host_url) - 1 :] if base else req.url
                    assert fragments._own_url(req, base) == expected, (root, path, query, host)


def test_the_overviews_next_step_follows_each_learners_last_module(app: Flask, launcher: Launcher) -> None:
    """Two learners with the same progress (the first lesson of both modules read) but another last module: each
    overview offers to go on in the learner's own last module (what the overview shows is worked out once per
    progress state and kept: the last module is part of that state)."""
    first = Learner.launch(launcher, "user-1")
    second = Learner.launch(launcher, "user-2")
    for learner, order in ((first, ("modul-a", "modul-b")), (second, ("modul-b", "modul-a"))):
        for module_id in order:
            assert learner.get(f"m/{module_id}/01-einstieg").status_code == 200
    for learner, last in ((first, "modul-b"), (second, "modul-a")):
        for _ in range(2):  # worked out, then as kept
            page = raw(learner, "")
            action = page.split('class="next-step__action"')[1].split("</p>")[0]
            assert f"/s/{learner.sid}/m/{last}/02-" in action, (last, action)

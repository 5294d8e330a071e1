"""The exchange with replies: a learner replies to a colleague's answer (one level), may show their municipality
(entered once, removable), sees new replies to their own answer marked; an instructor hides a post with a reason
(its author sees it hidden with the reason, nobody else does) and shows it again. Escaped, CSRF-checked, kept to
one course context; garbage in every field, oversized text, another context and a learner trying the
instructor's action are refused with a clear page and nothing written."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from lti_tool import exchange
from lti_tool.db import session_scope
from lti_tool.models import ExchangeProfile, ExchangeReply, PracticeSubmission, User, utcnow

from ..peer import INSTRUCTOR, LTI, Launcher
from .learner import Learner, context_claim

ANNA = "Bei uns gibt es einen Klimabeirat <b>und</b> ein Leitbild seit 2019."
BEN = "Unsere Stadt hat ein Nachhaltigkeitsbüro mit zwei Stellen."


def answer_id(app: Flask, sub: str, module_id: str = "modul-a") -> int:
    with session_scope(app) as s:
        return int(
            s.scalars(
                select(PracticeSubmission.id)
                .join(User, User.id == PracticeSubmission.user_id)
                .where(User.sub == sub, PracticeSubmission.module_id == module_id)
            ).one()
        )


def written(app: Flask) -> list[Any]:
    """Everything the exchange writes."""
    with session_scope(app) as s:
        return [
            s.execute(select(ExchangeReply).order_by(ExchangeReply.id)).scalars().all().__len__(),
            [
                tuple(r)
                for r in s.execute(
                    select(
                        ExchangeReply.id,
                        ExchangeReply.text,
                        ExchangeReply.hidden_at,
                        ExchangeReply.hidden_reason,
                    ).order_by(ExchangeReply.id)
                )
            ],
            [tuple(r) for r in s.execute(select(ExchangeProfile.user_id, ExchangeProfile.municipality))],
            [
                tuple(r)
                for r in s.execute(
                    select(
                        PracticeSubmission.id,
                        PracticeSubmission.hidden_at,
                        PracticeSubmission.hidden_reason,
                    ).order_by(PracticeSubmission.id)
                )
            ],
        ]


@pytest.fixture
def pair(launcher: Launcher) -> tuple[Learner, Learner]:
    anna = Learner.launch(launcher, sub="anna", given_name="Anna", name="Anna Albers")
    ben = Learner.launch(launcher, sub="ben", given_name="Ben", name="Ben Berger")
    assert anna.post("m/modul-a/praxis", {"text": ANNA}).ok
    assert ben.post("m/modul-a/praxis", {"text": BEN}).ok
    return anna, ben


def teacher(launcher: Launcher, sub: str = "teacher-1", **claims: Any) -> Learner:
    return Learner.launch(launcher, sub=sub, name="Tanja Lehrerin", **{LTI + "roles": INSTRUCTOR}, **claims)


def test_reply_municipality_and_new_replies_marked(app: Flask, pair: tuple[Learner, Learner]) -> None:
    anna, ben = pair
    shown = ben.post(
        "m/modul-a/austausch/kommune", {"kommune": "  Stadt\r\n  <Aachen>  ", "aktion": "speichern"}
    )
    assert shown.status_code == 200 and "Ihre Kommune wird jetzt bei Ihrem Namen angezeigt." in shown.text
    assert 'value="Stadt &lt;Aachen&gt;"' in shown.text
    sent = ben.post(
        "m/modul-a/austausch/antworten",
        {
            "antwort": str(answer_id(app, "anna")),
            "text": "Spannend! <script>alert(1)</script> Wer sitzt im Beirat?",
        },
    )
    assert sent.status_code == 200 and "Danke, Ihr Kommentar ist gesendet." in sent.text

    page = anna.get("m/modul-a/austausch").text
    assert "1 neuer Kommentar zu Ihrer Antwort seit Ihrem letzten Besuch." in page
    own = page.split('class="own-thread"', 1)[1].split("</section>", 1)[0]
    assert "Ben" in own and "Berger" not in own and "(Stadt &lt;Aachen&gt;)" in own
    assert 'class="badge badge--new">neu<' in own
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in own and "<script>alert" not in page
    again = anna.get("m/modul-a/austausch").text
    assert "neuer Kommentar" not in again and "badge--new" not in again  # seen now
    # Anna answers back on her own answer; Ben sees both replies under Anna's answer, nothing marked for him.
    assert anna.post(
        "m/modul-a/austausch/antworten", {"antwort": str(answer_id(app, "anna")), "text": "Rat und Verbände."}
    ).ok
    bens = ben.get("m/modul-a/austausch").text
    thread = bens.split(f'id="antwort-{answer_id(app, "anna")}"', 1)[1].split('class="reply-form"', 1)[0]
    assert (
        thread.index("Wer sitzt im Beirat?") < thread.index("Rat und Verbände.") and "badge--new" not in bens
    )

    removed = ben.post("m/modul-a/austausch/kommune", {"aktion": "entfernen"})
    assert removed.status_code == 200 and "Ihre Kommune wird nicht mehr angezeigt." in removed.text
    assert "Aachen" not in anna.get("m/modul-a/austausch").text
    with session_scope(app) as s:
        assert s.scalar(select(func.count()).select_from(ExchangeProfile)) == 0


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"text": ""}, 422, "Bitte schreiben Sie Ihren Kommentar in das Feld."),
        ({"text": " \r\n\x00\t "}, 422, "Bitte schreiben Sie Ihren Kommentar in das Feld."),
        ({"text": None}, 422, "Bitte schreiben Sie Ihren Kommentar in das Feld."),
        ({"text": "ü" * (exchange.REPLY_MAX + 1)}, 422, "Ihr Kommentar ist zu lang: 2001 Zeichen"),
        ({"antwort": "abc"}, 404, "Diese Antwort gibt es auf dieser Austauschseite nicht."),
        ({"antwort": "-1"}, 404, "Diese Antwort gibt es auf dieser Austauschseite nicht."),
        ({"antwort": "\x00"}, 404, "Diese Antwort gibt es auf dieser Austauschseite nicht."),
        ({"antwort": "9" * 40}, 404, "Diese Antwort gibt es auf dieser Austauschseite nicht."),
        ({"antwort": "999999"}, 404, "Diese Antwort gibt es auf dieser Austauschseite nicht."),
        ({"antwort": None}, 404, "Diese Antwort gibt es auf dieser Austauschseite nicht."),
    ],
)
def test_bad_replies_are_refused_and_nothing_is_written(
    app: Flask, pair: tuple[Learner, Learner], form: dict[str, str | None], status: int, message: str
) -> None:
    _, ben = pair
    data = {"antwort": str(answer_id(app, "anna")), "text": "Ein guter Kommentar.", **form}
    before = written(app)
    page = ben.post("m/modul-a/austausch/antworten", {k: v for k, v in data.items() if v is not None})
    assert page.status_code == status and message in page.text
    assert ("Fehler:" in page.text) if status == 422 else ("Fehlerkennung" in page.text)
    assert written(app) == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Bitte tragen Sie Ihre Kommune ein"),
        ("\x00 \n ", "Bitte tragen Sie Ihre Kommune ein"),
        ("\u200b\ufeff\u00ad\u2800", "Bitte tragen Sie Ihre Kommune ein"),  # invisible: no letter
        ("12345", "Bitte tragen Sie Ihre Kommune ein"),
        (None, "Bitte tragen Sie Ihre Kommune ein"),
        ("K" * (exchange.MUNICIPALITY_MAX + 1), "Der Name Ihrer Kommune ist zu lang: 101 Zeichen"),
    ],
)
def test_bad_municipality_is_refused_and_nothing_is_written(
    app: Flask, pair: tuple[Learner, Learner], value: str | None, message: str
) -> None:
    _, ben = pair
    before = written(app)
    page = ben.post("m/modul-a/austausch/kommune", {"kommune": value} if value is not None else {})
    assert page.status_code == 422 and message in page.text and 'aria-invalid="true"' in page.text
    assert written(app) == before


def test_replies_stay_in_their_context_module_and_need_an_own_answer(
    app: Flask, launcher: Launcher, pair: tuple[Learner, Learner]
) -> None:
    anna, _ = pair
    elsewhere = Learner.launch(launcher, sub="cleo", given_name="Cleo", **context_claim("course-2"))
    assert elsewhere.post("m/modul-a/praxis", {"text": "Antwort in einem anderen LMS-Kurs."}).ok
    newcomer = Learner.launch(launcher, sub="dora", given_name="Dora")
    before = written(app)
    # An answer of another course context, of another module, and a reply without an own answer.
    assert (
        elsewhere.post(
            "m/modul-a/austausch/antworten", {"antwort": str(answer_id(app, "anna")), "text": "Hallo"}
        ).status_code
        == 404
    )
    assert (
        anna.post(
            "m/modul-b/austausch/antworten", {"antwort": str(answer_id(app, "ben")), "text": "Hallo"}
        ).status_code
        == 404
    )
    refused = newcomer.post(
        "m/modul-a/austausch/antworten", {"antwort": str(answer_id(app, "anna")), "text": "Hallo"}
    )
    assert refused.status_code == 404 and "sobald Sie Ihre eigene Antwort eingereicht haben" in refused.text
    # Without the CSRF token.
    assert anna.post(
        "m/modul-a/austausch/antworten", {"antwort": str(answer_id(app, "ben")), "text": "Hallo"}, csrf=False
    ).status_code in (400, 403)
    assert anna.post("m/modul-a/austausch/kommune", {"kommune": "Düren"}, csrf=False).status_code in (
        400,
        403,
    )
    assert written(app) == before
    # The municipality is per course context: shown in the other context only when entered there.
    assert anna.post("m/modul-a/austausch/kommune", {"kommune": "Kreis Düren"}).ok
    assert "Kreis Düren" not in elsewhere.get("m/modul-a/austausch").text


def test_instructor_hides_an_answer_and_a_reply_with_a_reason_and_shows_them_again(
    app: Flask, launcher: Launcher, pair: tuple[Learner, Learner]
) -> None:
    anna, ben = pair
    anna_id = answer_id(app, "anna")
    assert ben.post(
        "m/modul-a/austausch/antworten",
        {"antwort": str(anna_id), "text": "Ein <i>unpassender</i> Kommentar."},
    ).ok
    with session_scope(app) as s:
        reply_id = s.scalars(select(ExchangeReply.id)).one()
    tanja = teacher(launcher)
    page = tanja.get("lehrende/austausch/modul-a")
    assert page.status_code == 200 and ANNA.replace("<", "&lt;").replace(">", "&gt;") in page.text
    assert "Ein &lt;i&gt;unpassender&lt;/i&gt; Kommentar." in page.text and "Anna Albers" in page.text

    hidden = tanja.post(
        "lehrende/austausch/modul-a/sichtbarkeit",
        {
            "art": "erwiderung",
            "beitrag": str(reply_id),
            "aktion": "ausblenden",
            "grund": "Bitte <sachlich> bleiben.",
        },
    )
    assert (
        hidden.status_code == 200 and "Der Beitrag ist vor den Teilnehmer*innen ausgeblendet." in hidden.text
    )
    assert "Grund: Bitte &lt;sachlich&gt; bleiben." in hidden.text and "Wieder anzeigen" in hidden.text
    assert "unpassender" not in anna.get("m/modul-a/austausch").text  # others do not see it
    own_view = ben.get("m/modul-a/austausch").text  # its author does, with the reason
    assert (
        "unpassender" in own_view
        and "Ihre Lehrperson hat dies vor den anderen ausgeblendet. Grund: Bitte &lt;sachlich&gt; bleiben."
        in own_view
    )

    assert tanja.post(
        "lehrende/austausch/modul-a/sichtbarkeit",
        {
            "art": "antwort",
            "beitrag": str(anna_id),
            "aktion": "ausblenden",
            "grund": "Enthält Namen Dritter.",
        },
    ).ok
    bens = ben.get("m/modul-a/austausch").text
    assert "Klimabeirat" not in bens and "Bisher hat eine Person" not in bens
    assert "Noch hat niemand sonst in Ihrem Kurs eine Antwort eingereicht." in bens
    annas = anna.get("m/modul-a/austausch").text
    assert "Ihre Lehrperson hat dies vor den anderen ausgeblendet. Grund: Enthält Namen Dritter." in annas
    # Nobody replies to a hidden answer.
    assert (
        ben.post(
            "m/modul-a/austausch/antworten", {"antwort": str(anna_id), "text": "Noch ein Kommentar."}
        ).status_code
        == 404
    )

    shown = tanja.post(
        "lehrende/austausch/modul-a/sichtbarkeit",
        {"art": "antwort", "beitrag": str(anna_id), "aktion": "einblenden"},
    )
    assert (
        shown.status_code == 200 and "Der Beitrag wird den Teilnehmer*innen wieder angezeigt." in shown.text
    )
    assert "Klimabeirat" in ben.get("m/modul-a/austausch").text
    with session_scope(app) as s:
        row = s.get_one(PracticeSubmission, anna_id)
        assert (row.hidden_at, row.hidden_by, row.hidden_reason) == (None, None, None)


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"grund": ""}, 422),
        ({"grund": " \x00 "}, 422),
        ({"grund": None}, 422),
        ({"grund": "x" * (exchange.REASON_MAX + 1)}, 422),
        ({"art": "beides"}, 404),
        ({"art": None}, 404),
        ({"aktion": "loeschen"}, 404),
        ({"beitrag": "abc"}, 404),
        ({"beitrag": "9" * 30}, 404),
        ({"beitrag": "999999"}, 404),
        ({"art": "erwiderung"}, 404),  # the answer's id is no reply's
    ],
)
def test_bad_moderation_is_refused_and_nothing_is_written(
    app: Flask, launcher: Launcher, pair: tuple[Learner, Learner], form: dict[str, str | None], status: int
) -> None:
    tanja = teacher(launcher)
    data = {
        "art": "antwort",
        "beitrag": str(answer_id(app, "anna")),
        "aktion": "ausblenden",
        "grund": "Grund.",
        **form,
    }
    before = written(app)
    page = tanja.post(
        "lehrende/austausch/modul-a/sichtbarkeit", {k: v for k, v in data.items() if v is not None}
    )
    assert page.status_code == status
    assert (
        ("Bitte nennen Sie einen Grund" in page.text or "Der Grund ist zu lang" in page.text)
        if status == 422
        else ("Diesen Beitrag gibt es auf dieser Austauschseite nicht." in page.text)
    )
    assert written(app) == before


def test_learners_and_other_contexts_cannot_moderate(
    app: Flask, launcher: Launcher, pair: tuple[Learner, Learner]
) -> None:
    _, ben = pair
    form = {
        "art": "antwort",
        "beitrag": str(answer_id(app, "anna")),
        "aktion": "ausblenden",
        "grund": "Weg damit.",
    }
    before = written(app)
    assert ben.post("lehrende/austausch/modul-a/sichtbarkeit", form).status_code == 403
    assert ben.get("lehrende/austausch/modul-a").status_code == 403
    other = teacher(launcher, sub="teacher-2", **context_claim("course-2"))
    assert other.post("lehrende/austausch/modul-a/sichtbarkeit", form).status_code == 404
    assert "Klimabeirat" not in other.get("lehrende/austausch/modul-a").text
    tanja = teacher(launcher)
    assert tanja.post("lehrende/austausch/modul-a/sichtbarkeit", form, csrf=False).status_code in (400, 403)
    assert tanja.get("lehrende/austausch/modul-x").status_code == 404
    assert written(app) == before


RLO, PDF, LRI, PDI, RLM = "\u202e", "\u202c", "\u2066", "\u2069", "\u200f"
BIDI = (RLO, PDF, LRI, PDI, "\u202a", "\u202b", "\u202d", "\u2067", "\u2068")


def test_bidi_overrides_are_dropped_from_texts_and_names(app: Flask, launcher: Launcher) -> None:
    """A right-to-left override in a post or a name reversed the text after it up to the end of its line (an
    author "Anna \u202eAlbers" showed as "Anna srebl…" and took along what followed). They are dropped from what
    learners type and from the names and titles platforms send (lti_tool/text.py); RLM, which overrides nothing,
    stays."""
    anna = Learner.launch(
        launcher,
        sub="anna",
        given_name=f"An{RLO}na",
        name=f"Anna {RLO}Albers{PDF}",
        family_name=f"{LRI}Albers",
    )
    ben = Learner.launch(launcher, sub="ben", given_name="Ben", name="Ben Berger")
    assert anna.post("m/modul-a/praxis", {"text": f"{RLO}{ANNA}{PDF} {RLM}"}).ok
    assert ben.post("m/modul-a/praxis", {"text": BEN}).ok
    assert ben.post("m/modul-a/austausch/kommune", {"kommune": f"{LRI}Düren{PDI}", "aktion": "speichern"}).ok
    reply = f"Spannend! {RLO}!tiebreA etuG{PDF} Wer sitzt im Beirat?"
    assert ben.post(
        "m/modul-a/austausch/antworten", {"antwort": str(answer_id(app, "anna")), "text": reply}
    ).ok
    pages = [
        anna.get("m/modul-a/austausch").text,
        ben.get("m/modul-a/austausch").text,
        teacher(launcher).get("lehrende/austausch/modul-a").text,
    ]
    for page in pages:
        assert not [c for c in BIDI if c in page], [hex(ord(c)) for c in BIDI if c in page]
    assert "Anna Albers" in pages[2] and "(Düren)" in pages[0] and "!tiebreA etuG" in pages[0]
    with session_scope(app) as s:
        texts = [
            *s.scalars(select(PracticeSubmission.text)),
            *s.scalars(select(ExchangeReply.text)),
            *s.scalars(select(ExchangeProfile.municipality)),
            *[v for row in s.execute(select(User.name, User.given_name, User.family_name)) for v in row if v],
        ]
    assert texts and not [t for t in texts if any(c in t for c in BIDI)], texts
    assert any(t.endswith(RLM) for t in texts)  # the mark stays


def test_new_replies_are_shown_on_the_overview_and_the_module_page(
    app: Flask, launcher: Launcher, pair: tuple[Learner, Learner]
) -> None:
    """A learner who wrote an answer learns on the pages they come back to (the overview a launch lands on, the
    module page) that a colleague replied, with a link to the replies; no longer once they have read them."""
    anna, ben = pair
    anna_id = answer_id(app, "anna")
    link = f'href="/s/{anna.sid}/m/modul-a/austausch#own-answer-title"'

    def pointed(learner: Learner) -> list[str]:
        found = []
        for path in ("uebersicht", "m/modul-a/"):
            page = learner.get(path)
            assert page.status_code == 200, (path, page.status_code)
            found += [line for line in page.text.splitlines() if "zu Ihrer Antwort</a>" in line]
        return found

    assert pointed(anna) == [] and pointed(ben) == []
    assert ben.post(
        "m/modul-a/austausch/antworten", {"antwort": str(anna_id), "text": "Wer sitzt im Beirat?"}
    ).ok
    shown = pointed(anna)
    assert len(shown) == 2 and all(
        link in line and "1 neuer Kommentar zu Ihrer Antwort" in line for line in shown
    )
    assert pointed(ben) == []  # he replied to Anna; nobody replied to him

    assert anna.get("m/modul-a/austausch").ok  # read now
    assert pointed(anna) == []
    assert ben.post(
        "m/modul-a/austausch/antworten", {"antwort": str(anna_id), "text": "Und die Verwaltung?"}
    ).ok
    assert ben.post("m/modul-a/austausch/antworten", {"antwort": str(anna_id), "text": "Danke!"}).ok
    shown = pointed(anna)
    assert len(shown) == 2 and all("2 neue Kommentare zu Ihrer Antwort" in line for line in shown)
    with session_scope(app) as s:
        last = s.scalars(select(ExchangeReply.id).order_by(ExchangeReply.id.desc())).first()
    hidden = teacher(launcher).post(
        "lehrende/austausch/modul-a/sichtbarkeit",
        {"art": "erwiderung", "beitrag": str(last), "aktion": "ausblenden", "grund": "Doppelt."},
    )
    assert hidden.status_code == 200
    shown = pointed(anna)  # a hidden reply is not hers to read
    assert len(shown) == 2 and all("1 neuer Kommentar zu Ihrer Antwort" in line for line in shown)


def test_the_own_answer_offers_a_reply_only_once_there_are_replies(
    app: Flask, pair: tuple[Learner, Learner]
) -> None:
    anna, ben = pair
    page = anna.get("m/modul-a/austausch").text
    own = page.split('class="own-thread"', 1)[1].split("</section>", 1)[0]
    assert "Noch keine Kommentare zu Ihrer Antwort." in own and "reply-form" not in own
    assert ben.post(
        "m/modul-a/austausch/antworten",
        {"antwort": str(answer_id(app, "anna")), "text": "Wer sitzt im Beirat?"},
    ).ok
    own = anna.get("m/modul-a/austausch").text.split('class="own-thread"', 1)[1].split("</section>", 1)[0]
    assert "Auf die Kommentare antworten" in own and "reply-form" in own


def exchange_page_as_rendered_afresh(
    app: Flask, learner: Learner, monkeypatch: pytest.MonkeyPatch
) -> requests.Response:
    """The learner's exchange page for modul-a as served (kept parts), after checking it is byte for byte the page
    rendered afresh (PAGE_CACHE off). The session's seconds left are fixed: the two requests may fall into two
    different seconds."""
    from lti_tool import fragments
    from lti_tool.auth import SessionClock

    monkeypatch.setattr(fragments, "session_clock", lambda: SessionClock(1234, 5678, 300))
    served = learner.http.get(learner.url("m/modul-a/austausch"))
    app.config["PAGE_CACHE"] = False
    try:
        afresh = learner.http.get(learner.url("m/modul-a/austausch"))
    finally:
        app.config["PAGE_CACHE"] = True
    assert served.status_code == afresh.status_code == 200
    assert served.text == afresh.text
    return served


def test_a_reply_written_while_the_page_is_made_stays_new(
    app: Flask, pair: tuple[Learner, Learner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exchange page marks as seen the replies it read, not all written until it records that: a reply that
    arrives between the page's read and that write was never shown, and is still new on the next visit (and on
    the overview)."""
    anna, ben = pair
    anna_id = answer_id(app, "anna")
    assert ben.post(
        "m/modul-a/austausch/antworten", {"antwort": str(anna_id), "text": "Wer sitzt im Beirat?"}
    ).ok
    read_page = exchange.read_page

    def read_then_reply(*args: Any, **kwargs: Any) -> Any:
        shown = read_page(*args, **kwargs)
        with session_scope(app, write=True) as s:  # Ben's second reply lands right after Anna's page read
            first = s.scalars(select(ExchangeReply).where(ExchangeReply.submission_id == anna_id)).one()
            s.add(
                ExchangeReply(
                    submission_id=anna_id,
                    user_id=first.user_id,
                    context_id=first.context_id,
                    course_id=first.course_id,
                    module_id=first.module_id,
                    text="Und die Verwaltung?",
                    created_at=utcnow(),
                )
            )
        return shown

    monkeypatch.setattr(exchange, "read_page", read_then_reply)
    page = anna.get("m/modul-a/austausch").text
    assert "Wer sitzt im Beirat?" in page and "Und die Verwaltung?" not in page
    monkeypatch.setattr(exchange, "read_page", read_page)
    assert "1 neuer Kommentar zu Ihrer Antwort" in anna.get("uebersicht").text
    page = anna.get("m/modul-a/austausch").text
    assert "1 neuer Kommentar zu Ihrer Antwort seit Ihrem letzten Besuch." in page


@pytest.mark.parametrize("locale", ["de", "en"])
def test_a_kept_answer_of_a_colleague_is_the_answer_rendered_afresh(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    """The colleagues' answers on the page are kept rendered (course/exchange_parts.py) with the reader's own
    reply address and CSRF token put in: every page equals the page rendered afresh; a reader after others is
    served their answers from what the others' visits kept; a reply, a municipality shown and a hidden reply
    change what is kept for that answer."""
    from lti_tool.course import exchange_parts

    from ..forms import csrf_token
    from ..peer import claim

    presentation = claim("launch_presentation", {"locale": locale})
    people = {
        sub: Learner.launch(launcher, sub=sub, given_name=sub.title(), **presentation)
        for sub in ("anna", "ben", "cara", "dan")
    }
    for sub in ("anna", "ben", "cara"):
        assert people[sub].post("m/modul-a/praxis", {"text": f"{ANNA} ({sub})"}).ok

    def kept() -> int:
        return len(app.extensions.get(exchange_parts._STORE) or ())

    def check(learner: Learner) -> str:
        served = exchange_page_as_rendered_afresh(app, learner, monkeypatch)
        forms = served.text.count('/m/modul-a/austausch/antworten"')
        assert forms and served.text.count(f'"/s/{learner.sid}/m/modul-a/austausch/antworten"') == forms
        assert csrf_token(served.text) == learner.csrf and "\ue000" not in served.text
        return served.text

    for sub in ("anna", "ben", "cara"):
        check(people[sub])
    assert kept() == 3  # each answer kept once, by the first colleague who read it
    assert people["dan"].post("m/modul-a/praxis", {"text": "Dans Antwort, lang genug für die Aufgabe."}).ok
    before = kept()
    page = check(people["dan"])  # the three others' answers, from what the others' visits kept
    assert kept() == before and page.count('class="peer-answer"') == 3
    assert "Anna" in page and "&lt;b&gt;und&lt;/b&gt;" in page
    # A reply, a municipality shown, an answer hidden: that answer is kept anew, the page still the fresh one.
    bens = str(answer_id(app, "ben"))
    assert people["anna"].post("m/modul-a/austausch/antworten", {"antwort": bens, "text": "Danke <Ben>!"}).ok
    assert "Danke &lt;Ben&gt;!" in check(people["cara"])
    assert people["ben"].post("m/modul-a/austausch/kommune", {"kommune": "Herne", "aktion": "speichern"}).ok
    assert "(Herne)" in check(people["cara"]) and "(Herne)" in check(people["dan"])
    with session_scope(app) as s:
        reply_id = s.scalars(select(ExchangeReply.id)).one()
    hidden = teacher(launcher).post(
        "lehrende/austausch/modul-a/sichtbarkeit",
        {"art": "erwiderung", "beitrag": str(reply_id), "aktion": "ausblenden", "grund": "Bitte sachlich."},
    )
    assert hidden.status_code == 200
    assert "Danke" not in check(people["dan"]) and "Danke" not in check(people["cara"])
    assert "Bitte sachlich." in check(people["anna"])  # its author sees it, with the reason


def test_kept_answers_stay_within_their_stores_characters(
    app: Flask, launcher: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process keeps colleagues' answers up to a number of characters (their text, held by the key, and their
    rendered HTML), not a number of answers: with room for about one answer the oldest kept goes, and every page
    is still the page rendered afresh."""
    from lti_tool.course import exchange_parts

    monkeypatch.setattr(exchange_parts, "_MAX_THREADS_CHARS", 6_000)
    people = [
        Learner.launch(launcher, sub=sub, given_name=sub.title()) for sub in ("anna", "ben", "cara", "dan")
    ]
    for learner in people:
        text = f"{ANNA} ({learner.sid[:4]}) " + "Mehr zur Kommune. " * 60
        assert learner.post("m/modul-a/praxis", {"text": text}).ok
    for learner in people:
        served = exchange_page_as_rendered_afresh(app, learner, monkeypatch)
        assert served.text.count('class="peer-answer"') == 3
        store = app.extensions[exchange_parts._STORE]
        assert 0 < store.chars <= 6_000 and 1 <= len(store) < 3
        assert store.chars == sum(store.sizes.values())

"""A learner in headless Chromium, inside the LMS's iframe on another site: launch, lessons, the quiz with the
keyboard only, the practice task, the exchange; axe-core (WCAG 2.1 A/AA) finds nothing on any page, at desktop
width and at 360 px."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from lti_tool.typography import hyphenate

from ..course.learner import Learner, layout_of, module
from .conftest import (
    BARE_BREAKS_JS,
    EmbeddingLms,
    assert_no_axe_violations,
    assert_no_bare_breaks,
    axe_violations,
    open_in_lms,
)

pytestmark = pytest.mark.browser


class Keyboard:
    """Moves through the tool's frame with Tab / Shift+Tab only, like a keyboard user."""

    def __init__(self, page: Any, frame: Any) -> None:
        self.page = page
        self.frame = frame

    def focused(self, selector: str) -> bool:
        return bool(
            self.frame.evaluate(
                "s => document.hasFocus() && !!document.activeElement && document.activeElement.matches(s)",
                selector,
            )
        )

    def _target_is_before_focus(self, selector: str) -> bool:
        return bool(
            self.frame.evaluate(
                """s => {
                    const target = document.querySelector(s), active = document.activeElement;
                    if (!document.hasFocus() || !active || active === document.body) return false;
                    return !!(active.compareDocumentPosition(target) & Node.DOCUMENT_POSITION_PRECEDING);
                }""",
                selector,
            )
        )

    def tab_to(self, selector: str, limit: int = 120) -> None:
        assert self.frame.query_selector(selector), f"nothing matches {selector}"
        key = "Shift+Tab" if self._target_is_before_focus(selector) else "Tab"
        for _ in range(limit):
            if self.focused(selector):
                return
            self.page.keyboard.press(key)
        raise AssertionError(f"could not reach {selector} with {key}")

    def activate(self, selector: str, key: str = "Enter") -> None:
        self.tab_to(selector)
        self.page.keyboard.press(key)

    def follow(self, selector: str, url_part: str) -> None:
        self.activate(selector)
        self.frame.wait_for_url(f"**{url_part}**")
        self.frame.wait_for_load_state()


def sticking_out(frame: Any) -> list[str]:
    """The innermost elements reaching past the right edge (for the failure message)."""
    return list(
        frame.evaluate(
            """() => {
                const width = document.documentElement.clientWidth, out = [];
                for (const e of document.querySelectorAll('body *')) {
                    const wide = [...e.children].some(c => c.getBoundingClientRect().right > width + 0.5);
                    const text = `${e.tagName.toLowerCase()}.${e.className}: ${(e.textContent || '').trim().slice(0, 40)}`;
                    if (e.getBoundingClientRect().right > width + 0.5 && !wide) out.push(text);
                    else if (e.scrollWidth > e.clientWidth + 0.5 && getComputedStyle(e).overflowX === 'visible')
                        out.push(`${text} (content ${e.scrollWidth - e.clientWidth}px wider)`);
                }
                return out.slice(0, 5);
            }"""
        )
    )


def check_page(frame: Any, label: str, width: int) -> None:
    assert_no_axe_violations(frame, f"{label} at {width}px")
    overflow = frame.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{label} scrolls sideways by {overflow}px at {width}px: {sticking_out(frame)}"
    assert frame.evaluate("document.querySelectorAll('h1').length") == 1, label
    assert_no_bare_breaks(frame, f"{label} at {width}px")


def answer_quiz_by_keyboard(app: Flask, keys: Keyboard) -> None:
    """Every question answered right, with Tab, Space and the arrow keys only."""
    frame, page = keys.frame, keys.page
    public_id = frame.get_attribute("input[name=versuch]", "value")
    layout = layout_of(app, public_id)
    for number, question in enumerate(module(app, "modul-a").quiz.questions, start=1):
        shown = layout[question.id]
        if question.kind in ("single", "truefalse"):
            position = shown.index(next(iter(question.correct_option_ids))) + 1
            keys.tab_to(f"#q{number}-1")  # Tab enters a radio group at its first radio
            if position == 1:
                page.keyboard.press("Space")
            for _ in range(position - 1):
                page.keyboard.press("ArrowDown")  # moves and selects
            assert frame.is_checked(f"#q{number}-{position}")
        elif question.kind == "multiple":
            for index, option_id in enumerate(shown, start=1):
                if option_id in question.correct_option_ids:
                    keys.activate(f"#q{number}-{index}", "Space")
                    assert frame.is_checked(f"#q{number}-{index}")
        else:
            # Place the right item at position 1, then 2, …: each arrow step swaps with the neighbour position
            # (learner.js), so the items already placed stay where they are.
            for wanted, option_id in enumerate(question.correct_order, start=1):
                select = f"#q{number}-{shown.index(option_id) + 1}"
                keys.tab_to(select)
                current = int(frame.input_value(select))
                for _ in range(current - wanted):
                    page.keyboard.press("ArrowUp")
                assert int(frame.input_value(select)) == wanted
            values = [int(frame.input_value(f"#q{number}-{i}")) for i in range(1, len(shown) + 1)]
            assert sorted(values) == list(range(1, len(shown) + 1))


@pytest.mark.parametrize("width", [1280, 360])
def test_learner_walks_a_module_in_the_lms_iframe(
    app: Flask, lms: EmbeddingLms, chromium: Any, width: int
) -> None:
    peer = Learner.launch(lms.http_launcher(), sub="peer-1", given_name="Jonas", name="Jonas Weber")
    peer.post("m/modul-a/praxis", {"text": "In unserer Kommune <b>gibt</b> es einen Klimabeirat."})

    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="de-DE")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        frame = open_in_lms(page, lms, "learner-1", given_name="Lea", name="Lea Schneider")
        keys = Keyboard(page, frame)

        # Landed on the overview inside the iframe, although the tool's cookies are third-party here.
        assert frame.url.startswith(lms.tool_url + "/s/")
        assert "Willkommen, Lea Schneider." in frame.inner_text("main")
        check_page(frame, "overview", width)

        keys.follow(".next-step a.button", "/m/modul-a/01-einstieg")
        assert "Seite 1 von 2" in frame.inner_text("main")
        check_page(frame, "lesson 1", width)
        keys.follow("a[rel=next]", "/m/modul-a/02-vertiefung")
        check_page(frame, "lesson 2", width)
        keys.follow(".pager__next a", "/m/modul-a/quiz")
        check_page(frame, "quiz", width)

        # Sending the quiz unanswered: the error summary gets the focus and links to the first question.
        keys.activate("form.quiz button[type=submit]")
        frame.wait_for_selector(".error-summary")
        # learner.js moves focus once the (deferred) script ran; wait for it rather than race it.
        frame.wait_for_function(
            "s => document.activeElement && document.activeElement.matches(s)", arg=".error-summary"
        )
        assert keys.focused(".error-summary")
        check_page(frame, "quiz with errors", width)

        answer_quiz_by_keyboard(app, keys)
        keys.activate("form.quiz button[type=submit]")
        frame.wait_for_url("**/m/modul-a/ergebnis**")
        frame.wait_for_load_state()
        assert keys.focused("#result-summary")  # the result is what a screen reader hears first
        assert "5 von 5" in frame.inner_text("#result-summary")
        check_page(frame, "quiz result", width)

        keys.follow("#result-summary a.button", "/m/modul-a/praxis")
        check_page(frame, "practice task", width)
        keys.tab_to("#practice-text")
        page.keyboard.type("Zu kurz.")
        keys.activate("main form button[type=submit]")
        frame.wait_for_selector(".error-summary")
        # learner.js moves focus once the (deferred) script ran; wait for it rather than race it.
        frame.wait_for_function(
            "s => document.activeElement && document.activeElement.matches(s)", arg=".error-summary"
        )
        assert keys.focused(".error-summary")
        check_page(frame, "practice task with error", width)
        keys.tab_to("#practice-text")
        page.keyboard.press("End")
        page.keyboard.type(" Unsere Kommune hat 2024 einen Nachhaltigkeitsbericht beschlossen.")
        keys.activate("main form button[type=submit]")
        frame.wait_for_url("**gespeichert=neu**")
        assert keys.focused(".notice[data-autofocus]")
        check_page(frame, "practice task saved", width)

        keys.follow(".notice a[href$='/austausch']", "/m/modul-a/austausch")
        text = frame.inner_text("main")
        assert "Jonas" in text and "<b>gibt</b>" in text and "Weber" not in text
        check_page(frame, "exchange", width)

        keys.follow(".breadcrumbs li:nth-child(2) a", "/m/modul-a/")
        assert "Sie haben dieses Modul abgeschlossen." in frame.inner_text("main")
        check_page(frame, "module page", width)

        # The language switch works from the learner pages, inside the iframe too.
        keys.activate(".language-switch button[value=en]")
        # A function, not an expression string: polling an expression needs eval, which our CSP forbids.
        frame.wait_for_function("() => document.documentElement.lang === 'en'")
        assert "You have completed this module." in frame.inner_text("main")
        check_page(frame, "module page in English", width)
        keys.follow(".breadcrumbs li:first-child a", "/uebersicht")
        check_page(frame, "overview in English", width)
    finally:
        context.close()


def test_axe_harness_reports_a_known_violation(chromium: Any) -> None:
    """The check above means something: the same harness flags an unlabelled field."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_content(
            "<!doctype html><html lang='de'><title>t</title><main><input type='text'></main></html>"
        )
        assert "label" in [v["id"] for v in axe_violations(page)]
    finally:
        context.close()


def test_bare_break_harness_tells_a_torn_word_from_a_hyphenated_one(chromium: Any) -> None:
    """The break check above means something: at 200 px it flags a compound torn without a hyphen and passes the
    same word with the soft hyphens the server puts in."""
    context = chromium.new_context(viewport={"width": 200, "height": 400})
    try:
        page = context.new_page()
        style = "<style>h1 { font: bold 26px sans-serif; overflow-wrap: break-word; }</style>"
        page.set_content(f"<!doctype html><html lang='de'>{style}<h1>Nachhaltigkeitsmanagement</h1></html>")
        assert "Nachhaltigkeitsmanagement" in " ".join(page.evaluate(BARE_BREAKS_JS))
        hyphenated = str(hyphenate("Nachhaltigkeitsmanagement"))
        page.set_content(f"<!doctype html><html lang='de'>{style}<h1>{hyphenated}</h1></html>")
        assert page.evaluate(BARE_BREAKS_JS) == []
        assert page.evaluate("document.querySelector('h1').getClientRects().length") >= 1
    finally:
        context.close()

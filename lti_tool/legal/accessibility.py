"""What the accessibility statement says about the tool itself: the standard, how it was checked, when, and
what is not (yet) accessible.

The statement follows the model of Commission Implementing Decision (EU) 2018/1523 and the contents § 10b(2)
BGG NRW asks of public bodies in North Rhine-Westphalia (for federal bodies: § 12b(2) BGG with § 7 BITV 2.0):
the parts not fully accessible with reasons and alternatives, a feedback contact, and a link to the
enforcement procedure with its body's contact details (from the operator's settings, settings.py). BITV 2.0 and
BITVNRW both refer to the harmonised standard EN 301 549, which asks WCAG 2.1 level AA of web pages.

Every check named in `CHECKS` is a browser test in tests/browser (tests/legal/test_accessibility.py fails when
one disappears); update TESTED_ON when the checks or the pages change and the suite has passed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..i18n import LazyText
from ..i18n import lazy_gettext as _l

TESTED_ON = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)  # noon: the same day in Berlin


@dataclass(frozen=True)
class Check:
    what: LazyText
    test_file: str  # under tests/browser


@dataclass(frozen=True)
class Statement:
    tested_on: dt.datetime
    checks: tuple[Check, ...]
    gaps: tuple[tuple[LazyText, LazyText], ...]  # (what is not accessible, why / the alternative)


STATEMENT = Statement(
    tested_on=TESTED_ON,
    checks=(
        Check(
            _l(
                "Learner pages inside the learning platform's frame: overview, lessons, quiz, results, practice "
                "task, exchange, glossary, course pages, certificate; keyboard-only quiz completion"
            ),
            "test_learner_a11y.py",
        ),
        Check(
            _l(
                "Quiz results, ordering questions with move buttons, locked quiz, question pools; text spacing "
                "at 320 px; forced colours"
            ),
            "test_assessment_a11y.py",
        ),
        Check(_l("Reference pages, model answers and the exchange"), "test_reference_a11y.py"),
        Check(_l("Certificate page and the public check page"), "test_certificate_a11y.py"),
        Check(
            _l("Gradebook, a learner's page and the review of a practice task (instructors)"),
            "test_gradebook_a11y.py",
        ),
        Check(
            _l(
                "The review of a practice task as a dialogue (asking for a revision, revising, accepting) and "
                "the list of tasks waiting for review, by keyboard only, for instructors and learners"
            ),
            "test_review_dialogue_a11y.py",
        ),
        Check(
            _l(
                "The exchange with replies and the municipality, and hiding a post as an instructor, by keyboard "
                "only"
            ),
            "test_exchange_a11y.py",
        ),
        Check(_l("Operator area, with its main tasks done by keyboard only"), "test_admin_a11y.py"),
        Check(_l("The warning before a session ends, answered by keyboard"), "test_session_a11y.py"),
        Check(
            _l("Privacy notice, imprint, this statement and the data-flow description"), "test_legal_a11y.py"
        ),
        Check(_l("Guides for LMS administrators, teachers and learners"), "test_guides_a11y.py"),
        Check(
            _l("The tool's header and breadcrumbs on a phone, inside the LMS's frame"), "test_chrome_a11y.py"
        ),
        Check(
            _l("The certification register, searched, filtered and used by keyboard"), "test_register_a11y.py"
        ),
    ),
    gaps=(
        (
            _l(
                "The conformance was checked by automated tests (axe-core, the WCAG 2.0 and 2.1 A and AA rules) "
                "and scripted keyboard tests, not by a complete BITV test with its manual test steps, and not "
                "with screen readers by people who use them."
            ),
            _l(
                "Automated checks find only part of the possible barriers. Please tell us about any barrier "
                "you meet (see Feedback below)."
            ),
        ),
        (
            _l("The course review document for operators as PDF (operator area) is not a tagged PDF."),
            _l("The same document is offered as an accessible HTML page next to the PDF."),
        ),
        (
            _l(
                "The course text is in German only; the interface is available in German and English. There "
                "are no explanations in German Sign Language or Easy Language (Leichte Sprache)."
            ),
            _l(
                "The course is written for German-speaking municipal staff; please ask us if you need the "
                "content in another form."
            ),
        ),
    ),
)
